/**
 * The TypeScript mirror of the core's ABI (wasm/hearth.h): weight types with their block layout, op ids, flags.
 * The C side's traits table (wasm/src/traits.c) is the other half; tests hold the two together.
 */

export const WeightType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 8,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
  /** hearth's own, not a ggml id: Q4_0 with rows interleaved in groups of 4 (wasm/hearth.h; the loader repacks to it) */
  Q4_0_X4: 64,
} as const;
/** hearth.h HEARTH_INTERLEAVE_MAX_K: wider Q4_0 matrices stay Q4_0 */
export const INTERLEAVE_MAX_K = 65536;
export type WeightTypeId = (typeof WeightType)[keyof typeof WeightType];

export interface WeightTraits {
  id: WeightTypeId;
  name: string;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

export const weightTraits: ReadonlyMap<number, WeightTraits> = new Map(
  (
    [
      [WeightType.F32, 'f32', 1, 4],
      [WeightType.F16, 'f16', 1, 2],
      [WeightType.BF16, 'bf16', 1, 2],
      [WeightType.Q4_0, 'q4_0', 32, 18],
      [WeightType.Q4_1, 'q4_1', 32, 20],
      [WeightType.Q8_0, 'q8_0', 32, 34],
      [WeightType.Q4_K, 'q4_K', 256, 144],
      [WeightType.Q5_K, 'q5_K', 256, 176],
      [WeightType.Q6_K, 'q6_K', 256, 210],
      [WeightType.Q4_0_X4, 'q4_0x4', 32, 18],
    ] as const
  ).map(([id, name, blockSize, blockBytes]) => [id, { id, name, blockSize, blockBytes }]),
);

export const Op = {
  QUANTIZE_ACT: 1,
  MATMUL: 2,
  GET_ROWS: 3,
  RMS_NORM: 4,
  ROPE: 5,
  KV_STORE: 6,
  ATTENTION: 7,
  SILU_MUL: 8,
  GELU_MUL: 9,
  ADD: 10,
  MUL: 11,
  SCALE: 12,
  SOFTMAX: 13,
  SOFTCAP: 14,
  EXP: 15,
  TANH: 16,
  LAYER_NORM: 17,
  MATMUL_TILED: 18,
} as const;

export const ABI_VERSION = 4;
/** Stack each extra instance (pool worker) over the same memory needs (HEARTH_STACK_BYTES). */
export const STACK_BYTES = 65536;
export const ROPE_NORM = 0;
export const ROPE_NEOX = 2;
/** args_attention.flags: cells after the query position are visible. */
export const ATTN_NONCAUSAL = 1;
/** args_attention.flags: llama.cpp's batched (tinyBLAS) summation order for K·q and V·p (image blocks). */
export const ATTN_TILED = 2;

export class CoreError extends Error {
  override name = 'CoreError';
}

export function traitsOf(type: number): WeightTraits {
  const t = weightTraits.get(type);
  if (!t) throw new CoreError(`weight type ${type} is not supported by the core`);
  return t;
}

/** Bytes of one row of k elements of a weight type. */
export function rowBytes(type: number, k: number): number {
  const t = traitsOf(type);
  if (k <= 0 || k % t.blockSize) throw new CoreError(`row length ${k} is not a positive multiple of ${t.name}'s block size ${t.blockSize}`);
  return (k / t.blockSize) * t.blockBytes;
}
