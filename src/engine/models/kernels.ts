/**
 * The kernel calls a forward pass makes, in the engine's terms (weights, token columns), over the wasm core of
 * src/core. Architectures call these; only this file knows how ops are encoded for the core.
 *
 * Memory groups (DESIGN §3): a wasm32 memory holds at most 4 GiB, so a bigger model is spread over several cores,
 * each its own memory holding whole layers (their weights and KV cache). Pointers say where they live:
 *  - a plain offset (< 2^32) is "shared": the same offset is reserved in every group (scratch activations, inputs),
 *    so a forward pass can move from one group to the next by copying only the live state (the residual stream);
 *  - a group pointer carries its group above bit 32 (weights, KV caches). Ops run in the current group (`use`),
 *    and a pointer of another group is an error, never a silent read of the wrong memory.
 */
import { Core } from '../../core/core.ts';
import { type Executor, InlineExecutor } from '../../core/executor.ts';
import { hostHasThreads, PoolExecutor } from '../../core/pool.ts';
import { type AttentionArgs, CoreOps } from '../../core/ops.ts';
import type { Weight } from './model.ts';

/** The attention op's arguments, in the engine's pointers (shared or group; see above). */
export type AttentionCall = AttentionArgs;

export interface Kernels {
  /** Memories the model is spread over (1 for models that fit one). */
  readonly groups: number;
  /** The group ops run in now. */
  readonly current: number;
  /** Switch to another group, copying the live regions [ptr, bytes] of shared memory from the current one. */
  use(group: number, carry?: readonly (readonly [number, number])[]): void;
  /** Copy a shared region from the current group to every other (inputs written once per forward). */
  broadcast(ptr: number, bytes: number): void;
  /** The group a pointer belongs to (-1: shared). */
  groupOf(ptr: number): number;
  /** Allocate bytes (64-byte aligned) for the life of the model: in `group`, or shared when group is omitted. */
  alloc(bytes: number, group?: number): number;
  /** Views: of the pointer's own group, or of the current group for shared pointers. */
  u8(ptr: number, n: number): Uint8Array;
  i32(ptr: number, n: number): Int32Array;
  f32(ptr: number, n: number): Float32Array;
  /** Pointer to int32 [0, 1, ..., n-1] (cell positions of a cache that keeps every position). */
  identityPositions(n: number): number;
  /** Rewrite a loaded Q4_0 matrix in place as Q4_0_X4 (core/repack.ts; only where loadedType says so). */
  interleaveQ4_0(ptr: number, k: number, rows: number): void;
  /** out[j] = row ids[j] of w as f32 (embedding lookup). */
  getRows(w: Weight, ids: number, n: number, out: number): void;
  rmsNorm(x: number, w: number, out: number, k: number, nRows: number, eps: number): void;
  /** LayerNorm (ggml_norm, then * w, + b; w/b 0 = none) over nRows rows of k floats. */
  layerNorm(x: number, w: number, b: number, out: number, k: number, nRows: number, eps: number): void;
  /** y[j][r] = W[r] · x[j] for nCols token columns of W.cols floats. */
  matmul(w: Weight, x: number, nCols: number, y: number): void;
  /** matmul with llama.cpp's batched float gemm numerics (F32/F16 weights; see CoreOps.matmulTiled). */
  matmulTiled(w: Weight, x: number, nCols: number, y: number): void;
  rope(x: number, nTokens: number, nHeads: number, headDim: number, nRot: number, xStride: number, cosSin: number, mode: number): void;
  /** Rows into f16 cache cells; vStride 0: row layout (K), vStride = cell capacity: transposed (V). */
  kvStore(src: number, srcStride: number, dst: number, width: number, nTokens: number, cells: number, vStride?: number): void;
  attention(call: AttentionCall): void;
  siluMul(a: number, b: number, out: number, n: number): void;
  /** out = gelu_tanh(a) * b with ggml's f16-table GELU (gemma). */
  geluMul(a: number, b: number, out: number, n: number): void;
  add(a: number, b: number, out: number, n: number): void;
  mul(a: number, b: number, out: number, n: number): void;
  /** out = a * s (f32). */
  scale(a: number, s: number, out: number, n: number): void;
  /** out = tanhf(a * (1/cap)) * cap (final logit soft-cap). */
  softcap(a: number, cap: number, out: number, n: number): void;
  /** Threads the kernels run on. */
  readonly threads: number;
  /** Bytes in use per group (weights, caches, scratch). */
  usage(): { group: number; usedBytes: number }[];
  close(): Promise<void>;
}

export interface KernelOptions {
  threads: number;
  /** Bytes to reserve up front in each group (weights + scratch), so each memory grows once. */
  reserveBytes: number[];
  /** The kernels' scratch to set aside in each group now, so it never grows (and leaks) mid-forward. */
  scratchBytes?: number;
}

const SPAN = 2 ** 32;

export async function createKernels(module: WebAssembly.Module, options: KernelOptions): Promise<Kernels> {
  if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be ≥ 1 (got ${options.threads})`);
  if (options.reserveBytes.length < 1) throw new RangeError('at least one memory group');
  // workerd has no threads: it always runs inline, whatever was asked
  const pooled = options.threads > 1 && hostHasThreads();
  const cores: Core[] = [];
  const executors: Executor[] = [];
  const opsByGroup: CoreOps[] = [];
  try {
    for (const reserve of options.reserveBytes) {
      const core = new Core(module, { initialBytes: reserve });
      const executor: Executor = pooled ? await PoolExecutor.create(core, options.threads) : new InlineExecutor(core.exports);
      cores.push(core);
      executors.push(executor);
      const ops = new CoreOps(core, executor);
      if (options.scratchBytes) ops.scratch(options.scratchBytes);
      opsByGroup.push(ops);
    }
  } catch (err) {
    for (const e of executors) if (e instanceof PoolExecutor) await e.close();
    throw err;
  }
  let current = 0;
  let ops = opsByGroup[0];
  const identity = { ptr: 0, n: 0 };

  const groupOf = (ptr: number) => (ptr >= SPAN ? Math.floor(ptr / SPAN) - 1 : -1);
  /** The offset an op gets; a pointer into another group than the current one is a bug in the caller. */
  const real = (ptr: number): number => {
    if (ptr < SPAN) return ptr;
    const g = Math.floor(ptr / SPAN) - 1;
    if (g !== current) throw new Error(`kernels: a pointer of memory group ${g} was used while group ${current} is current`);
    return ptr - (g + 1) * SPAN;
  };
  const coreOf = (ptr: number) => cores[ptr >= SPAN ? Math.floor(ptr / SPAN) - 1 : current];
  const offset = (ptr: number) => (ptr >= SPAN ? ptr % SPAN : ptr);
  const allocShared = (bytes: number): number => {
    // the same offset in every group: bring every bump pointer to the highest first
    const top = Math.max(...cores.map((c) => c.used));
    let ptr = -1;
    for (const c of cores) {
      if (c.used < top) c.alloc(top - c.used, 1);
      const p = c.alloc(bytes);
      if (ptr >= 0 && p !== ptr) throw new Error('kernels: shared allocation diverged between groups');
      ptr = p;
    }
    return ptr;
  };
  const w = (weight: Weight) => [weight.type, real(weight.ptr), weight.cols, weight.rows] as const;

  return {
    groups: cores.length,
    get current() {
      return current;
    },
    use(group, carry = []) {
      if (group === current) return;
      if (!(group >= 0 && group < cores.length)) throw new RangeError(`no memory group ${group}`);
      for (const [ptr, bytes] of carry) {
        cores[group].u8(real(ptr), bytes).set(cores[current].u8(real(ptr), bytes));
      }
      current = group;
      ops = opsByGroup[group];
    },
    broadcast(ptr, bytes) {
      const from = cores[current].u8(real(ptr), bytes);
      cores.forEach((c, g) => {
        if (g !== current) c.u8(ptr, bytes).set(from);
      });
    },
    groupOf,
    alloc(bytes, group) {
      if (group === undefined) return allocShared(bytes);
      if (!(group >= 0 && group < cores.length)) throw new RangeError(`no memory group ${group}`);
      return (group + 1) * SPAN + cores[group].alloc(bytes);
    },
    u8: (ptr, n) => coreOf(ptr).u8(offset(ptr), n),
    i32: (ptr, n) => coreOf(ptr).i32(offset(ptr), n),
    f32: (ptr, n) => coreOf(ptr).f32(offset(ptr), n),
    identityPositions(n) {
      if (n > identity.n) {
        const size = Math.max(n, identity.n * 2, 1024);
        const ptr = allocShared(size * 4);
        for (const c of cores) {
          const view = c.i32(ptr, size);
          for (let i = 0; i < size; i++) view[i] = i;
        }
        identity.ptr = ptr;
        identity.n = size;
      }
      return identity.ptr;
    },
    interleaveQ4_0(ptr, k, rows) {
      // in the pointer's own group, whichever is current (the loader places every group's tensors in turn)
      if (!coreOf(ptr).exports.hearth_interleave_q4_0(offset(ptr), k, rows)) throw new RangeError(`interleaveQ4_0: k = ${k} is out of range`);
    },
    getRows: (weight, ids, n, out) => ops.getRows(...w(weight), real(ids), n, real(out)),
    rmsNorm: (x, wt, out, k, nRows, eps) => ops.rmsNorm(real(x), wt === 0 ? 0 : real(wt), real(out), k, nRows, eps),
    layerNorm: (x, wt, b, out, k, nRows, eps) =>
      ops.layerNorm(real(x), wt === 0 ? 0 : real(wt), b === 0 ? 0 : real(b), real(out), k, nRows, eps),
    matmul: (weight, x, nCols, y) => {
      const [type, ptr, cols, rows] = w(weight);
      ops.matmul(type, ptr, cols, rows, real(x), nCols, real(y));
    },
    matmulTiled: (weight, x, nCols, y) => {
      const [type, ptr, cols, rows] = w(weight);
      ops.matmulTiled(type, ptr, cols, rows, real(x), nCols, real(y));
    },
    rope: (x, nTokens, nHeads, headDim, nRot, xStride, cosSin, mode) =>
      ops.rope(real(x), nTokens, nHeads, headDim, nRot, xStride, real(cosSin), mode),
    kvStore: (src, srcStride, dst, width, nTokens, cells, vStride) =>
      ops.kvStore(real(src), srcStride, real(dst), width, nTokens, real(cells), vStride),
    attention: (call) =>
      ops.attention({
        ...call,
        q: real(call.q),
        kCache: real(call.kCache),
        vCache: real(call.vCache),
        out: real(call.out),
        cellPos: real(call.cellPos),
        qPos: real(call.qPos),
      }),
    siluMul: (a, b, out, n) => ops.siluMul(real(a), real(b), real(out), n),
    geluMul: (a, b, out, n) => ops.geluMul(real(a), real(b), real(out), n),
    add: (a, b, out, n) => ops.add(real(a), real(b), real(out), n),
    mul: (a, b, out, n) => ops.mul(real(a), real(b), real(out), n),
    scale: (a, sc, out, n) => ops.scale(real(a), sc, real(out), n),
    softcap: (a, cap, out, n) => ops.softcap(real(a), cap, real(out), n),
    threads: executors[0].threads,
    usage: () => cores.map((c, group) => ({ group, usedBytes: c.used })),
    close: async () => {
      for (const e of executors) if (e instanceof PoolExecutor) await e.close();
    },
  };
}
