/**
 * One small function per core op: it checks its arguments, writes the op's argument struct (wasm/hearth.h; field
 * order is the ABI) into a reserved args area and runs it through the executor. Pointers are byte offsets into the
 * core's memory. matmul() is the convenient form: it quantizes f32 activations into a scratch region first.
 */
import type { Core } from './core.ts';
import type { Executor } from './executor.ts';
import { CoreError, Op, rowBytes } from './types.ts';

export interface AttentionArgs {
  q: number;
  qStride: number;
  /** f16 K cache, row layout: cell c, kv head g at kCache + (c*nHeadKv + g)*headDimK halves. */
  kCache: number;
  /** f16 V cache, transposed: kv head g, dim d, cell c at vCache + ((g*headDimV + d)*vStride + c) halves. */
  vCache: number;
  /** Cell capacity of the transposed V cache (its row stride in halves). */
  vStride: number;
  out: number;
  outStride: number;
  nTokens: number;
  nHead: number;
  nHeadKv: number;
  headDimK: number;
  headDimV: number;
  nCells: number;
  /** int32[nCells]: position held by each cell, -1 for an empty cell. */
  cellPos: number;
  /** int32[nTokens]: position of each query token. */
  qPos: number;
  scale: number;
  /** Sliding window (0 = none): a cell is visible while qPos - cellPos < window. */
  window: number;
  /** Logit soft-cap (0 = none). */
  softcap: number;
  /** ATTN_NONCAUSAL to see cells after the query position. */
  flags?: number;
}

const ARGS_BYTES = 128;

export class CoreOps {
  private readonly argsPtr: number;
  private readonly u32: Uint32Array;
  private readonly f32: Float32Array;
  private scratchPtr = 0;
  private scratchBytes = 0;

  constructor(
    readonly core: Core,
    readonly executor: Executor,
  ) {
    this.argsPtr = core.alloc(ARGS_BYTES, 64);
    // The args area never moves, and views of a shared memory stay valid for their range after it grows.
    this.u32 = core.u32(this.argsPtr, ARGS_BYTES / 4);
    this.f32 = core.f32(this.argsPtr, ARGS_BYTES / 4);
  }

  /** Bytes one activation column of k values takes after quantizeAct for this weight type. */
  actBytes(wtype: number, k: number): number {
    rowBytes(wtype, k);
    return this.core.exports.hearth_act_row_bytes(wtype, k);
  }

  /** A scratch region of at least `bytes`, reused across calls (grown by allocating a new one). */
  scratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      this.scratchBytes = Math.max(bytes, this.scratchBytes * 2);
      this.scratchPtr = this.core.alloc(this.scratchBytes, 64);
    }
    return this.scratchPtr;
  }

  quantizeAct(wtype: number, x: number, xq: number, k: number, nCols: number): void {
    rowBytes(wtype, k);
    this.call(Op.QUANTIZE_ACT, 'uuuuu', [wtype, x, xq, k, nCols], nCols === 1);
  }

  /** y[j*yStride + r] = W row r · column j of xq (as produced by quantizeAct). */
  matmulQuantized(wtype: number, w: number, k: number, nRows: number, xq: number, nCols: number, y: number, yStride = nRows): void {
    rowBytes(wtype, k);
    this.call(Op.MATMUL, 'uuuuuuuuu', [wtype, w, k, nRows, xq, nCols, y, yStride, 0]);
  }

  /** y[j*yStride + r] = W row r · x column j, for f32 columns x + j*k*4 (quantized into scratch first). */
  matmul(wtype: number, w: number, k: number, nRows: number, x: number, nCols: number, y: number, yStride = nRows): void {
    const xq = this.scratch(this.actBytes(wtype, k) * nCols);
    this.quantizeAct(wtype, x, xq, k, nCols);
    this.matmulQuantized(wtype, w, k, nRows, xq, nCols, y, yStride);
  }

  /**
   * As matmul, with llama.cpp's batched float gemm numerics (tinyBLAS on x86: 8 fma lanes over k mod 8): F32/F16
   * weights, k a multiple of 8. What llama.cpp computes for a batch of >= 2 columns when nRows % 4 == 0.
   */
  matmulTiled(wtype: number, w: number, k: number, nRows: number, x: number, nCols: number, y: number, yStride = nRows): void {
    if ((wtype !== 0 && wtype !== 1) || k % 8) throw new CoreError(`matmulTiled: weight type ${wtype} with k = ${k} (F32/F16, k a multiple of 8)`);
    const xq = this.scratch(this.actBytes(wtype, k) * nCols);
    this.quantizeAct(wtype, x, xq, k, nCols);
    this.call(Op.MATMUL_TILED, 'uuuuuuuuu', [wtype, w, k, nRows, xq, nCols, y, yStride, 0]);
  }

  /** out[j*k ...] = row ids[j] of W (nRows rows of k), dequantized; ids out of range give zero rows. */
  getRows(wtype: number, w: number, k: number, nRows: number, ids: number, n: number, out: number): void {
    rowBytes(wtype, k);
    this.call(Op.GET_ROWS, 'uuuuuuu', [wtype, w, k, ids, n, out, nRows], n === 1);
  }

  /** w = 0 for no weight. */
  rmsNorm(x: number, w: number, out: number, k: number, nRows: number, eps: number): void {
    this.call(Op.RMS_NORM, 'uuuuuf', [x, w, out, k, nRows, eps], nRows === 1);
  }

  /** LayerNorm of nRows rows of k floats, then * w and + b (each may be 0: none); ggml's AVX2 numerics. */
  layerNorm(x: number, w: number, b: number, out: number, k: number, nRows: number, eps: number): void {
    this.call(Op.LAYER_NORM, 'uuuuuuf', [x, w, b, out, k, nRows, eps], nRows === 1);
  }

  rope(x: number, nTokens: number, nHeads: number, headDim: number, nRot: number, xStride: number, cosSin: number, mode: number): void {
    if (nRot % 2 || nRot > headDim) throw new CoreError(`rope: n_rot ${nRot} must be even and at most head_dim ${headDim}`);
    if (mode !== 0 && mode !== 2) throw new CoreError(`rope: mode ${mode} is not NORM (0) or NEOX (2)`);
    this.call(Op.ROPE, 'uuuuuuuu', [x, nTokens, nHeads, headDim, nRot, xStride, cosSin, mode]);
  }

  /**
   * Round nTokens f32 rows to f16 into cache cells (cells: int32[nTokens], negative = skip). vStride 0: row layout
   * (the K cache, cell c at dst + c*width halves); vStride > 0: transposed (the V cache, element i of cell c at
   * dst + (i*vStride + c) halves, vStride = the cache's cell capacity).
   */
  kvStore(src: number, srcStride: number, dst: number, width: number, nTokens: number, cells: number, vStride = 0): void {
    this.call(Op.KV_STORE, 'uuuuuuu', [src, srcStride, dst, width, nTokens, cells, vStride], nTokens === 1);
  }

  attention(a: AttentionArgs): void {
    if (a.nHeadKv <= 0 || a.nHead % a.nHeadKv) throw new CoreError(`attention: n_head ${a.nHead} is not a multiple of n_head_kv ${a.nHeadKv}`);
    if (a.vStride < a.nCells) throw new CoreError(`attention: v_stride ${a.vStride} is less than n_cells ${a.nCells}`);
    const per = this.core.exports.hearth_attention_scratch_bytes(a.nCells, a.headDimK, a.headDimV);
    const scratch = this.scratch(per * this.executor.threads);
    this.call(
      Op.ATTENTION,
      'uuuuuuuuuuuuuufifuuu',
      [a.q, a.qStride, a.kCache, a.vCache, a.out, a.outStride, a.nTokens, a.nHead, a.nHeadKv, a.headDimK, a.headDimV,
       a.nCells, a.cellPos, a.qPos, a.scale, a.window, a.softcap, scratch, a.flags ?? 0, a.vStride],
    );
  }

  siluMul(a: number, b: number, out: number, n: number): void {
    this.call(Op.SILU_MUL, 'uuuu', [a, b, out, n]);
  }
  geluMul(a: number, b: number, out: number, n: number): void {
    this.call(Op.GELU_MUL, 'uuuu', [a, b, out, n]);
  }
  add(a: number, b: number, out: number, n: number): void {
    this.call(Op.ADD, 'uuuu', [a, b, out, n]);
  }
  mul(a: number, b: number, out: number, n: number): void {
    this.call(Op.MUL, 'uuuu', [a, b, out, n]);
  }
  scale(a: number, s: number, out: number, n: number): void {
    this.call(Op.SCALE, 'ufuu', [a, s, out, n]);
  }
  /** out = tanh(a * (1/cap)) * cap. */
  softcap(a: number, cap: number, out: number, n: number): void {
    this.call(Op.SOFTCAP, 'ufuu', [a, cap, out, n]);
  }
  exp(a: number, out: number, n: number): void {
    this.call(Op.EXP, 'uuuu', [a, 0, out, n]);
  }
  tanh(a: number, out: number, n: number): void {
    this.call(Op.TANH, 'uuuu', [a, 0, out, n]);
  }
  /** In place, nRows rows of n floats. */
  softmax(x: number, n: number, nRows: number): void {
    this.call(Op.SOFTMAX, 'uuu', [x, n, nRows]);
  }

  /**
   * Write the struct (format: one letter per 4-byte field, u = u32, i = i32, f = f32) and run the op. serial: the op
   * splits over one unit (a single column, row or token), so one thread would do it all while the others wait; the
   * calling thread runs it alone, with no hand-off (a sleeping worker takes ~0.1 ms to wake).
   */
  private call(op: number, format: string, values: number[], serial = false): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const kind = format[i];
      if (kind === 'f') this.f32[i] = v;
      else if (kind === 'i') {
        if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new CoreError(`op ${op}: field ${i} = ${v} is not an i32`);
        this.u32[i] = v >>> 0;
      } else {
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new CoreError(`op ${op}: field ${i} = ${v} is not a u32`);
        this.u32[i] = v;
      }
    }
    this.executor.run(op, this.argsPtr, serial);
  }
}

