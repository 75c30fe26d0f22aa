/**
 * Independent TypeScript references for the core's kernels (spec gguf.md §2–4 and llama.cpp's x86 numerics),
 * written from the spec rather than from the C: f16/bf16 conversion, dequantization of every block layout, the
 * x86 activation quantizers, and float helpers. Shared by test/kernels.test.ts and the Deno relaxed-build check.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export const fround = Math.fround;

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}
export function bitsF32(u: number): number {
  u32[0] = u >>> 0;
  return f32[0];
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round-to-nearest-even f32 -> f16 bits, by arithmetic on the value (not on its bits). */
export function f32ToF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    const q = roundHalfEven(a / 2 ** -24); // subnormal units (may reach 1024 = smallest normal)
    return sign | q;
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export const roundF16 = (x: number): number => f16ToF32(f32ToF16(x));

export function f32ToBf16(x: number): number {
  const u = f32Bits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
export const bf16ToF32 = (b: number): number => bitsF32(b << 16);

/** fma(a, b, c) rounded to f32, the product exact in double (as the core emulates it). */
export const fmaF32 = (a: number, b: number, c: number): number => fround(a * b + c);

/** Distance in units of the last place between two f32 values of the same sign (0 if bit-identical). */
export function ulpDiff(a: number, b: number): number {
  if (Object.is(a, b)) return 0;
  if (Number.isNaN(a) || Number.isNaN(b)) return Infinity;
  const ia = f32Bits(a) | 0, ib = f32Bits(b) | 0;
  const ka = ia < 0 ? 0x80000000 - ia : ia, kb = ib < 0 ? 0x80000000 - ib : ib;
  return Math.abs(ka - kb);
}

// ---- dequantization, spec gguf.md §3 (every product/difference rounded to f32 as listed) ----

function scaleMin(sc: Uint8Array, s: number): [number, number] {
  if (s < 4) return [sc[s] & 63, sc[s + 4] & 63];
  return [(sc[s + 4] & 0x0f) | ((sc[s - 4] >> 6) << 4), (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4)];
}

export function dequantizeRow(type: number, bytes: Uint8Array, k: number): Float32Array {
  const out = new Float32Array(k);
  const h = (o: number): number => f16ToF32(bytes[o] | (bytes[o + 1] << 8));
  switch (type) {
    case 0:
      return new Float32Array(bytes.slice(0, 4 * k).buffer);
    case 1:
      for (let i = 0; i < k; i++) out[i] = h(2 * i);
      return out;
    case 30:
      for (let i = 0; i < k; i++) out[i] = bf16ToF32(bytes[2 * i] | (bytes[2 * i + 1] << 8));
      return out;
    case 8:
      for (let b = 0; b < k / 32; b++) {
        const d = h(34 * b);
        for (let j = 0; j < 32; j++) out[32 * b + j] = fround(((bytes[34 * b + 2 + j] << 24) >> 24) * d);
      }
      return out;
    case 2:
      for (let b = 0; b < k / 32; b++) {
        const d = h(18 * b);
        for (let j = 0; j < 16; j++) {
          const q = bytes[18 * b + 2 + j];
          out[32 * b + j] = fround(((q & 15) - 8) * d);
          out[32 * b + j + 16] = fround(((q >> 4) - 8) * d);
        }
      }
      return out;
    case 3:
      for (let b = 0; b < k / 32; b++) {
        const d = h(20 * b), m = h(20 * b + 2);
        for (let j = 0; j < 16; j++) {
          const q = bytes[20 * b + 4 + j];
          out[32 * b + j] = fround(fround((q & 15) * d) + m);
          out[32 * b + j + 16] = fround(fround((q >> 4) * d) + m);
        }
      }
      return out;
    case 12:
    case 13: {
      const five = type === 13, bb = five ? 176 : 144;
      for (let b = 0; b < k / 256; b++) {
        const o = bb * b, d = h(o), dmin = h(o + 2);
        const scales = bytes.subarray(o + 4, o + 16), qh = bytes.subarray(o + 16, o + 48), qs = bytes.subarray(o + (five ? 48 : 16));
        for (let c = 0; c < 4; c++) {
          const [sc1, m1] = scaleMin(scales, 2 * c), [sc2, m2] = scaleMin(scales, 2 * c + 1);
          const D1 = fround(d * sc1), M1 = fround(dmin * m1), D2 = fround(d * sc2), M2 = fround(dmin * m2);
          for (let l = 0; l < 32; l++) {
            const lo = (qs[32 * c + l] & 15) + (five ? ((qh[l] >> (2 * c)) & 1) * 16 : 0);
            const hi = (qs[32 * c + l] >> 4) + (five ? ((qh[l] >> (2 * c + 1)) & 1) * 16 : 0);
            out[256 * b + 64 * c + l] = fround(fround(D1 * lo) - M1);
            out[256 * b + 64 * c + 32 + l] = fround(fround(D2 * hi) - M2);
          }
        }
      }
      return out;
    }
    case 14:
      for (let b = 0; b < k / 256; b++) {
        const o = 210 * b, d = h(o + 208);
        for (let n = 0; n < 2; n++) {
          const ql = bytes.subarray(o + 64 * n), qh = bytes.subarray(o + 128 + 32 * n), sc = bytes.subarray(o + 192 + 8 * n);
          const s = (i: number): number => (sc[i] << 24) >> 24;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const q1 = ((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32;
            const q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            const base = 256 * b + 128 * n;
            out[base + l] = fround(fround(d * s(is)) * q1);
            out[base + l + 32] = fround(fround(d * s(is + 2)) * q2);
            out[base + l + 64] = fround(fround(d * s(is + 4)) * q3);
            out[base + l + 96] = fround(fround(d * s(is + 6)) * q4);
          }
        }
      }
      return out;
    default:
      throw new Error(`no reference dequantizer for type ${type}`);
  }
}

// ---- activation quantization as llama.cpp's x86 backend (spec gguf.md §4) ----

export interface Q8Blocks {
  /** quants, k of them */
  qs: Int8Array;
  /** per block: d as stored (Q8_0/Q8_1: the f16 value; Q8_K: f32) */
  d: Float32Array;
  /** Q8_1: s = f16(d * sum) per block; Q8_K: the 16-value sums */
  s?: Float32Array;
  bsums?: Int16Array;
}

/** quantize_row_q8_0 / q8_1 of the AVX2 build: d = amax/127, q = round-half-even(x * (127/amax)). */
export function quantizeQ8x86(x: Float32Array, withSum: boolean): Q8Blocks {
  const nb = x.length / 32, qs = new Int8Array(x.length), d = new Float32Array(nb), s = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
    const dd = fround(amax / 127);
    const id = amax !== 0 ? fround(127 / amax) : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const q = Math.max(-128, Math.min(127, roundHalfEven(fround(x[32 * b + j] * id))));
      qs[32 * b + j] = q;
      sum += q;
    }
    d[b] = roundF16(dd);
    s[b] = roundF16(fround(dd * sum));
  }
  return withSum ? { qs, d, s } : { qs, d };
}

/** quantize_row_q8_K_ref. */
export function quantizeQ8K(x: Float32Array): Q8Blocks {
  const nb = x.length / 256, qs = new Int8Array(x.length), d = new Float32Array(nb), bsums = new Int16Array(x.length / 16);
  for (let b = 0; b < nb; b++) {
    let amax = 0, max = 0;
    for (let j = 0; j < 256; j++) {
      const ax = Math.abs(x[256 * b + j]);
      if (ax > amax) {
        amax = ax;
        max = x[256 * b + j];
      }
    }
    if (amax === 0) continue;
    const iscale = fround(-127 / max);
    for (let j = 0; j < 256; j++) qs[256 * b + j] = Math.min(127, roundHalfEven(fround(iscale * x[256 * b + j])));
    for (let g = 0; g < 16; g++) {
      let sum = 0;
      for (let j = 0; j < 16; j++) sum += qs[256 * b + 16 * g + j];
      bsums[16 * b + g] = sum;
    }
    d[b] = fround(1 / iscale);
  }
  return { qs, d, bsums };
}

// ---- ggml_v_expf (AVX2+FMA) and friends, for the softmax / SiLU references ----

/** A float given as 0x1.<24-bit hex mantissa>p<exp> (exactly representable in f32). */
const hexf = (mantissa: number, exp: number): number => (1 + mantissa / 2 ** 24) * 2 ** exp;

export function ggmlExpf(x: number): number {
  const r = 12582912; // 0x1.8p23
  const z = fmaF32(x, hexf(0x715476, 0), r);
  const n = fround(z - r);
  const b = fmaF32(-n, hexf(0x7f7d1c, -20), fmaF32(-n, hexf(0x62e400, -1), x));
  const e = (f32Bits(z) << 23) >>> 0;
  const k = bitsF32((e + 0x3f800000) >>> 0);
  const u = fround(b * b);
  const c4 = hexf(0x0e4020, -7), c3 = hexf(0x573e2e, -5), c2 = hexf(0x555e66, -3), c1 = hexf(0xfffdb6, -2), c0 = hexf(0xffffec, -1);
  const j = fmaF32(fmaF32(fmaF32(c4, b, c3), u, fmaF32(c2, b, c1)), u, fround(c0 * b));
  const an = Math.abs(n);
  if (!(an > 126)) return fmaF32(j, k, k);
  const g = n <= 0 ? 0x82000000 : 0;
  const s1 = bitsF32((g + 0x7f000000) >>> 0), s2 = bitsF32((e - g) >>> 0);
  if (an > 192) return fround(s1 * s1);
  return fround(fmaF32(s2, j, s2) * s1);
}
