/**
 * The kernel checks, runnable on any core build: each returns the failures it found (empty = pass). Every SIMD
 * kernel is held bit-exact to its scalar twin, to itself with the work split over 3 threads, and (matmul) to the
 * same columns run one at a time; results are also checked against the independent references of
 * kernel-reference.ts. test/kernels.test.ts runs them on the baseline build under Node; test/relaxed-check.ts
 * runs them on the relaxed build under Deno.
 */
import { Core, type CoreExports, CoreOps, type Executor, InlineExecutor, INTERLEAVE_MAX_K, Op, TUNE_PIN, TUNE_Q4_0_ONE_BLOCK, WeightType, rowBytes, tuneFlags } from '../src/core/index.ts';
import {
  dequantizeRow, f16ToF32, f32Bits, f32ToBf16, f32ToF16, fmaF32, fround, ggmlExpf, quantizeQ8K, quantizeQ8x86, roundF16, ulpDiff,
} from './kernel-reference.ts';

export type CoreBuildName = 'baseline' | 'relaxed';

/** Runs an op as nth threads would, one after another on this thread. */
export class SequentialExecutor implements Executor {
  constructor(
    private readonly core: CoreExports,
    readonly threads: number,
  ) {}
  run(op: number, argsPtr: number): void {
    for (let ith = 0; ith < this.threads; ith++) this.core.hearth_run(op, argsPtr, ith, this.threads);
  }
}

export interface Harness {
  core: Core;
  build: CoreBuildName;
  simd: CoreOps;
  ref: CoreOps;
  /** the kernels split over 3 and over 5 simulated threads */
  split: CoreOps;
  split5: CoreOps;
}

export function harness(module: WebAssembly.Module, build: CoreBuildName): Harness {
  const core = new Core(module, { initialBytes: 64 << 20 });
  return {
    core,
    build,
    simd: new CoreOps(core, new InlineExecutor(core.exports)),
    ref: new CoreOps(core, new InlineExecutor(core.exports, true)),
    split: new CoreOps(core, new SequentialExecutor(core.exports, 3)),
    split5: new CoreOps(core, new SequentialExecutor(core.exports, 5)),
  };
}

// ---- data ----

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Activations: gaussian, with an all-zero block, a block whose largest magnitude repeats with both signs, and outliers. */
export function activations(r: () => number, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = gauss(r) * (r() < 0.02 ? 20 : 1);
  if (n >= 64) x.fill(0, 32, 64);
  if (n >= 128) {
    x[70] = 7.5;
    x[71] = -7.5;
    x[100] = 7.5;
  }
  return x;
}

/** Random weight rows of a type: random quant bytes with finite, moderate f16 scales. */
export function weights(r: () => number, type: number, k: number, nRows: number): Uint8Array {
  const rb = rowBytes(type, k), out = new Uint8Array(rb * nRows);
  const put16 = (o: number, h: number): void => {
    out[o] = h & 255;
    out[o + 1] = h >> 8;
  };
  const scale = (lo: number, hi: number): number => f32ToF16((r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()));
  if (type === WeightType.F32) {
    const f = new Float32Array(out.buffer);
    for (let i = 0; i < f.length; i++) f[i] = gauss(r) * 0.5;
    return out;
  }
  if (type === WeightType.F16 || type === WeightType.BF16) {
    for (let i = 0; i < k * nRows; i++) put16(2 * i, type === WeightType.F16 ? f32ToF16(gauss(r)) : f32ToBf16(gauss(r)));
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = (r() * 256) | 0;
  const blocks = out.length / (rb / (k / (type >= 12 && type <= 14 ? 256 : 32)));
  const bb = rb / (k / (type >= 12 && type <= 14 ? 256 : 32));
  for (let b = 0; b < blocks; b++) {
    const o = b * bb;
    if (type === WeightType.Q8_0 || type === WeightType.Q4_0) put16(o, scale(1e-3, 0.05));
    else if (type === WeightType.Q4_1) {
      put16(o, scale(1e-3, 0.05));
      put16(o + 2, scale(0, 0.5));
    } else if (type === WeightType.Q4_K || type === WeightType.Q5_K) {
      put16(o, f32ToF16(1e-4 + 0.01 * r()));
      put16(o + 2, f32ToF16(1e-4 + 0.01 * r()));
    } else if (type === WeightType.Q6_K) put16(o + 208, scale(1e-4, 0.01));
  }
  return out;
}

// ---- helpers ----

type Failures = string[];

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

function expectSame(fails: Failures, what: string, a: Float32Array | Uint8Array | Uint16Array, b: Float32Array | Uint8Array | Uint16Array): void {
  const i = sameBits(a, b);
  if (i >= 0) fails.push(`${what}: differs at ${i}: ${a[i]} vs ${b[i]}`);
}

function put(core: Core, data: Float32Array | Uint8Array | Int32Array | Uint16Array): number {
  const ptr = core.alloc(data.byteLength, 64);
  core.u8(ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return ptr;
}

const matmulTypes = [WeightType.F32, WeightType.F16, WeightType.BF16, WeightType.Q8_0, WeightType.Q4_0, WeightType.Q4_1, WeightType.Q4_K, WeightType.Q5_K, WeightType.Q6_K];
const typeName: Record<number, string> = { 0: 'F32', 1: 'F16', 30: 'BF16', 8: 'Q8_0', 2: 'Q4_0', 3: 'Q4_1', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K' };
const isK = (t: number): boolean => t === WeightType.Q4_K || t === WeightType.Q5_K || t === WeightType.Q6_K;
const isFloat = (t: number): boolean => t === WeightType.F32 || t === WeightType.F16 || t === WeightType.BF16;

function shapesFor(t: number): number[] {
  if (isK(t)) return [256, 768, 1280];
  if (isFloat(t)) return [64, 100, 288];
  return [32, 160, 1024];
}

// ---- the checks ----

export interface Check {
  name: string;
  run(h: Harness): Failures;
}

/** Decode one activation column of the core's layout (wasm/src/internal.h) for the quantized formats. */
function decodeAct(h: Harness, type: number, ptr: number, k: number): { qs: Int8Array; d: Float32Array; extra: Float32Array | Int32Array; bsums?: Int16Array } {
  const wide = h.build === 'baseline';
  const qsBytes = k * (wide ? 2 : 1);
  const raw = wide ? h.core.u16(ptr, k) : h.core.u8(ptr, k);
  // the baseline build stores each run of 16 quants as its even-indexed values, then its odd-indexed ones
  const pos = (e: number): number => (wide ? (e & ~15) | ((e & 1) << 3) | ((e & 15) >> 1) : e);
  const qs = new Int8Array(k);
  for (let i = 0; i < k; i++) qs[i] = wide ? (raw[pos(i)] << 16) >> 16 : (raw[pos(i)] << 24) >> 24;
  if (isK(type)) {
    const ns = k / 256, ns4 = Math.ceil(ns / 4) * 4;
    const d = h.core.f32(ptr + qsBytes, ns).slice();
    const b16 = new Int16Array(h.core.u8(ptr + qsBytes + 4 * ns4, k / 8).slice().buffer);
    const b32 = new Int16Array(h.core.u8(ptr + qsBytes + 4 * ns4 + k / 8, k / 16).slice().buffer);
    return { qs, d, extra: Int32Array.from(b32), bsums: b16 };
  }
  const nb = k / 32, nb4 = Math.ceil(nb / 4) * 4;
  const d = h.core.f32(ptr + qsBytes, nb).slice();
  const extra = type === WeightType.Q4_1 ? h.core.f32(ptr + qsBytes + 4 * nb4, nb).slice() : h.core.i32(ptr + qsBytes + 4 * nb4, nb).slice();
  return { qs, d, extra };
}

const quantizeAct: Check = {
  name: 'quantize_act: SIMD == scalar twin == llama.cpp x86 quantizers',
  run(h) {
    const fails: Failures = [];
    const r = rng(1);
    for (const t of matmulTypes) {
      for (const k of shapesFor(t)) {
        const nCols = 3, x = activations(r, k * nCols), xp = put(h.core, x);
        const bytes = h.simd.actBytes(t, k) * nCols;
        const a = h.core.alloc(bytes), b = h.core.alloc(bytes), c = h.core.alloc(bytes);
        h.simd.quantizeAct(t, xp, a, k, nCols);
        h.ref.quantizeAct(t, xp, b, k, nCols);
        h.split.quantizeAct(t, xp, c, k, nCols);
        expectSame(fails, `${typeName[t]} k=${k} SIMD vs scalar`, h.core.u8(a, bytes), h.core.u8(b, bytes));
        expectSame(fails, `${typeName[t]} k=${k} 3 threads`, h.core.u8(a, bytes), h.core.u8(c, bytes));
        for (let j = 0; j < nCols; j++) {
          const xj = x.subarray(j * k, (j + 1) * k), col = a + j * h.simd.actBytes(t, k);
          if (isFloat(t)) {
            const want = xj.map((v) => (t === WeightType.F32 ? v : t === WeightType.F16 ? roundF16(v) : f16Bf(v)));
            expectSame(fails, `${typeName[t]} k=${k} col ${j} vs reference`, h.core.f32(col, k), want);
            continue;
          }
          const got = decodeAct(h, t, col, k);
          if (isK(t)) {
            const want = quantizeQ8K(xj);
            expectSame(fails, `${typeName[t]} k=${k} col ${j} quants`, new Uint8Array(got.qs.buffer), new Uint8Array(want.qs.buffer));
            expectSame(fails, `${typeName[t]} k=${k} col ${j} d`, got.d, want.d);
            expectSame(fails, `${typeName[t]} k=${k} col ${j} bsums`, new Uint16Array(got.bsums!.buffer), new Uint16Array(want.bsums!.buffer));
            const b32 = Int32Array.from({ length: k / 32 }, (_, g) => want.bsums![2 * g] + want.bsums![2 * g + 1]);
            expectSame(fails, `${typeName[t]} k=${k} col ${j} bsum32`, new Uint8Array(got.extra.buffer), new Uint8Array(b32.buffer));
          } else {
            const want = quantizeQ8x86(xj, t === WeightType.Q4_1);
            expectSame(fails, `${typeName[t]} k=${k} col ${j} quants`, new Uint8Array(got.qs.buffer), new Uint8Array(want.qs.buffer));
            expectSame(fails, `${typeName[t]} k=${k} col ${j} d`, got.d, want.d);
            if (t === WeightType.Q4_1) expectSame(fails, `${typeName[t]} k=${k} col ${j} s`, got.extra as Float32Array, want.s!);
            else {
              const sums = Int32Array.from({ length: k / 32 }, (_, bi) => want.qs.subarray(32 * bi, 32 * bi + 32).reduce((s, v) => s + v, 0));
              expectSame(fails, `${typeName[t]} k=${k} col ${j} block sums`, new Uint8Array(got.extra.buffer), new Uint8Array(sums.buffer));
            }
          }
        }
      }
    }
    return fails;
  },
};

function f16Bf(v: number): number {
  return new Float32Array(new Uint32Array([f32ToBf16(v) << 16]).buffer)[0];
}

/** Reference dot in double: dequantized weights times the quantized (or rounded) activation values. Q4_1 takes
 * its min term as llama.cpp does, m_w * s with s = f16(d_x * sum q_x) as stored in the Q8_1 block. */
function referenceDot(t: number, wBytes: Uint8Array, wRow: Float32Array, x: Float32Array): { value: number; scale: number } {
  let act: Float64Array;
  let minTerm = 0;
  if (isFloat(t)) act = Float64Array.from(x, (v) => (t === WeightType.F32 ? v : t === WeightType.F16 ? roundF16(v) : f16Bf(v)));
  else if (isK(t)) {
    const q = quantizeQ8K(x);
    act = Float64Array.from(q.qs, (v, i) => v * q.d[i >> 8]);
  } else {
    const q = quantizeQ8x86(x, true);
    act = Float64Array.from(q.qs, (v, i) => v * q.d[i >> 5]);
    if (t === WeightType.Q4_1)
      for (let b = 0; b < x.length / 32; b++) {
        const m = f16ToF32(wBytes[20 * b + 2] | (wBytes[20 * b + 3] << 8));
        let sum = 0;
        for (let i = 0; i < 32; i++) sum += act[32 * b + i];
        minTerm += m * q.s![b] - m * sum;
      }
  }
  let value = minTerm, scale = Math.abs(minTerm);
  for (let i = 0; i < x.length; i++) {
    value += wRow[i] * act[i];
    scale += Math.abs(wRow[i] * act[i]);
  }
  return { value, scale };
}

const matmul: Check = {
  name: 'matmul: SIMD == scalar twin == 3 threads == one column at a time, and ~ dequantized reference',
  run(h) {
    const fails: Failures = [];
    const r = rng(2);
    for (const t of matmulTypes) {
      for (const k of shapesFor(t)) {
        for (const nCols of [1, 2, 3, 5, 8, 11]) {
          // one column over 130 rows: a pool takes rows in chunks of at least 64 (wasm/src/run.c), so 3 chunks
          const nRows = nCols === 1 ? 130 : 7, w = weights(r, t, k, nRows), x = activations(r, k * nCols);
          // F16 rows holding inf / NaN: several columns widen runs of a row without the per-vector fix-up, so such a
          // row must go apart (matmul_float.c)
          if (t === WeightType.F16) for (const [row, i, v] of [[1, 5, 0x7c00], [3, 40, 0x7e01], [5, k - 1, 0xfc00]]) w.set([v & 255, v >> 8], 2 * (row * k + i));
          const wp = put(h.core, w), xp = put(h.core, x);
          const y = [h.core.alloc(4 * nRows * nCols), h.core.alloc(4 * nRows * nCols), h.core.alloc(4 * nRows * nCols)];
          h.simd.matmul(t, wp, k, nRows, xp, nCols, y[0]);
          h.ref.matmul(t, wp, k, nRows, xp, nCols, y[1]);
          h.split.matmul(t, wp, k, nRows, xp, nCols, y[2]);
          const tag = `${typeName[t]} k=${k} n_cols=${nCols}`;
          const ys = h.core.f32(y[0], nRows * nCols).slice();
          expectSame(fails, `${tag} SIMD vs scalar`, ys, h.core.f32(y[1], nRows * nCols));
          expectSame(fails, `${tag} 3 threads`, ys, h.core.f32(y[2], nRows * nCols));
          for (let j = 0; j < nCols; j++) {
            const y1 = h.core.alloc(4 * nRows);
            h.simd.matmul(t, wp, k, nRows, xp + 4 * k * j, 1, y1);
            expectSame(fails, `${tag} column ${j} alone`, h.core.f32(y1, nRows), ys.subarray(j * nRows, (j + 1) * nRows));
          }
          // y_stride wider than n_rows
          const yw = h.core.alloc(4 * (nRows + 3) * nCols);
          h.simd.matmul(t, wp, k, nRows, xp, nCols, yw, nRows + 3);
          for (let j = 0; j < nCols; j++) expectSame(fails, `${tag} y_stride`, h.core.f32(yw + 4 * j * (nRows + 3), nRows), ys.subarray(j * nRows, (j + 1) * nRows));
          const rb = rowBytes(t, k);
          for (let row = 0; row < nRows; row++) {
            const wRow = dequantizeRow(t, w.subarray(row * rb, (row + 1) * rb), k);
            for (let j = 0; j < nCols; j++) {
              const ref = referenceDot(t, w.subarray(row * rb, (row + 1) * rb), wRow, x.subarray(j * k, (j + 1) * k));
              const got = ys[j * nRows + row];
              const close = Number.isFinite(ref.scale) ? Math.abs(got - ref.value) <= 2e-6 * ref.scale + 1e-30 : Object.is(got, ref.value) || (Number.isNaN(got) && Number.isNaN(ref.value));
              if (!close) fails.push(`${tag} row ${row} col ${j}: ${got} vs reference ${ref.value} (scale ${ref.scale})`);
            }
          }
        }
      }
    }
    return fails;
  },
};

/** The multi-column Q4_0 tile (4 rows x up to 4 columns, matmul_q.c) and its edges: row counts that leave 1..3 rows
 * over, several row chunks for the threads to take (200 rows: chunks of 64, the last one of 8), column counts with a
 * remainder tile of 1..3, and block counts 1, 5 and 32. */
const matmulTiles: Check = {
  name: 'matmul row x column tiles: SIMD == scalar twin == 3 and 5 threads == one column at a time',
  run(h) {
    const fails: Failures = [];
    const r = rng(12);
    for (const t of [WeightType.Q4_0, WeightType.Q8_0, WeightType.Q4_1]) {
      for (const k of [32, 160, 1024]) {
        for (const nRows of [13, 33, 200]) {
          for (const nCols of [2, 4, 5, 9]) {
            const w = weights(r, t, k, nRows), x = activations(r, k * nCols);
            const wp = put(h.core, w), xp = put(h.core, x), n = nRows * nCols;
            const y = [0, 1, 2, 3].map(() => h.core.alloc(4 * n));
            h.simd.matmul(t, wp, k, nRows, xp, nCols, y[0]);
            h.ref.matmul(t, wp, k, nRows, xp, nCols, y[1]);
            h.split.matmul(t, wp, k, nRows, xp, nCols, y[2]);
            h.split5.matmul(t, wp, k, nRows, xp, nCols, y[3]);
            const tag = `${typeName[t]} k=${k} rows=${nRows} n_cols=${nCols}`;
            const ys = h.core.f32(y[0], n).slice();
            expectSame(fails, `${tag} SIMD vs scalar`, ys, h.core.f32(y[1], n));
            expectSame(fails, `${tag} 3 threads`, ys, h.core.f32(y[2], n));
            expectSame(fails, `${tag} 5 threads`, ys, h.core.f32(y[3], n));
            const y1 = h.core.alloc(4 * nRows);
            for (let j = 0; j < nCols; j++) {
              h.simd.matmul(t, wp, k, nRows, xp + 4 * k * j, 1, y1);
              expectSame(fails, `${tag} column ${j} alone`, h.core.f32(y1, nRows), ys.subarray(j * nRows, (j + 1) * nRows));
            }
          }
        }
      }
    }
    return fails;
  },
};

/**
 * The one case the exact fused multiply-add emulation exists for (internal.h: fma_f32, f64x2_fma_fix), which random
 * data almost never reaches: a block term whose exact sum with the accumulator lies just above a halfway point
 * between two floats, while its f64 sum lands exactly on it. Q4_0 row · column over 2 blocks:
 *   block 1: sumi 512, d = 16 · 1024 = 2^14, so acc = 2^23;
 *   block 2: sumi 20857, d = (1366 · 2^-18) · (1206 · 2^-18) = 4 · 683 · 603 · 2^-36, so the term is
 *            20857 · 683 · 603 · 2^-34 = (2^33 + 1) · 2^-34 = 2^-1 + 2^-34.
 * fma(term, acc) = round(2^23 + 0.5 + 2^-34) = 2^23 + 1; rounding twice (f64 drops the 2^-34, then ties go to even)
 * would give 2^23. The answer comes from arithmetic, not from a kernel: every path must give 8388609 (single row
 * and column, 4-row tiles, several columns, threads; in the relaxed build the hardware FMA gives it too).
 */
const fmaHalfway: Check = {
  name: 'matmul: an inexact halfway block sum rounds as a fused multiply-add (crafted Q4_0)',
  run(h) {
    const fails: Failures = [];
    const k = 64;
    const block = (dBits: number, nibbles: number[]) => {
      const b = new Uint8Array(18);
      b[0] = dBits & 0xff;
      b[1] = dBits >> 8;
      for (let j = 0; j < 16; j++) b[2 + j] = nibbles[j] | (nibbles[j + 16] << 4);
      return b;
    };
    // weights n (the value is n - 8) and activation quants q, element by element
    const n1 = new Array(32).fill(8), q1 = new Array(32).fill(0);
    n1[0] = 0; q1[0] = -64; // -8 * -64 = 512
    q1[1] = 127; // sets the block's scale (amax / 127 = 1024); its weight is 0
    const n2 = new Array(32).fill(8), q2 = new Array(32).fill(0);
    for (let i = 0; i < 20; i++) { n2[i] = 0; q2[i] = -127; } // 20 * 1016 = 20320
    n2[20] = 12; q2[20] = 127; // + 508
    n2[21] = 9; q2[21] = 29; // + 29 = 20857
    const row = new Uint8Array(36);
    row.set(block(0x4c00 /* f16 16 */, n1), 0);
    row.set(block((7 << 10) | (1366 - 1024) /* f16 1366 * 2^-18 */, n2), 18);
    const dx1 = 1024, dx2 = 1206 * 2 ** -18;
    const col = new Float32Array(k);
    for (let i = 0; i < 32; i++) { col[i] = q1[i] * dx1; col[32 + i] = q2[i] * dx2; }
    const want = 2 ** 23 + 1;
    for (const nRows of [1, 4, 5, 8]) {
      const w = new Uint8Array(36 * nRows);
      for (let r = 0; r < nRows; r++) w.set(row, 36 * r);
      for (const nCols of [1, 2, 4, 5]) {
        const x = new Float32Array(k * nCols);
        for (let j = 0; j < nCols; j++) x.set(col, j * k);
        const wp = put(h.core, w), xp = put(h.core, x), n = nRows * nCols;
        for (const [name, ops] of [['SIMD', h.simd], ['scalar twin', h.ref], ['3 threads', h.split]] as const) {
          const y = h.core.alloc(4 * n);
          ops.matmul(WeightType.Q4_0, wp, k, nRows, xp, nCols, y);
          const got = h.core.f32(y, n);
          const bad = got.findIndex((v) => v !== want);
          if (bad >= 0) fails.push(`${name} rows=${nRows} n_cols=${nCols} [${bad}]: ${got[bad]} (want ${want})`);
        }
      }
    }
    return fails;
  },
};

const getRows: Check = {
  name: 'get_rows: SIMD == scalar twin == spec dequantization, bit for bit',
  run(h) {
    const fails: Failures = [];
    const r = rng(3);
    for (const t of matmulTypes) {
      const k = isK(t) ? 512 : 96, nRows = 9, w = weights(r, t, k, nRows), wp = put(h.core, w);
      const ids = Int32Array.from([3, 0, 8, 9, -1, 3]), ip = put(h.core, ids);
      const outs = [0, 1, 2].map(() => h.core.alloc(4 * k * ids.length));
      h.simd.getRows(t, wp, k, nRows, ip, ids.length, outs[0]);
      h.ref.getRows(t, wp, k, nRows, ip, ids.length, outs[1]);
      h.split.getRows(t, wp, k, nRows, ip, ids.length, outs[2]);
      const got = h.core.f32(outs[0], k * ids.length).slice();
      expectSame(fails, `${typeName[t]} SIMD vs scalar`, got, h.core.f32(outs[1], k * ids.length));
      expectSame(fails, `${typeName[t]} 3 threads`, got, h.core.f32(outs[2], k * ids.length));
      const rb = rowBytes(t, k);
      ids.forEach((id, j) => {
        const want = id >= 0 && id < nRows ? dequantizeRow(t, w.subarray(id * rb, (id + 1) * rb), k) : new Float32Array(k);
        expectSame(fails, `${typeName[t]} id ${id} vs spec`, got.subarray(j * k, (j + 1) * k), want);
      });
    }
    return fails;
  },
};

/** Q4_0 with rows interleaved by 4 (HT_Q4_0_X4, the layout the loader gives Q4_0 matrices): matmul and get_rows
 * give the plain layout's bits, SIMD and scalar twin, on row counts that leave 1..3 plain rows at the end, several
 * row chunks for the threads (200 rows), and 1..9 columns (tiles of 4 and the 1-column tile). */
const interleaved: Check = {
  name: 'Q4_0 rows interleaved by 4: matmul and get_rows == plain Q4_0, bit for bit',
  run(h) {
    const fails: Failures = [];
    const r = rng(31);
    for (const k of [32, 160, 1024]) {
      for (const nRows of [4, 13, 34, 200]) {
        const w = weights(r, WeightType.Q4_0, k, nRows), wp = put(h.core, w), xp4 = put(h.core, w);
        if (h.core.exports.hearth_interleave_q4_0(xp4, k, nRows) !== 1) fails.push(`k=${k} rows=${nRows}: not interleaved`);
        const x4 = h.core.u8(xp4, w.length);
        // group g's block b of row 4g+i sits at 72 b + 18 i of the group; the rows % 4 last rows are untouched
        const rb = rowBytes(WeightType.Q4_0, k), nb = k / 32, g = nRows - (nRows % 4);
        for (const [row, b] of [[0, nb - 1], [g - 1, 0], [g - 3, nb >> 1]]) {
          const at = (row >> 2) * 4 * rb + b * 72 + (row % 4) * 18;
          if (x4.subarray(at, at + 18).some((v, i) => v !== w[row * rb + b * 18 + i])) fails.push(`k=${k} rows=${nRows}: row ${row} block ${b} misplaced`);
        }
        if (x4.subarray(g * rb).some((v, i) => v !== w[g * rb + i])) fails.push(`k=${k} rows=${nRows}: the plain rows moved`);
        for (const nCols of [1, 2, 3, 4, 5, 9]) {
          const xp = put(h.core, activations(r, k * nCols)), n = nRows * nCols;
          const y = [0, 1, 2, 3].map(() => h.core.alloc(4 * n));
          h.ref.matmul(WeightType.Q4_0, wp, k, nRows, xp, nCols, y[0]);
          h.simd.matmul(WeightType.Q4_0_X4, xp4, k, nRows, xp, nCols, y[1]);
          h.ref.matmul(WeightType.Q4_0_X4, xp4, k, nRows, xp, nCols, y[2]);
          h.split5.matmul(WeightType.Q4_0_X4, xp4, k, nRows, xp, nCols, y[3]);
          const want = h.core.f32(y[0], n).slice(), tag = `k=${k} rows=${nRows} n_cols=${nCols}`;
          expectSame(fails, `${tag} SIMD`, h.core.f32(y[1], n), want);
          expectSame(fails, `${tag} scalar twin`, h.core.f32(y[2], n), want);
          expectSame(fails, `${tag} 5 threads`, h.core.f32(y[3], n), want);
        }
        const ids = Int32Array.from([0, 3, nRows - 1, nRows - 2, nRows, -1, 1]), ip = put(h.core, ids);
        const outs = [0, 1, 2].map(() => h.core.alloc(4 * k * ids.length));
        h.ref.getRows(WeightType.Q4_0, wp, k, nRows, ip, ids.length, outs[0]);
        h.simd.getRows(WeightType.Q4_0_X4, xp4, k, nRows, ip, ids.length, outs[1]);
        h.ref.getRows(WeightType.Q4_0_X4, xp4, k, nRows, ip, ids.length, outs[2]);
        const want = h.core.f32(outs[0], k * ids.length).slice();
        expectSame(fails, `get_rows k=${k} rows=${nRows} SIMD`, h.core.f32(outs[1], k * ids.length), want);
        expectSame(fails, `get_rows k=${k} rows=${nRows} scalar twin`, h.core.f32(outs[2], k * ids.length), want);
      }
    }
    // a width over the limit is left alone (loadedType keeps such a matrix Q4_0)
    if (h.core.exports.hearth_interleave_q4_0(0, INTERLEAVE_MAX_K + 32, 4) !== 0) fails.push('k over INTERLEAVE_MAX_K was accepted');
    if (h.core.exports.hearth_interleave_q4_0(0, 48, 4) !== 0) fails.push('k = 48 was accepted');
    return fails;
  },
};

const rmsNorm: Check = {
  name: 'rms_norm: SIMD == scalar twin == ggml (double sum), bit for bit',
  run(h) {
    const fails: Failures = [];
    const r = rng(4);
    for (const k of [5, 64, 771]) {
      const nRows = 4, x = activations(r, k * nRows), w = activations(r, k), eps = 1e-5;
      const xp = put(h.core, x), wp = put(h.core, w);
      for (const withW of [true, false]) {
        const outs = [0, 1, 2].map(() => h.core.alloc(4 * k * nRows));
        h.simd.rmsNorm(xp, withW ? wp : 0, outs[0], k, nRows, eps);
        h.ref.rmsNorm(xp, withW ? wp : 0, outs[1], k, nRows, eps);
        h.split.rmsNorm(xp, withW ? wp : 0, outs[2], k, nRows, eps);
        const got = h.core.f32(outs[0], k * nRows).slice();
        expectSame(fails, `k=${k} SIMD vs scalar`, got, h.core.f32(outs[1], k * nRows));
        expectSame(fails, `k=${k} 3 threads`, got, h.core.f32(outs[2], k * nRows));
        const want = new Float32Array(k * nRows);
        for (let row = 0; row < nRows; row++) {
          let sum = 0;
          for (let i = 0; i < k; i++) sum += fround(x[row * k + i] * x[row * k + i]);
          const mean = fround(sum / k), scale = fround(1 / fround(Math.sqrt(fround(mean + fround(eps)))));
          for (let i = 0; i < k; i++) want[row * k + i] = withW ? fround(fround(x[row * k + i] * scale) * w[i]) : fround(x[row * k + i] * scale);
        }
        expectSame(fails, `k=${k} w=${withW} vs ggml`, got, want);
      }
    }
    return fails;
  },
};

const layerNorm: Check = {
  name: 'layer_norm: SIMD == scalar twin == ggml AVX2 (double sums, 8-wide float square groups), bit for bit',
  run(h) {
    const fails: Failures = [];
    const r = rng(41);
    for (const k of [5, 64, 771, 6912]) {
      const nRows = 3, x = activations(r, k * nRows), w = activations(r, k), b = activations(r, k), eps = 1e-5;
      for (let i = 0; i < k; i++) x[i] += 3; // an offset mean, so the subtraction matters
      const xp = put(h.core, x), wp = put(h.core, w), bp = put(h.core, b);
      for (const [withW, withB] of [[true, true], [false, false], [true, false]]) {
        const outs = [0, 1, 2].map(() => h.core.alloc(4 * k * nRows));
        h.simd.layerNorm(xp, withW ? wp : 0, withB ? bp : 0, outs[0], k, nRows, eps);
        h.ref.layerNorm(xp, withW ? wp : 0, withB ? bp : 0, outs[1], k, nRows, eps);
        h.split.layerNorm(xp, withW ? wp : 0, withB ? bp : 0, outs[2], k, nRows, eps);
        const got = h.core.f32(outs[0], k * nRows).slice();
        expectSame(fails, `k=${k} SIMD vs scalar`, got, h.core.f32(outs[1], k * nRows));
        expectSame(fails, `k=${k} 3 threads`, got, h.core.f32(outs[2], k * nRows));
        const want = new Float32Array(k * nRows);
        for (let row = 0; row < nRows; row++) {
          const xr = x.subarray(row * k, (row + 1) * k);
          let sum = 0;
          for (let i = 0; i < k; i++) sum += xr[i];
          const mean = fround(fround(sum) / k);
          const d = xr.map((v) => fround(v - mean));
          const sq = (i: number) => fround(d[i] * d[i]);
          let s = 0;
          let i = 0;
          for (; i + 8 <= k; i += 8) {
            const a = [0, 1, 2, 3].map((j) => fround(sq(i + j + 4) + sq(i + j)));
            s += fround(fround(a[0] + a[2]) + fround(a[1] + a[3]));
          }
          for (; i < k; i++) s += sq(i);
          const scale = fround(1 / fround(Math.sqrt(fround(fround(s / k) + fround(eps)))));
          for (let j = 0; j < k; j++) {
            let v = fround(d[j] * scale);
            if (withW) v = fround(v * w[j]);
            if (withB) v = fround(v + b[j]);
            want[row * k + j] = v;
          }
        }
        expectSame(fails, `k=${k} w=${withW} b=${withB} vs ggml`, got, want);
      }
    }
    return fails;
  },
};

const matmulTiled: Check = {
  name: 'matmul_tiled (llama.cpp tinyBLAS numerics, F32/F16): SIMD == scalar twin == 8 fma lanes + hsum, bit for bit',
  run(h) {
    const fails: Failures = [];
    const r = rng(43);
    for (const t of [WeightType.F16, WeightType.F32]) {
      for (const [k, nRows, nCols] of [[8, 4, 2], [6912, 8, 3], [264, 12, 5]]) {
        const x = activations(r, k * nCols);
        const w = new Float32Array(k * nRows);
        for (let i = 0; i < w.length; i++) w[i] = (r() - 0.5) * 0.2;
        const wBytes = t === WeightType.F16 ? new Uint16Array(Array.from(w, (v) => f32ToF16(v))) : w;
        const wp = put(h.core, wBytes), xp = put(h.core, x);
        const outs = [0, 1, 2].map(() => h.core.alloc(4 * nRows * nCols));
        h.simd.matmulTiled(t, wp, k, nRows, xp, nCols, outs[0]);
        h.ref.matmulTiled(t, wp, k, nRows, xp, nCols, outs[1]);
        h.split.matmulTiled(t, wp, k, nRows, xp, nCols, outs[2]);
        const got = h.core.f32(outs[0], nRows * nCols).slice();
        expectSame(fails, `${t} k=${k} SIMD vs scalar`, got, h.core.f32(outs[1], nRows * nCols));
        expectSame(fails, `${t} k=${k} 3 threads`, got, h.core.f32(outs[2], nRows * nCols));
        const want = new Float32Array(nRows * nCols);
        for (let j = 0; j < nCols; j++) {
          for (let row = 0; row < nRows; row++) {
            const l = new Float32Array(8);
            for (let i = 0; i < k; i++) {
              const wv = t === WeightType.F16 ? f16ToF32(wBytes[row * k + i]) : w[row * k + i];
              const xv = t === WeightType.F16 ? f16ToF32(f32ToF16(x[j * k + i])) : x[j * k + i];
              l[i % 8] = fmaF32(wv, xv, l[i % 8]);
            }
            const s = [0, 1, 2, 3].map((q) => fround(l[q + 4] + l[q]));
            want[j * nRows + row] = fround(fround(s[0] + s[2]) + fround(s[1] + s[3]));
          }
        }
        expectSame(fails, `${t} k=${k} vs tinyBLAS`, got, want);
      }
    }
    return fails;
  },
};

const rope: Check = {
  name: 'rope: SIMD == scalar twin == fma(x0,c,-(x1 s)), fma(x0,s,x1 c), NORM and NEOX, partial n_rot',
  run(h) {
    const fails: Failures = [];
    const r = rng(5);
    for (const mode of [0, 2]) {
      for (const [headDim, nRot] of [[64, 64], [64, 32], [40, 20], [8, 6]]) {
        const nTokens = 3, nHeads = 3, stride = nHeads * headDim + 5;
        const x = activations(r, nTokens * stride);
        const cs = new Float32Array(nTokens * nRot);
        for (let t = 0; t < nTokens; t++)
          for (let i = 0; i < nRot / 2; i++) {
            const th = (t + 7) * Math.pow(10000, (-2 * i) / nRot);
            cs[t * nRot + 2 * i] = Math.cos(th);
            cs[t * nRot + 2 * i + 1] = Math.sin(th);
          }
        const csp = put(h.core, cs);
        const bufs = [0, 1, 2].map(() => put(h.core, x));
        h.simd.rope(bufs[0], nTokens, nHeads, headDim, nRot, stride, csp, mode);
        h.ref.rope(bufs[1], nTokens, nHeads, headDim, nRot, stride, csp, mode);
        h.split.rope(bufs[2], nTokens, nHeads, headDim, nRot, stride, csp, mode);
        const got = h.core.f32(bufs[0], x.length).slice();
        const tag = `mode ${mode} head_dim ${headDim} n_rot ${nRot}`;
        expectSame(fails, `${tag} SIMD vs scalar`, got, h.core.f32(bufs[1], x.length));
        expectSame(fails, `${tag} 3 threads`, got, h.core.f32(bufs[2], x.length));
        const want = x.slice();
        for (let t = 0; t < nTokens; t++)
          for (let hd = 0; hd < nHeads; hd++)
            for (let i = 0; i < nRot / 2; i++) {
              const base = t * stride + hd * headDim;
              const i0 = mode === 0 ? base + 2 * i : base + i, i1 = mode === 0 ? i0 + 1 : i0 + nRot / 2;
              const c = cs[t * nRot + 2 * i], s = cs[t * nRot + 2 * i + 1], x0 = x[i0], x1 = x[i1];
              want[i0] = fmaF32(x0, c, -fround(x1 * s));
              want[i1] = fmaF32(x0, s, fround(x1 * c));
            }
        expectSame(fails, `${tag} vs reference`, got, want);
      }
    }
    return fails;
  },
};

const kvStore: Check = {
  name: 'kv_store: SIMD == scalar twin == round-to-nearest-even f16, specials included, row and transposed layouts',
  run(h) {
    const fails: Failures = [];
    const r = rng(6);
    const width = 37, nTokens = 4, stride = 41, capacity = 9;
    const src = activations(r, nTokens * stride);
    const specials = [0, -0, 65504, 65519.99, 65520, -70000, Infinity, -Infinity, 5.96e-8, 2.98e-8, 2.99e-8, -1e-6, 6.1e-5, 1e-10, 0.1, 1 / 3];
    specials.forEach((v, i) => (src[i] = v));
    src[20] = NaN;
    const sp = put(h.core, src), cellList = [5, 0, 2, -1], cells = put(h.core, Int32Array.from(cellList));
    for (const vStride of [0, capacity]) {
      const size = width * capacity;
      const caches = [0, 1, 2].map(() => h.core.alloc(2 * size));
      for (const c of caches) h.core.u16(c, size).fill(0xabcd);
      h.simd.kvStore(sp, stride, caches[0], width, nTokens, cells, vStride);
      h.ref.kvStore(sp, stride, caches[1], width, nTokens, cells, vStride);
      h.split.kvStore(sp, stride, caches[2], width, nTokens, cells, vStride);
      const got = h.core.u16(caches[0], size).slice();
      expectSame(fails, `v_stride ${vStride} SIMD vs scalar`, got, h.core.u16(caches[1], size));
      expectSame(fails, `v_stride ${vStride} 3 threads`, got, h.core.u16(caches[2], size));
      const want = new Uint16Array(size).fill(0xabcd);
      cellList.forEach((cell, t) => {
        if (cell < 0) return;
        for (let i = 0; i < width; i++) want[vStride ? i * vStride + cell : cell * width + i] = f32ToF16(src[t * stride + i]);
      });
      expectSame(fails, `v_stride ${vStride} vs reference`, got, want);
    }
    return fails;
  },
};

interface AttnCase {
  nTokens: number;
  nHead: number;
  nHeadKv: number;
  dk: number;
  dv: number;
  nCells: number;
  window: number;
  softcap: number;
  flags: number;
}

const attention: Check = {
  name: 'attention: SIMD == scalar twin == 3 threads, and ~ double-precision reference',
  run(h) {
    const fails: Failures = [];
    const r = rng(7);
    const cases: AttnCase[] = [
      { nTokens: 1, nHead: 4, nHeadKv: 2, dk: 64, dv: 64, nCells: 37, window: 0, softcap: 0, flags: 0 },
      { nTokens: 3, nHead: 2, nHeadKv: 1, dk: 32, dv: 48, nCells: 70, window: 0, softcap: 0, flags: 0 },
      { nTokens: 2, nHead: 2, nHeadKv: 2, dk: 40, dv: 40, nCells: 9, window: 4, softcap: 0, flags: 0 },
      { nTokens: 2, nHead: 4, nHeadKv: 1, dk: 64, dv: 64, nCells: 96, window: 0, softcap: 30, flags: 0 },
      { nTokens: 4, nHead: 2, nHeadKv: 2, dk: 32, dv: 32, nCells: 12, window: 0, softcap: 0, flags: 1 },
      // heads narrower than a 32-element step (stories260K's 8), and a window that masks whole runs of 8 cells
      { nTokens: 2, nHead: 8, nHeadKv: 4, dk: 8, dv: 6, nCells: 48, window: 5, softcap: 0, flags: 0 },
      // narrow heads past a multiple of 4 cells (4 cells a lane each, the rest one by one)
      { nTokens: 3, nHead: 8, nHeadKv: 4, dk: 12, dv: 8, nCells: 146, window: 0, softcap: 0, flags: 0 },
      { nTokens: 2, nHead: 4, nHeadKv: 2, dk: 16, dv: 16, nCells: 23, window: 0, softcap: 20, flags: 0 },
      { nTokens: 1, nHead: 2, nHeadKv: 1, dk: 14, dv: 8, nCells: 33, window: 0, softcap: 0, flags: 0 },
      // ATTN_TILED (llama.cpp's batched F16 gemm order), alone and with NONCAUSAL (an image block); dims multiples of 8
      { nTokens: 3, nHead: 2, nHeadKv: 1, dk: 64, dv: 64, nCells: 40, window: 0, softcap: 0, flags: 2 },
      { nTokens: 4, nHead: 4, nHeadKv: 2, dk: 32, dv: 32, nCells: 16, window: 5, softcap: 0, flags: 3 },
      // TILED where the shape does not allow it (llama.cpp falls back to ggml_vec_dot_f16)
      { nTokens: 2, nHead: 2, nHeadKv: 2, dk: 40, dv: 36, nCells: 9, window: 0, softcap: 0, flags: 2 },
    ];
    for (const c of cases) {
      const tag = JSON.stringify(c);
      const qStride = c.nHead * c.dk + 3, outStride = c.nHead * c.dv + 1;
      const q = activations(r, c.nTokens * qStride);
      const K = new Uint16Array(c.nCells * c.nHeadKv * c.dk).map(() => f32ToF16(gauss(r)));
      const V = new Uint16Array(c.nCells * c.nHeadKv * c.dv).map(() => f32ToF16(gauss(r)));
      const cellPos = Int32Array.from({ length: c.nCells }, (_, i) => (i % 11 === 5 ? -1 : c.nCells - 1 - i));
      const qPos = Int32Array.from({ length: c.nTokens }, (_, t) => c.nCells - c.nTokens + t - (c.flags & 1 ? 3 : 0));
      // V goes into memory transposed (the cache layout), with a row stride larger than n_cells
      const vStride = c.nCells + 5;
      const Vt = new Uint16Array(c.nHeadKv * c.dv * vStride);
      for (let cell = 0; cell < c.nCells; cell++)
        for (let i = 0; i < c.nHeadKv * c.dv; i++) Vt[i * vStride + cell] = V[cell * c.nHeadKv * c.dv + i];
      const ptrs = { q: put(h.core, q), k: put(h.core, K), v: put(h.core, Vt), cp: put(h.core, cellPos), qp: put(h.core, qPos) };
      const outs = [0, 1, 2].map(() => h.core.alloc(4 * c.nTokens * outStride));
      const args = (out: number) => ({
        q: ptrs.q, qStride, kCache: ptrs.k, vCache: ptrs.v, vStride, out, outStride, nTokens: c.nTokens, nHead: c.nHead, nHeadKv: c.nHeadKv,
        headDimK: c.dk, headDimV: c.dv, nCells: c.nCells, cellPos: ptrs.cp, qPos: ptrs.qp, scale: 1 / Math.sqrt(c.dk), window: c.window,
        softcap: c.softcap, flags: c.flags,
      });
      for (const o of outs) h.core.f32(o, c.nTokens * outStride).fill(0);
      h.simd.attention(args(outs[0]));
      h.ref.attention(args(outs[1]));
      h.split.attention(args(outs[2]));
      const got = h.core.f32(outs[0], c.nTokens * outStride).slice();
      expectSame(fails, `${tag} SIMD vs scalar`, got, h.core.f32(outs[1], c.nTokens * outStride));
      expectSame(fails, `${tag} 3 threads`, got, h.core.f32(outs[2], c.nTokens * outStride));
      // reference in double (f16 roundings of q and p kept)
      for (let t = 0; t < c.nTokens; t++)
        for (let hd = 0; hd < c.nHead; hd++) {
          const g = Math.floor(hd / (c.nHead / c.nHeadKv));
          const s: number[] = [];
          for (let cell = 0; cell < c.nCells; cell++) {
            const cp = cellPos[cell], qp = qPos[t];
            if (cp < 0 || (!(c.flags & 1) && cp > qp) || (c.window > 0 && qp - cp >= c.window)) {
              s.push(-Infinity);
              continue;
            }
            let dot = 0;
            for (let d = 0; d < c.dk; d++) dot += roundF16(q[t * qStride + hd * c.dk + d]) * f16ToF32(K[(cell * c.nHeadKv + g) * c.dk + d]);
            if (c.softcap) dot = Math.tanh(dot / c.softcap) * c.softcap;
            s.push(dot / Math.sqrt(c.dk));
          }
          const max = Math.max(...s);
          const e = s.map((v) => Math.exp(v - max)), sum = e.reduce((a, b) => a + b, 0);
          const p = e.map((v) => roundF16(v / sum));
          for (let d = 0; d < c.dv; d++) {
            let o = 0;
            for (let cell = 0; cell < c.nCells; cell++) o += p[cell] * f16ToF32(V[(cell * c.nHeadKv + g) * c.dv + d]);
            const v = got[t * outStride + hd * c.dv + d];
            if (!(Math.abs(v - o) < 2e-3)) fails.push(`${tag} t=${t} h=${hd} d=${d}: ${v} vs reference ${o}`);
          }
        }
    }
    return fails;
  },
};

const elementwise: Check = {
  name: 'elementwise + softmax: SIMD == scalar twin == 3 threads; exp/tanh within 1 ulp; SiLU/GELU as ggml',
  run(h) {
    const fails: Failures = [];
    const r = rng(8);
    const ops: [string, number, (o: CoreOps, a: number, b: number, out: number, n: number) => void][] = [
      ['silu_mul', Op.SILU_MUL, (o, a, b, out, n) => o.siluMul(a, b, out, n)],
      ['gelu_mul', Op.GELU_MUL, (o, a, b, out, n) => o.geluMul(a, b, out, n)],
      ['add', Op.ADD, (o, a, b, out, n) => o.add(a, b, out, n)],
      ['mul', Op.MUL, (o, a, b, out, n) => o.mul(a, b, out, n)],
      ['scale', Op.SCALE, (o, a, _b, out, n) => o.scale(a, 0.37, out, n)],
      ['softcap', Op.SOFTCAP, (o, a, _b, out, n) => o.softcap(a, 3.5, out, n)],
      ['exp', Op.EXP, (o, a, _b, out, n) => o.exp(a, out, n)],
      ['tanh', Op.TANH, (o, a, _b, out, n) => o.tanh(a, out, n)],
    ];
    // every f16 value through GELU: the SIMD path reads a table built at startup, the scalar twin computes
    {
      const n = 65536, a = Float32Array.from({ length: n }, (_, i) => f16ToF32(i)), b = activations(r, n);
      const ap = put(h.core, a), bp = put(h.core, b), outs = [0, 1].map(() => h.core.alloc(4 * n));
      h.simd.geluMul(ap, bp, outs[0], n);
      h.ref.geluMul(ap, bp, outs[1], n);
      expectSame(fails, 'gelu_mul over every f16 value: SIMD vs scalar', h.core.f32(outs[0], n), h.core.f32(outs[1], n));
      // SiLU's exp: the relaxed build takes fused FMAs where the host has them, the scalar twin emulates each one
      h.simd.siluMul(ap, bp, outs[0], n);
      h.ref.siluMul(ap, bp, outs[1], n);
      expectSame(fails, 'silu_mul over every f16 value: SIMD vs scalar', h.core.f32(outs[0], n), h.core.f32(outs[1], n));
    }
    for (const n of [1, 7, 8, 37, 1000]) {
      const a = activations(r, n).map((v) => v * 4), b = activations(r, n);
      if (n > 10) {
        a[0] = -10;
        a[1] = 10;
        a[2] = -12;
        a[3] = 15;
        a[4] = 1e-20;
        a[5] = -0;
        a[6] = 90;
        a[7] = -120;
      }
      const ap = put(h.core, a), bp = put(h.core, b);
      for (const [name, , fn] of ops) {
        const outs = [0, 1, 2].map(() => h.core.alloc(4 * n));
        fn(h.simd, ap, bp, outs[0], n);
        fn(h.ref, ap, bp, outs[1], n);
        fn(h.split, ap, bp, outs[2], n);
        const got = h.core.f32(outs[0], n).slice();
        expectSame(fails, `${name} n=${n} SIMD vs scalar`, got, h.core.f32(outs[1], n));
        expectSame(fails, `${name} n=${n} 3 threads`, got, h.core.f32(outs[2], n));
        const nvec = n - (n % 8);
        for (let i = 0; i < n; i++) {
          const x = a[i], g = b[i], v = got[i];
          let want: number, tol = 0;
          switch (name) {
            case 'silu_mul':
              want = i < nvec ? fround(fround(x / fround(1 + ggmlExpf(0 - x))) * g) : fround(fround(x / fround(1 + fround(Math.exp(-x)))) * g);
              tol = i < nvec ? 0 : 2;
              break;
            case 'gelu_mul': {
              const xf = roundF16(x);
              const inner = fround(fround(0.7978845608028654 * xf) * fmaF32(fround(0.044715 * xf), xf, 1));
              const gl = roundF16(fround(fround(0.5 * xf) * fround(1 + fround(Math.tanh(inner)))));
              want = x <= -10 ? 0 : x >= 10 ? fround(x * g) : fround(gl * g);
              tol = 2048; // a 1-ulp tanh difference may move the f16-rounded value by one f16 ulp
              break;
            }
            case 'add': want = fround(x + g); break;
            case 'mul': want = fround(x * g); break;
            case 'scale': want = fround(x * fround(0.37)); break;
            case 'softcap': want = fround(fround(Math.tanh(fround(x * fround(1 / fround(3.5))))) * fround(3.5)); tol = 1; break;
            case 'exp': want = fround(Math.exp(x)); tol = 1; break;
            default: want = fround(Math.tanh(x)); tol = 1;
          }
          if (ulpDiff(v, want) > tol) fails.push(`${name}(${x}, ${g}) = ${v}, reference ${want}`);
        }
      }
      // softmax rows
      for (const len of n >= 3 ? [n, 3] : [n]) {
        const rows = Math.max(1, Math.floor(n / len));
        const bufs = [0, 1, 2].map(() => put(h.core, a.subarray(0, rows * len)));
        h.simd.softmax(bufs[0], len, rows);
        h.ref.softmax(bufs[1], len, rows);
        h.split.softmax(bufs[2], len, rows);
        const got = h.core.f32(bufs[0], rows * len).slice();
        expectSame(fails, `softmax ${rows}x${len} SIMD vs scalar`, got, h.core.f32(bufs[1], rows * len));
        expectSame(fails, `softmax ${rows}x${len} 3 threads`, got, h.core.f32(bufs[2], rows * len));
        for (let row = 0; row < rows; row++) {
          const xs = Array.from(a.subarray(row * len, (row + 1) * len)), m = Math.max(...xs);
          const e = xs.map((v) => Math.exp(v - m)), s = e.reduce((p, q) => p + q, 0);
          e.forEach((v, i) => {
            if (Math.abs(got[row * len + i] - v / s) > 1e-6) fails.push(`softmax ${rows}x${len} [${row}][${i}] = ${got[row * len + i]} vs ${v / s}`);
          });
        }
      }
    }
    // accuracy sweep of exp/tanh against the correctly rounded value (fround of the double result)
    const n = 20000, xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = (r() - 0.5) * (i % 2 ? 200 : 20) * r();
    const xp = put(h.core, xs), out = h.core.alloc(4 * n);
    for (const [name, f, run] of [['exp', Math.exp, (o: number) => h.simd.exp(xp, o, n)], ['tanh', Math.tanh, (o: number) => h.simd.tanh(xp, o, n)]] as const) {
      run(out);
      const got = h.core.f32(out, n);
      let exact = 0;
      for (let i = 0; i < n; i++) {
        const want = fround(f(xs[i]));
        if (Object.is(got[i], want)) exact++;
        else if (ulpDiff(got[i], want) > 1) fails.push(`${name}(${xs[i]}) = ${got[i]} vs ${want}`);
      }
      if (exact < n * 0.999) fails.push(`${name}: only ${exact}/${n} correctly rounded`);
    }
    // ggml_v_expf port vs exp: within 2 ulp where the result is normal
    for (let i = 0; i < 2000; i++) {
      const x = (r() - 0.5) * 170;
      const v = ggmlExpf(x), want = fround(Math.exp(x));
      if (want > 1.2e-38 && want < 3e38 && ulpDiff(v, want) > 2) fails.push(`ggml expf reference(${x}) = ${v} vs ${want}`);
    }
    return fails;
  },
};

const stacks: Check = {
  name: 'a second instance over the same memory runs on its own stack',
  run(h) {
    const fails: Failures = [];
    const r = rng(9);
    const stackTop = h.core.allocStack(), stackBase = stackTop - 65536;
    h.core.u8(stackBase, 65536).fill(0);
    const second = new WebAssembly.Instance(h.core.module, { env: { memory: h.core.memory } }).exports as unknown as CoreExports;
    const firstSp = h.core.exports.__stack_pointer.value;
    second.__stack_pointer.value = stackTop;
    const ops2 = new CoreOps(h.core, new InlineExecutor(second));
    const t = WeightType.Q4_K, k = 512, nRows = 5, nCols = 6;
    const wp = put(h.core, weights(r, t, k, nRows)), xp = put(h.core, activations(r, k * nCols));
    const y1 = h.core.alloc(4 * nRows * nCols), y2 = h.core.alloc(4 * nRows * nCols);
    h.simd.matmul(t, wp, k, nRows, xp, nCols, y1);
    ops2.matmul(t, wp, k, nRows, xp, nCols, y2);
    expectSame(fails, 'second instance result', h.core.f32(y2, nRows * nCols), h.core.f32(y1, nRows * nCols));
    if (second.__stack_pointer.value !== stackTop) fails.push(`second instance stack pointer ${second.__stack_pointer.value} after the call, expected ${stackTop}`);
    if (h.core.exports.__stack_pointer.value !== firstSp) fails.push('first instance stack pointer moved');
    if (!h.core.u8(stackBase, 65536).some((v) => v !== 0)) fails.push('the second instance did not use its own stack region');
    return fails;
  },
};

/** The code shapes the host picks per JS engine (hearth_tune, hearth.h): the 1-column Q4_0 tile one block per
 * iteration or two (odd block counts leave one over), and the Q8_0 / Q4_1 / Q4_K / Q5_K matvecs with their blocks
 * pinned or not. Every combination must give the bits of the scalar twin; the flags go back to what the core started
 * with. */
const tuneShapes: Check = {
  name: 'every hearth_tune code shape gives the same bits (Q4_0 loop, pinned blocks)',
  run(h) {
    const fails: Failures = [];
    const r = rng(21);
    const start = tuneFlags();
    const cases: [number, number[]][] = [
      [WeightType.Q4_0, [32, 96, 160, 1024]],
      [WeightType.Q8_0, [96, 1024]],
      [WeightType.Q4_1, [96, 1024]],
      [WeightType.Q4_K, [256, 768]],
      [WeightType.Q5_K, [256, 768]],
      [WeightType.Q6_K, [256]],
    ];
    try {
      for (const [t, ks] of cases) {
        for (const k of ks) {
          for (const [nRows, nCols] of [[13, 1], [33, 1], [13, 3]]) {
            const wp = put(h.core, weights(r, t, k, nRows)), xp = put(h.core, activations(r, k * nCols));
            const n = nRows * nCols, ref = h.core.alloc(4 * n), y = h.core.alloc(4 * n);
            h.ref.matmul(t, wp, k, nRows, xp, nCols, ref);
            for (const flags of [0, TUNE_Q4_0_ONE_BLOCK, TUNE_PIN, TUNE_Q4_0_ONE_BLOCK | TUNE_PIN]) {
              h.core.exports.hearth_tune(flags);
              h.simd.matmul(t, wp, k, nRows, xp, nCols, y);
              expectSame(fails, `${typeName[t]} k=${k} rows=${nRows} n_cols=${nCols} flags ${flags}`, h.core.f32(y, n), h.core.f32(ref, n));
            }
          }
        }
      }
    } finally {
      h.core.exports.hearth_tune(start);
    }
    return fails;
  },
};

export const checks: Check[] = [quantizeAct, matmul, matmulTiles, tuneShapes, fmaHalfway, getRows, interleaved, rmsNorm, layerNorm, matmulTiled, rope, kvStore, attention, elementwise, stacks];

/** The same random matmuls on two builds: results must be bit-identical (activation layouts differ, numerics don't). */
export function crossBuildMatmul(a: Harness, b: Harness): Failures {
  const fails: Failures = [];
  for (const t of matmulTypes) {
    for (const k of shapesFor(t)) {
      const r = rng(t * 1000 + k);
      // 13 rows: the fused Q4_0 path takes rows 8 and 4 at a time, then one by one
      const nRows = 13, nCols = 9, w = weights(r, t, k, nRows), x = activations(r, k * nCols);
      const ys = [a, b].map((h) => {
        const wp = put(h.core, w), xp = put(h.core, x), y = h.core.alloc(4 * nRows * nCols);
        h.simd.matmul(t, wp, k, nRows, xp, nCols, y);
        return h.core.f32(y, nRows * nCols).slice();
      });
      expectSame(fails, `${typeName[t]} k=${k} ${a.build} vs ${b.build}`, ys[0], ys[1]);
    }
  }
  return fails;
}

export { f32Bits };
