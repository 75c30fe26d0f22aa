/**
 * sinf/cosf exactly as llama.cpp gets them on Linux x86-64: ggml builds its RoPE table with cosf/sinf (gcc merges
 * them into sincosf) from the host's glibc, whose float sine/cosine (glibc 2.28 and later, the ARM
 * optimized-routines algorithm) is not correctly rounded: about 2% of RoPE angles come out one ulp away from the
 * nearest float, and a one-ulp change in cos/sin is enough to flip an f16 K-cache entry. On a CPU with FMA, glibc
 * runs the variant built with -mfma, where gcc fuses every `a + b * c` of the algorithm; we evaluate the same
 * expressions in the same order with an exactly emulated double FMA (checked bit for bit against glibc 2.36's
 * sincosf for all floats from 2^-7 to 2^17 sampled every 7th).
 *
 * Outline (our own code; constants are glibc's s_sincosf_data.c): |y| < pi/4 evaluates the polynomials directly;
 * |y| < 120 reduces by the nearest multiple of pi/2 in one fused multiply-subtract; larger |y| reduces with integer
 * arithmetic on a 192-bit 4/pi; the quadrant picks the signs, the cosine table variant and whether sin and cos swap.
 */

// ---- exact double fused multiply-add ---------------------------------------------------------------------------

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const SPLITTER = 134217729; // 2^27 + 1: Veltkamp split into two 26-bit halves

/**
 * a * b + c rounded once (Boldo & Melquiond's emulation: the exact product as a double pair, TwoSum with c, the
 * low parts added with round-to-odd, then one rounding to nearest). Exact for finite inputs whose products neither
 * overflow nor underflow, which holds for every argument here.
 */
export function fmaF64(a: number, b: number, c: number): number {
  const ph = a * b;
  const as = SPLITTER * a, ahi = as - (as - a), alo = a - ahi;
  const bs = SPLITTER * b, bhi = bs - (bs - b), blo = b - bhi;
  const pl = ((ahi * bhi - ph) + ahi * blo + alo * bhi) + alo * blo;
  // c + ph = th + tl exactly
  const th = c + ph;
  const tv = th - c;
  const tl = (c - (th - tv)) + (ph - tv);
  // v = tl + pl rounded to odd
  let v = tl + pl;
  const vv = v - tl;
  const ve = (tl - (v - vv)) + (pl - vv);
  if (ve !== 0) {
    f64[0] = v;
    if ((u32[0] & 1) === 0) {
      const up = (ve > 0) === (v > 0); // move away from zero when the error points away from zero
      if (up) {
        u32[0] += 1;
      } else if (u32[0] === 0) {
        u32[0] = 0xffffffff;
        u32[1] -= 1;
      } else {
        u32[0] -= 1;
      }
      v = f64[0];
    }
  }
  return th + v;
}

/** A double from C's hex-float notation (JS has no hex-float literals): exact, the digits fit 53 bits. */
function hex(literal: string): number {
  const m = /^([0-9a-f])\.([0-9a-f]+)p([+-]\d+)$/.exec(literal);
  if (!m) throw new Error(`bad hex float ${literal}`);
  return Number(BigInt(`0x${m[1]}${m[2]}`)) * 2 ** (Number(m[3]) - 4 * m[2].length);
}

// ---- glibc's sincosf ---------------------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const f32u = new Uint32Array(f32.buffer);
function f32Bits(x: number): number {
  f32[0] = x;
  return f32u[0];
}
/** Top 12 bits of a float's encoding without the sign (glibc's abstop12). */
function top12(x: number): number {
  return (f32Bits(x) >>> 20) & 0x7ff;
}

const TOP_PIO4 = 0x3f4; // pi/4 as a float
const TOP_TINY = 0x398; // 2^-12
const TOP_120 = 0x42f; // 120
const TOP_INF = 0x7f8;

const HALF_PI_INV_2P24 = hex('1.45f306dc9c883p+23'); // 2/pi * 2^24: the quadrant lands in bits 24..31
const HALF_PI = hex('1.921fb54442d18p+0');
const PI_2PM62 = hex('1.921fb54442d18p-62'); // 2pi * 2^-64: scales the 2.62 fixed-point remainder
const QUADRANT_SIGN = [1, -1, -1, 1];
/** Cosine coefficients c0..c4; the second variant is negated (quadrants 2 and 3). Sine coefficients s1..s3. */
const COS = [
  [1, -hex('1.ffffffd0c621cp-2'), hex('1.55553e1068f19p-5'), -hex('1.6c087e89a359dp-10'), hex('1.99343027bf8c3p-16')],
  [-1, hex('1.ffffffd0c621cp-2'), -hex('1.55553e1068f19p-5'), hex('1.6c087e89a359dp-10'), -hex('1.99343027bf8c3p-16')],
];
const SIN = [-hex('1.555545995a603p-3'), hex('1.1107605230bc4p-7'), -hex('1.994eb3774cf24p-13')];
/** 4/pi to 192 bits, each entry 8 bits further along (so any 32-bit window is one aligned read in C). */
const INV_PIO4 = [
  0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
  0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1, 0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
  0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
].map(BigInt);

const M64 = (1n << 64n) - 1n;

/** Writes cos into out[at] and sin into out[at + 1] (out is f32, so the final roundings are the stores). */
function polynomials(x: number, x2: number, table: number, quadrant: number, out: Float32Array, at: number): void {
  const c = COS[table];
  const x4 = x2 * x2;
  const x3 = x2 * x;
  const c2 = fmaF64(x2, c[4], c[3]);
  const s1 = fmaF64(x2, SIN[2], SIN[1]);
  const c1 = fmaF64(x2, c[1], c[0]);
  const x5 = x3 * x2;
  const x6 = x4 * x2;
  const s = fmaF64(x3, SIN[0], x);
  const cc = fmaF64(x4, c[2], c1);
  const sinPoly = fmaF64(x5, s1, s);
  const cosPoly = fmaF64(x6, c2, cc);
  // odd quadrants swap the two
  out[at] = quadrant & 1 ? sinPoly : cosPoly;
  out[at + 1] = quadrant & 1 ? cosPoly : sinPoly;
}

/** cosf(y) into out[at], sinf(y) into out[at + 1], as glibc's sincosf on an FMA-capable x86-64. y is a float value. */
export function sinCosF32(y: number, out: Float32Array, at: number): void {
  const top = top12(y);
  if (top < TOP_PIO4) {
    if (top < TOP_TINY) {
      out[at] = 1;
      out[at + 1] = y;
      return;
    }
    polynomials(y, y * y, 0, 0, out, at);
  } else if (top < TOP_120) {
    // (int32)(y * 2/pi * 2^24), rounded to the nearest quadrant by the shift
    const n = ((Math.trunc(y * HALF_PI_INV_2P24) + 0x800000) | 0) >> 24;
    const x = fmaF64(-n, HALF_PI, y);
    const s = QUADRANT_SIGN[n & 3];
    polynomials(x * s, x * x, n & 2 ? 1 : 0, n, out, at);
  } else if (top < TOP_INF) {
    const bits = f32Bits(y);
    const sign = bits >>> 31;
    const idx = (bits >>> 26) & 15;
    const shift = BigInt((bits >>> 23) & 7);
    const m = BigInt((bits & 0xffffff) | 0x800000) << shift; // fits 32 bits: C keeps it in a uint32
    // 32x96-bit product, top 32 bits dropped: the 2.62 fixed-point remainder of y * 4/pi / 2
    let r0 = (m * INV_PIO4[idx]) & 0xffffffffn;
    const r1 = m * INV_PIO4[idx + 4];
    const r2 = m * INV_PIO4[idx + 8];
    r0 = ((r2 >> 32n) | (r0 << 32n)) & M64;
    r0 = (r0 + r1) & M64;
    const n = Number(((r0 + (1n << 61n)) & M64) >> 62n);
    r0 = (r0 - (BigInt(n) << 62n)) & M64;
    const x = Number(BigInt.asIntN(64, r0)) * PI_2PM62;
    const q = (n + sign) & 3;
    polynomials(x * QUADRANT_SIGN[q], x * x, q & 2 ? 1 : 0, n, out, at);
  } else {
    out[at] = out[at + 1] = NaN;
  }
}
