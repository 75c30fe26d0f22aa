/**
 * Encode f32 values into ggml weight types, and decode them back (spec gguf.md §2–3). Used by the GGUF writer, the
 * synthetic-model generator and tests; the inference core has its own dequantizers in C.
 *
 * Q8_0, Q4_0 and Q4_1 follow ggml's reference quantizers (quantize_row_*_ref) step for step in f32 arithmetic, so a
 * model quantized here has the same bytes as one quantized by llama.cpp without an importance matrix. The K-quants use
 * a plain min/max quantizer: valid blocks that approximate the input, without ggml's error-minimising search.
 */
import { GGML_TYPE, ggmlType } from './types.ts';

const f32 = Math.fround;

// ---- half and bfloat16 --------------------------------------------------------------------------------------------

const convF32 = new Float32Array(1);
const convU32 = new Uint32Array(convF32.buffer);

/** f32 → IEEE binary16 bits, round to nearest even; NaN becomes a quiet NaN (as ggml's fp32_to_fp16). */
export function f32ToF16(x: number): number {
  convF32[0] = x;
  const w = convU32[0];
  const sign = (w >>> 16) & 0x8000;
  const exp = (w >>> 23) & 0xff;
  let mant = w & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half (or zero): shift the full significand, rounding to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (and reaches infinity at the top)
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** IEEE binary16 bits → f32 value (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** f32 → bfloat16 bits, round to nearest even; NaN forced quiet (as ggml's fp32_to_bf16). */
export function f32ToBf16(x: number): number {
  convF32[0] = x;
  const u = convU32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(b: number): number {
  convU32[0] = (b << 16) >>> 0;
  return convF32[0];
}

// C's roundf: half away from zero.
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

// ---- the legacy 32-element blocks (ggml reference quantizers) -----------------------------------------------------

function quantizeQ8_0(x: Float32Array, out: DataView): void {
  for (let b = 0, o = 0; b < x.length; b += 32, o += 34) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
    const d = f32(amax / 127);
    const id = d ? f32(1 / d) : 0;
    out.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) out.setInt8(o + 2 + j, roundf(f32(x[b + j] * id)));
  }
}

function quantizeQ4_0(x: Float32Array, out: DataView): void {
  for (let b = 0, o = 0; b < x.length; b += 32, o += 18) {
    // the value of largest magnitude, sign kept (first one wins a tie), maps to -8
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[b + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f32(max / -8);
    const id = d ? f32(1 / d) : 0;
    out.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      // (int8_t)(x*id + 8.5f): truncation toward zero
      const lo = Math.min(15, Math.trunc(f32(f32(x[b + j] * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(f32(f32(x[b + 16 + j] * id) + 8.5)));
      out.setUint8(o + 2 + j, lo | (hi << 4));
    }
  }
}

function quantizeQ4_1(x: Float32Array, out: DataView): void {
  for (let b = 0, o = 0; b < x.length; b += 32, o += 20) {
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < 32; j++) {
      const v = x[b + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = f32(f32(max - min) / 15);
    const id = d ? f32(1 / d) : 0;
    out.setUint16(o, f32ToF16(d), true);
    out.setUint16(o + 2, f32ToF16(min), true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(f32(f32(f32(x[b + j] - min) * id) + 0.5)));
      const hi = Math.min(15, Math.trunc(f32(f32(f32(x[b + 16 + j] - min) * id) + 0.5)));
      out.setUint8(o + 4 + j, lo | (hi << 4));
    }
  }
}

// ---- K-quants: 256-element super-blocks ---------------------------------------------------------------------------

/**
 * Per-32-group affine codes for Q4_K/Q5_K: each group gets a 6-bit scale and a 6-bit min (the offset subtracted),
 * both multiples of the super-block's f16 `d` and `dmin`. Returns the quant levels (0..levels) for all 256 values.
 */
// scratch reused across super-blocks: quantizing a multi-GB model must not allocate per block
const groupScale = new Float64Array(16);
const groupOffset = new Float64Array(8);
const groupSc = new Uint8Array(8);
const groupMin = new Uint8Array(8);
const levelsOut = new Uint8Array(256);

function affineSuperBlock(x: Float32Array, b: number, levels: number, out: DataView, o: number): Uint8Array {
  let maxScale = 0;
  let maxOffset = 0;
  for (let g = 0; g < 8; g++) {
    // the group's minimum is represented as -dmin*m with m >= 0, so groups of positive values start at 0
    let lo = 0;
    let hi = -Infinity;
    for (let j = b + 32 * g, end = j + 32; j < end; j++) {
      const v = x[j];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    groupScale[g] = (hi - lo) / levels;
    groupOffset[g] = -lo;
    if (groupScale[g] > maxScale) maxScale = groupScale[g];
    if (groupOffset[g] > maxOffset) maxOffset = groupOffset[g];
  }
  const d = f16ToF32(f32ToF16(maxScale / 63));
  const dmin = f16ToF32(f32ToF16(maxOffset / 63));
  out.setUint16(o, f32ToF16(d), true);
  out.setUint16(o + 2, f32ToF16(dmin), true);
  const sc = groupSc;
  const mn = groupMin;
  for (let g = 0; g < 8; g++) {
    sc[g] = d > 0 ? Math.min(63, Math.round(groupScale[g] / d)) : 0;
    // round the offset up so that the group's minimum stays reachable
    mn[g] = dmin > 0 ? Math.min(63, Math.ceil(groupOffset[g] / dmin - 1e-6)) : 0;
  }
  // inverse of get_scale_min_k4 (spec gguf.md §3.5)
  for (let s = 0; s < 4; s++) {
    out.setUint8(o + 4 + s, (sc[s] & 63) | ((sc[s + 4] >> 4) << 6));
    out.setUint8(o + 8 + s, (mn[s] & 63) | ((mn[s + 4] >> 4) << 6));
    out.setUint8(o + 12 + s, (sc[s + 4] & 15) | ((mn[s + 4] & 15) << 4));
  }
  const q = levelsOut;
  for (let g = 0; g < 8; g++) {
    const step = f32(d * sc[g]);
    const inv = step > 0 ? 1 / step : 0;
    const base = f32(dmin * mn[g]);
    for (let j = 0; j < 32; j++) {
      const l = Math.round((x[b + 32 * g + j] + base) * inv);
      q[32 * g + j] = l < 0 ? 0 : l > levels ? levels : l;
    }
  }
  return q;
}

function quantizeQ4_K(x: Float32Array, out: DataView): void {
  for (let b = 0, o = 0; b < x.length; b += 256, o += 144) {
    const q = affineSuperBlock(x, b, 15, out, o);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) out.setUint8(o + 16 + 32 * c + l, q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    }
  }
}

const highBits = new Uint8Array(32);

function quantizeQ5_K(x: Float32Array, out: DataView): void {
  for (let b = 0, o = 0; b < x.length; b += 256, o += 176) {
    const q = affineSuperBlock(x, b, 31, out, o);
    const qh = highBits.fill(0);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const lo = q[64 * c + l];
        const hi = q[64 * c + 32 + l];
        out.setUint8(o + 48 + 32 * c + l, (lo & 15) | ((hi & 15) << 4));
        qh[l] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1));
      }
    }
    for (let l = 0; l < 32; l++) out.setUint8(o + 16 + l, qh[l]);
  }
}

function quantizeQ6_K(x: Float32Array, out: DataView): void {
  const scale = groupScale;
  const q = levelsOut;
  for (let b = 0, o = 0; b < x.length; b += 256, o += 210) {
    // per 16-group: the value of largest magnitude (sign kept) maps to -32, as Q4_0 does with -8
    let smax = 0;
    for (let g = 0; g < 16; g++) {
      let amax = 0;
      let max = 0;
      for (let j = b + 16 * g, end = j + 16; j < end; j++) {
        const v = x[j];
        if (amax < Math.abs(v)) {
          amax = Math.abs(v);
          max = v;
        }
      }
      scale[g] = max / -32;
      if (amax / 32 > smax) smax = amax / 32;
    }
    const d = f16ToF32(f32ToF16(smax / 127));
    out.setUint16(o + 208, f32ToF16(d), true);
    for (let g = 0; g < 16; g++) {
      const sc = d > 0 ? Math.max(-128, Math.min(127, Math.round(scale[g] / d))) : 0;
      out.setInt8(o + 192 + g, sc);
      const step = f32(d * sc);
      const inv = step !== 0 ? 1 / step : 0;
      for (let j = 0; j < 16; j++) {
        const l = Math.round(x[b + 16 * g + j] * inv);
        q[16 * g + j] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
      }
    }
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n;
      const qh = o + 128 + 32 * n;
      const y = 128 * n;
      for (let l = 0; l < 32; l++) {
        const q1 = q[y + l];
        const q2 = q[y + l + 32];
        const q3 = q[y + l + 64];
        const q4 = q[y + l + 96];
        out.setUint8(ql + l, (q1 & 15) | ((q3 & 15) << 4));
        out.setUint8(ql + l + 32, (q2 & 15) | ((q4 & 15) << 4));
        out.setUint8(qh + l, (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

// ---- dequantizers (spec gguf.md §3) -------------------------------------------------------------------------------

function getScaleMinK4(s: Uint8Array, j: number): [number, number] {
  if (j < 4) return [s[j] & 63, s[j + 4] & 63];
  return [(s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4)];
}

function dequantizeAffineK(src: DataView, bytes: Uint8Array, y: Float32Array, five: boolean): void {
  const blockBytes = five ? 176 : 144;
  const qsAt = five ? 48 : 16;
  for (let b = 0, o = 0; b < y.length; b += 256, o += blockBytes) {
    const d = f16ToF32(src.getUint16(o, true));
    const dmin = f16ToF32(src.getUint16(o + 2, true));
    const scales = bytes.subarray(o + 4, o + 16);
    for (let c = 0; c < 4; c++) {
      const [sc1, m1] = getScaleMinK4(scales, 2 * c);
      const [sc2, m2] = getScaleMinK4(scales, 2 * c + 1);
      const d1 = f32(d * sc1), mm1 = f32(dmin * m1);
      const d2 = f32(d * sc2), mm2 = f32(dmin * m2);
      for (let l = 0; l < 32; l++) {
        const q = bytes[o + qsAt + 32 * c + l];
        let lo = q & 15;
        let hi = q >> 4;
        if (five) {
          const h = bytes[o + 16 + l];
          lo += ((h >> (2 * c)) & 1) * 16;
          hi += ((h >> (2 * c + 1)) & 1) * 16;
        }
        y[b + 64 * c + l] = f32(f32(d1 * lo) - mm1);
        y[b + 64 * c + 32 + l] = f32(f32(d2 * hi) - mm2);
      }
    }
  }
}

function dequantizeQ6_K(src: DataView, bytes: Uint8Array, y: Float32Array): void {
  for (let b = 0, o = 0; b < y.length; b += 256, o += 210) {
    const d = f16ToF32(src.getUint16(o + 208, true));
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n;
      const qh = o + 128 + 32 * n;
      const sc = o + 192 + 8 * n;
      const out = b + 128 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l];
        const q1 = ((bytes[ql + l] & 15) | ((h & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32] & 15) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        y[out + l] = f32(f32(d * src.getInt8(sc + is)) * q1);
        y[out + l + 32] = f32(f32(d * src.getInt8(sc + is + 2)) * q2);
        y[out + l + 64] = f32(f32(d * src.getInt8(sc + is + 4)) * q3);
        y[out + l + 96] = f32(f32(d * src.getInt8(sc + is + 6)) * q4);
      }
    }
  }
}

/** Types this module can encode and decode. */
export const quantizableTypes: readonly number[] = [
  GGML_TYPE.F32, GGML_TYPE.F16, GGML_TYPE.BF16, GGML_TYPE.Q8_0, GGML_TYPE.Q4_0, GGML_TYPE.Q4_1,
  GGML_TYPE.Q4_K, GGML_TYPE.Q5_K, GGML_TYPE.Q6_K,
];

function blockInfo(type: number, n: number, what: string) {
  const t = ggmlType(type);
  if (!t || !quantizableTypes.includes(type)) throw new Error(`${what}: unsupported type ${t?.name ?? type}`);
  if (n % t.blockSize !== 0) throw new Error(`${what}: ${n} values is not a multiple of ${t.name}'s block size ${t.blockSize}`);
  return t;
}

/** Encode values (a whole number of blocks; a block never spans rows, so rows can be encoded separately). */
export function quantize(type: number, x: Float32Array): Uint8Array {
  const t = blockInfo(type, x.length, 'quantize');
  const out = new Uint8Array((x.length / t.blockSize) * t.typeSize);
  const view = new DataView(out.buffer);
  switch (type) {
    case GGML_TYPE.F32:
      new Float32Array(out.buffer).set(x);
      break;
    case GGML_TYPE.F16: {
      const h = new Uint16Array(out.buffer);
      for (let i = 0; i < x.length; i++) h[i] = f32ToF16(x[i]);
      break;
    }
    case GGML_TYPE.BF16: {
      const h = new Uint16Array(out.buffer);
      for (let i = 0; i < x.length; i++) h[i] = f32ToBf16(x[i]);
      break;
    }
    case GGML_TYPE.Q8_0: quantizeQ8_0(x, view); break;
    case GGML_TYPE.Q4_0: quantizeQ4_0(x, view); break;
    case GGML_TYPE.Q4_1: quantizeQ4_1(x, view); break;
    case GGML_TYPE.Q4_K: quantizeQ4_K(x, view); break;
    case GGML_TYPE.Q5_K: quantizeQ5_K(x, view); break;
    case GGML_TYPE.Q6_K: quantizeQ6_K(x, view); break;
  }
  return out;
}

/** Decode `n` values of `type` from the start of `bytes`. */
export function dequantize(type: number, bytes: Uint8Array, n: number): Float32Array {
  const t = blockInfo(type, n, 'dequantize');
  const size = (n / t.blockSize) * t.typeSize;
  if (bytes.byteLength < size) throw new Error(`dequantize: ${n} ${t.name} values need ${size} bytes, got ${bytes.byteLength}`);
  const src = new DataView(bytes.buffer, bytes.byteOffset, size);
  const y = new Float32Array(n);
  switch (type) {
    case GGML_TYPE.F32:
      for (let i = 0; i < n; i++) y[i] = src.getFloat32(4 * i, true);
      break;
    case GGML_TYPE.F16:
      for (let i = 0; i < n; i++) y[i] = f16ToF32(src.getUint16(2 * i, true));
      break;
    case GGML_TYPE.BF16:
      for (let i = 0; i < n; i++) y[i] = bf16ToF32(src.getUint16(2 * i, true));
      break;
    case GGML_TYPE.Q8_0:
      for (let b = 0, o = 0; b < n; b += 32, o += 34) {
        const d = f16ToF32(src.getUint16(o, true));
        for (let j = 0; j < 32; j++) y[b + j] = f32(src.getInt8(o + 2 + j) * d);
      }
      break;
    case GGML_TYPE.Q4_0:
      for (let b = 0, o = 0; b < n; b += 32, o += 18) {
        const d = f16ToF32(src.getUint16(o, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 2 + j];
          y[b + j] = f32(((q & 15) - 8) * d);
          y[b + 16 + j] = f32(((q >> 4) - 8) * d);
        }
      }
      break;
    case GGML_TYPE.Q4_1:
      for (let b = 0, o = 0; b < n; b += 32, o += 20) {
        const d = f16ToF32(src.getUint16(o, true));
        const m = f16ToF32(src.getUint16(o + 2, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 4 + j];
          y[b + j] = f32(f32((q & 15) * d) + m);
          y[b + 16 + j] = f32(f32((q >> 4) * d) + m);
        }
      }
      break;
    case GGML_TYPE.Q4_K: dequantizeAffineK(src, bytes, y, false); break;
    case GGML_TYPE.Q5_K: dequantizeAffineK(src, bytes, y, true); break;
    case GGML_TYPE.Q6_K: dequantizeQ6_K(src, bytes, y); break;
  }
  return y;
}
