/**
 * The ggml tensor type table (spec gguf.md §2): one row per type id that may appear in a GGUF tensor info. Mirrors
 * the C core's table in wasm/ (enum hearth_type); `supported` marks the types the core has kernels for.
 */

export interface GgmlType {
  id: number;
  /** ggml's own type name ("q4_0", "bf16", ...), as llama.cpp prints it. */
  name: string;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  /** Whether hearth's core can run matrices of this type. */
  supported: boolean;
}

export const GGML_TYPE = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q8_1: 9,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, Q8_K: 15,
  IQ2_XXS: 16, IQ2_XS: 17, IQ3_XXS: 18, IQ1_S: 19, IQ4_NL: 20, IQ3_S: 21, IQ2_S: 22, IQ4_XS: 23,
  I8: 24, I16: 25, I32: 26, I64: 27, F64: 28, IQ1_M: 29, BF16: 30,
  TQ1_0: 34, TQ2_0: 35, MXFP4: 39, NVFP4: 40, Q1_0: 41, Q2_0: 42,
} as const;

export type GgmlTypeId = (typeof GGML_TYPE)[keyof typeof GGML_TYPE];

const QK_K = 256;

// [id, name, blockSize, typeSize, supported]; sizes from the block structs of ggml-common.h.
const rows: [number, string, number, number, boolean][] = [
  [0, 'f32', 1, 4, true],
  [1, 'f16', 1, 2, true],
  [2, 'q4_0', 32, 18, true],
  [3, 'q4_1', 32, 20, true],
  [6, 'q5_0', 32, 22, false],
  [7, 'q5_1', 32, 24, false],
  [8, 'q8_0', 32, 34, true],
  [9, 'q8_1', 32, 36, false],
  [10, 'q2_K', QK_K, 84, false],
  [11, 'q3_K', QK_K, 110, false],
  [12, 'q4_K', QK_K, 144, true],
  [13, 'q5_K', QK_K, 176, true],
  [14, 'q6_K', QK_K, 210, true],
  [15, 'q8_K', QK_K, 292, false],
  [16, 'iq2_xxs', QK_K, 66, false],
  [17, 'iq2_xs', QK_K, 74, false],
  [18, 'iq3_xxs', QK_K, 98, false],
  [19, 'iq1_s', QK_K, 50, false],
  [20, 'iq4_nl', 32, 18, false],
  [21, 'iq3_s', QK_K, 110, false],
  [22, 'iq2_s', QK_K, 82, false],
  [23, 'iq4_xs', QK_K, 136, false],
  [24, 'i8', 1, 1, false],
  [25, 'i16', 1, 2, false],
  [26, 'i32', 1, 4, false],
  [27, 'i64', 1, 8, false],
  [28, 'f64', 1, 8, false],
  [29, 'iq1_m', QK_K, 56, false],
  [30, 'bf16', 1, 2, true],
  [34, 'tq1_0', QK_K, 54, false],
  [35, 'tq2_0', QK_K, 66, false],
  [39, 'mxfp4', 32, 17, false],
  [40, 'nvfp4', 64, 36, false],
  [41, 'q1_0', 128, 18, false],
  [42, 'q2_0', 64, 18, false],
];

const byId = new Map<number, GgmlType>(
  rows.map(([id, name, blockSize, typeSize, supported]) => [id, { id, name, blockSize, typeSize, supported }]),
);

/** The table row for a type id, or undefined for retired/unknown ids (4, 5, 31–33, 36–38, ≥ 43). */
export function ggmlType(id: number): GgmlType | undefined {
  return byId.get(id);
}

/** All known types, by id. */
export const ggmlTypes: readonly GgmlType[] = [...byId.values()];

/** Bytes taken by `elements` values of a type (elements must be a multiple of its block size). */
export function ggmlByteSize(type: GgmlType, elements: number): number {
  return (elements / type.blockSize) * type.typeSize;
}

/** GGUF metadata value type ids (spec gguf.md §1.1). */
export const GGUF_TYPE = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9,
  UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

export type GgufValueTypeId = (typeof GGUF_TYPE)[keyof typeof GGUF_TYPE];

const valueTypeNames = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY',
  'UINT64', 'INT64', 'FLOAT64'];

export function ggufTypeName(id: number): string {
  return valueTypeNames[id] ?? `type ${id}`;
}
