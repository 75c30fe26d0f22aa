/**
 * The kernel calls a forward pass makes, in the engine's terms (weights, token columns), over the wasm core of
 * src/core. Architectures call these; only this file knows how ops are encoded for the core.
 */
import { Core } from '../../core/core.ts';
import { type Executor, InlineExecutor } from '../../core/executor.ts';
import { hostHasThreads, PoolExecutor } from '../../core/pool.ts';
import { CoreOps } from '../../core/ops.ts';
import type { Weight } from './model.ts';

export interface AttentionCall {
  q: number;
  qStride: number;
  kCache: number;
  /** Transposed V cache (see kvStore): kv head g, dim d, cell c at vCache + ((g*headDimV + d)*vStride + c) halves. */
  vCache: number;
  /** The V cache's cell capacity (its row stride in halves). */
  vStride: number;
  out: number;
  outStride: number;
  nTokens: number;
  nHead: number;
  nHeadKv: number;
  headDimK: number;
  headDimV: number;
  nCells: number;
  cellPos: number;
  qPos: number;
  scale: number;
  window: number;
  softcap: number;
}

export interface Kernels {
  /** Allocate bytes of wasm memory (64-byte aligned) for the life of the model. */
  alloc(bytes: number): number;
  u8(ptr: number, n: number): Uint8Array;
  i32(ptr: number, n: number): Int32Array;
  f32(ptr: number, n: number): Float32Array;
  /** Pointer to int32 [0, 1, ..., n-1] (cell positions of a cache that keeps every position). */
  identityPositions(n: number): number;
  /** out[j] = row ids[j] of w as f32 (embedding lookup). */
  getRows(w: Weight, ids: number, n: number, out: number): void;
  rmsNorm(x: number, w: number, out: number, k: number, nRows: number, eps: number): void;
  /** y[j][r] = W[r] · x[j] for nCols token columns of W.cols floats. */
  matmul(w: Weight, x: number, nCols: number, y: number): void;
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
  close(): Promise<void>;
}

export interface KernelOptions {
  threads: number;
  /** Bytes to reserve up front (weights + scratch), so the memory grows once. */
  reserveBytes: number;
}

export async function createKernels(module: WebAssembly.Module, options: KernelOptions): Promise<Kernels> {
  if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be ≥ 1 (got ${options.threads})`);
  const core = new Core(module, { initialBytes: options.reserveBytes });
  // workerd has no threads: it always runs inline, whatever was asked
  const executor: Executor =
    options.threads > 1 && hostHasThreads() ? await PoolExecutor.create(core, options.threads) : new InlineExecutor(core.exports);
  const ops = new CoreOps(core, executor);
  let identity = { ptr: 0, n: 0 };
  return {
    alloc: (bytes) => core.alloc(bytes),
    u8: (ptr, n) => core.u8(ptr, n),
    i32: (ptr, n) => core.i32(ptr, n),
    f32: (ptr, n) => core.f32(ptr, n),
    identityPositions(n) {
      if (n > identity.n) {
        const size = Math.max(n, identity.n * 2, 1024);
        const ptr = core.alloc(size * 4);
        const view = core.i32(ptr, size);
        for (let i = 0; i < size; i++) view[i] = i;
        identity = { ptr, n: size };
      }
      return identity.ptr;
    },
    getRows: (w, ids, n, out) => ops.getRows(w.type, w.ptr, w.cols, w.rows, ids, n, out),
    rmsNorm: (x, w, out, k, nRows, eps) => ops.rmsNorm(x, w, out, k, nRows, eps),
    matmul: (w, x, nCols, y) => ops.matmul(w.type, w.ptr, w.cols, w.rows, x, nCols, y),
    rope: (x, nTokens, nHeads, headDim, nRot, xStride, cosSin, mode) => ops.rope(x, nTokens, nHeads, headDim, nRot, xStride, cosSin, mode),
    kvStore: (src, srcStride, dst, width, nTokens, cells, vStride) => ops.kvStore(src, srcStride, dst, width, nTokens, cells, vStride),
    attention: (call) => ops.attention(call),
    siluMul: (a, b, out, n) => ops.siluMul(a, b, out, n),
    geluMul: (a, b, out, n) => ops.geluMul(a, b, out, n),
    add: (a, b, out, n) => ops.add(a, b, out, n),
    mul: (a, b, out, n) => ops.mul(a, b, out, n),
    scale: (a, s, out, n) => ops.scale(a, s, out, n),
    softcap: (a, cap, out, n) => ops.softcap(a, cap, out, n),
    threads: executor.threads,
    close: async () => {
      if (executor instanceof PoolExecutor) await executor.close();
    },
  };
}
