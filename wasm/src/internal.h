/* Shared by every kernel file: SIMD helpers, number format conversions, the type table, kernel prototypes. */
#ifndef HEARTH_INTERNAL_H
#define HEARTH_INTERNAL_H

#include "../hearth.h"
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))
/* Node 20's V8 keeps wasm loads in program order but places pure arithmetic late, just before its first use; in an
 * unrolled kernel that hoists every block's loads above all the arithmetic and the values spill. Storing a block's
 * result to a thread-local (stack) sink ties its arithmetic down before the next block's loads. Kernels declare
 * `volatile v128 sink;` and write PIN(pin, sink, value) between the blocks they unroll; pin is a constant in each
 * compiled copy. Newer V8s schedule better on their own: the Q8_0 / Q4_1 and Q4_K / Q5_K matvecs take pin from the
 * host (pin_wanted, HEARTH_TUNE_PIN); the other kernels always pin (unpinned, F16 and Q6_K ran no faster on Deno's
 * V8, and Q6_K 26% slower on Node 20's). */
#define PIN(pin, sink, v) do { if (pin) (sink) = (v); } while (0)
#define EXPORT(name) __attribute__((export_name(#name)))

/* The relaxed build stores activations as int8 (the relaxed dot's signed first operand); the baseline build stores
 * them widened to int16 so i32x4.dot_i16x8_s can take them directly. */
#ifdef __wasm_relaxed_simd__
#define RELAXED 1
typedef int8_t act_t;
#else
#define RELAXED 0
typedef int16_t act_t;
#endif

/* ---- bits and loads ---- */

INLINE float f32_bits(uint32_t u) { float f; __builtin_memcpy(&f, &u, 4); return f; }
INLINE uint32_t bits_f32(float f) { uint32_t u; __builtin_memcpy(&u, &f, 4); return u; }
INLINE double f64_bits(uint64_t u) { double f; __builtin_memcpy(&f, &u, 8); return f; }
INLINE uint64_t bits_f64(double f) { uint64_t u; __builtin_memcpy(&u, &f, 8); return u; }
INLINE uint16_t ld16(const uint8_t *p) { uint16_t v; __builtin_memcpy(&v, p, 2); return v; }
INLINE uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* Range [*lo, *hi) of n items for thread ith of nth (64-bit product: n*ith may pass 2^32). */
INLINE void split_range(uint32_t n, uint32_t ith, uint32_t nth, uint32_t *lo, uint32_t *hi) {
    if (nth == 0) nth = 1;
    *lo = (uint32_t)(((uint64_t)n * ith) / nth);
    *hi = (uint32_t)(((uint64_t)n * (ith + 1)) / nth);
}

/* ---- f16 / bf16 (spec gguf.md §2) ---- */

/* Exact: the exponent/mantissa bits moved into f32 position and scaled by 2^112 (which also normalises f16
 * subnormals); exponent 31 (inf/NaN) keeps its mantissa under an all-ones f32 exponent. */
INLINE float fp16_to_f32(uint16_t h) {
    uint32_t em = h & 0x7fffu;
    uint32_t u = bits_f32(f32_bits(em << 13) * 0x1p112f);
    if (em >= 0x7c00u) u = (em << 13) | 0x7f800000u;
    return f32_bits(u | ((uint32_t)(h & 0x8000u) << 16));
}

/* Round to nearest even, as F16C's vcvtps2ph (which ggml uses on x86): overflow -> inf, NaN -> quiet NaN keeping
 * the top payload bits, tiny values -> correctly rounded subnormals (adding 0.5f aligns them to 2^-24). */
INLINE uint16_t f32_to_fp16(float f) {
    uint32_t u = bits_f32(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    uint32_t o;
    if (a >= 0x47800000u) {
        o = a > 0x7f800000u ? (0x7e00u | ((a >> 13) & 0x3ffu)) : 0x7c00u;
    } else if (a < 0x38800000u) {
        o = bits_f32(f32_bits(a) + 0.5f) - 0x3f000000u;
    } else {
        o = (a + 0xc8000fffu + ((a >> 13) & 1u)) >> 13;
    }
    return (uint16_t)(o | sign);
}

INLINE float round_fp16(float f) { return fp16_to_f32(f32_to_fp16(f)); }

/* ggml_compute_fp32_to_bf16: round to nearest even, NaN forced quiet. */
INLINE uint16_t f32_to_bf16(float f) {
    uint32_t u = bits_f32(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64u);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}
INLINE float bf16_to_f32(uint16_t b) { return f32_bits((uint32_t)b << 16); }

/* ---- SIMD helpers ---- */

typedef v128_t v128;

INLINE v128 ld(const void *p) { return wasm_v128_load(p); }
INLINE void st(void *p, v128 v) { wasm_v128_store(p, v); }

/* [sum(a), sum(b), sum(c), sum(d)] of four i32x4 (exact, so the pairing order is free). */
INLINE v128 i32x4_sum4(v128 a, v128 b, v128 c, v128 d) {
    v128 ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
    v128 cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 1, 4, 5), wasm_i32x4_shuffle(c, d, 2, 3, 6, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 2, 4, 6), wasm_i32x4_shuffle(ab, cd, 1, 3, 5, 7));
}

/* The matmul lane reduction of every quantized type: (l0 + l2) + (l1 + l3). */
INLINE float f32x4_lanes_sum(v128 v) {
    v128 t = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 2, 3));
    return wasm_f32x4_extract_lane(t, 0) + wasm_f32x4_extract_lane(t, 1);
}

/* ---- fused multiply-add, exactly as x86's vfmadd ----
 * llama.cpp's AVX2 kernels accumulate block terms with FMA (one rounding of a*b + c); wasm has no fused multiply-add
 * outside relaxed SIMD, whose fusing is unspecified. a*b is exact in f64 (24 + 24 bits), so p + c rounded to f64 and
 * then to f32 is the fused result, except when the f64 sum was inexact and landed exactly halfway between two floats
 * (then the second rounding ties where the exact sum does not): that f64 has its low 29 bits 1000...0, and is moved
 * one f64 ulp toward the exact sum (the sign of its TwoSum error). Halfway sums are common (~1% of block terms) but
 * nearly always exact; the fix is only computed for them. Valid for results in the f32 normal range (the halfway
 * test differs below 2^-126, far under any kernel's block terms). */
#define F64_LOW29 0x1fffffffu
#define F64_HALF 0x10000000u

INLINE float fma_f32(float a, float b, float c) {
    double p = (double)a * (double)b, cd = (double)c, s = p + cd;
    if (__builtin_expect((bits_f64(s) & F64_LOW29) == F64_HALF, 0)) {
        double bb = s - p, err = (p - (s - bb)) + (cd - bb);
        if (err > 0.0 || err < 0.0) s = f64_bits(bits_f64(s) + ((err > 0.0) == (s > 0.0) ? 1u : (uint64_t)-1));
    }
    return (float)s;
}

/* The same on f64x2 lanes holding f32 values: halfway(s) flags the lanes of s = p + c that need fma_fix. */
INLINE v128 f64x2_halfway(v128 s) {
    return wasm_i64x2_eq(wasm_v128_and(s, wasm_i64x2_splat(F64_LOW29)), wasm_i64x2_splat(F64_HALF));
}
INLINE v128 f64x2_fma_fix(v128 p, v128 c, v128 s) {
    v128 bb = wasm_f64x2_sub(s, p);
    v128 err = wasm_f64x2_add(wasm_f64x2_sub(p, wasm_f64x2_sub(s, bb)), wasm_f64x2_sub(c, bb));
    v128 z = wasm_f64x2_splat(0.0);
    v128 inexact = wasm_v128_or(wasm_f64x2_lt(err, z), wasm_f64x2_gt(err, z));
    /* +1 where err and s have the same sign (away from zero), else -1 */
    v128 step = wasm_i64x2_sub(wasm_i64x2_splat(1), wasm_i64x2_shl(wasm_u64x2_shr(wasm_v128_xor(err, s), 63), 1));
    return wasm_i64x2_add(s, wasm_v128_and(step, wasm_v128_and(inexact, f64x2_halfway(s))));
}
INLINE v128 f32x4_lo_f64(v128 v) { return wasm_f64x2_promote_low_f32x4(v); }
INLINE v128 f32x4_hi_f64(v128 v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)); }
INLINE v128 f64x2x2_to_f32x4(v128 lo, v128 hi) {
    return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/* An 8-lane f32 accumulator (x86's __m256 acc) as two f32x4, d[0] lanes 0..3 and d[1] lanes 4..7; acc8_fma adds
 * fma(a_l, b, acc_l) for 8 lanes given as a0 (lanes 0..3) and a1 (4..7), f32x4 each, and a scalar b. Kept as f32x4,
 * not as the f64x2 the emulation computes in: clang splits a demote-then-promote of f64x2 lanes into scalar round
 * trips (measured: Q8_0 matvec 2.48 -> 2.90 GB/s with f32x4). */
struct acc8 { v128 d[2]; };
INLINE struct acc8 acc8_zero(void) {
    struct acc8 a = { { wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f) } };
    return a;
}
INLINE void acc8_fma_f64(struct acc8 *acc, const v128 a[4], float b) {
    v128 bd = wasm_f64x2_splat((double)b);
    v128 p[4] = { wasm_f64x2_mul(a[0], bd), wasm_f64x2_mul(a[1], bd), wasm_f64x2_mul(a[2], bd), wasm_f64x2_mul(a[3], bd) };
    v128 c[4] = { f32x4_lo_f64(acc->d[0]), f32x4_hi_f64(acc->d[0]), f32x4_lo_f64(acc->d[1]), f32x4_hi_f64(acc->d[1]) };
    v128 s[4];
    for (int i = 0; i < 4; i++) s[i] = wasm_f64x2_add(p[i], c[i]);
    v128 half = wasm_v128_or(wasm_v128_or(f64x2_halfway(s[0]), f64x2_halfway(s[1])),
                             wasm_v128_or(f64x2_halfway(s[2]), f64x2_halfway(s[3])));
    if (__builtin_expect(wasm_v128_any_true(half), 0))
        for (int i = 0; i < 4; i++) s[i] = f64x2_fma_fix(p[i], c[i], s[i]);
    acc->d[0] = f64x2x2_to_f32x4(s[0], s[1]);
    acc->d[1] = f64x2x2_to_f32x4(s[2], s[3]);
}
/* a: 8 f32 lanes as a0 (lanes 0..3), a1 (4..7). */
INLINE void acc8_fma(struct acc8 *acc, v128 a0, v128 a1, float b) {
    v128 a[4] = { f32x4_lo_f64(a0), f32x4_hi_f64(a0), f32x4_lo_f64(a1), f32x4_hi_f64(a1) };
    acc8_fma_f64(acc, a, b);
}
/* a: 8 int32 lanes, each below 2^24 in magnitude (so (float)a is exact and equals (double)a). */
INLINE void acc8_fma_i24(struct acc8 *acc, v128 a0, v128 a1, float b) {
    v128 a[4] = { wasm_f64x2_convert_low_i32x4(a0), wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(a0, a0, 2, 3, 2, 3)),
                  wasm_f64x2_convert_low_i32x4(a1), wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(a1, a1, 2, 3, 2, 3)) };
    acc8_fma_f64(acc, a, b);
}

/* fma_f32 on four lanes. */
INLINE v128 f32x4_fma(v128 a, v128 b, v128 c) {
    v128 plo = wasm_f64x2_mul(f32x4_lo_f64(a), f32x4_lo_f64(b)), phi = wasm_f64x2_mul(f32x4_hi_f64(a), f32x4_hi_f64(b));
    v128 clo = f32x4_lo_f64(c), chi = f32x4_hi_f64(c);
    v128 slo = wasm_f64x2_add(plo, clo), shi = wasm_f64x2_add(phi, chi);
    if (__builtin_expect(wasm_v128_any_true(wasm_v128_or(f64x2_halfway(slo), f64x2_halfway(shi))), 0)) {
        slo = f64x2_fma_fix(plo, clo, slo);
        shi = f64x2_fma_fix(phi, chi, shi);
    }
    return f64x2x2_to_f32x4(slo, shi);
}

/* x86's hsum_float_8 of 8 lanes held as lo (lanes 0..3) and hi (4..7): (hi + lo) pairwise, then
 * (l0 + l2) + (l1 + l3). */
INLINE float f32x8_hsum(v128 lo, v128 hi) { return f32x4_lanes_sum(wasm_f32x4_add(hi, lo)); }
INLINE float acc8_hsum(const struct acc8 *a) { return f32x8_hsum(a->d[0], a->d[1]); }
INLINE float f32x8_hsum_ref(const float l[8]) {
    float r0 = l[4] + l[0], r1 = l[5] + l[1], r2 = l[6] + l[2], r3 = l[7] + l[3];
    return (r0 + r2) + (r1 + r3);
}

#if RELAXED
/* Four int32 lanes, lane i the sum of a*b over bytes 4i..4i+3, for a signed and b in 0..127: i16x8.relaxed_dot
 * (pairs, at most 2 * 128 * 127 < 2^15, so x86's saturating pmaddubsw is exact) widened pairwise. Not the one-op
 * i32x4.relaxed_dot_i8x16_i7x16_add: V8 11 (Node 20, behind its flag) computes that one wrong, and V8 lowers it to
 * three instructions anyway (research/runtimes.md Q1; hearth_relaxed_selftest checks this one). */
INLINE v128 dot_i8_u7(v128 a, v128 b) {
    return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_relaxed_dot_i8x16_i7x16(a, b));
}
#endif

/* ---- the fused path of the relaxed build ----
 * V8 lowers f32x4.relaxed_madd to a real vfmadd on x86 CPUs with FMA3, which is exactly llama.cpp's FMA, one
 * instruction instead of the emulation above; elsewhere it may be a multiply and an add. fma_fused() runs a one-time
 * self-test (run.c) comparing relaxed_madd with the exact emulation on inputs where unfused rounding differs, and the
 * kernels take the fused path only where it passed; the baseline build has no relaxed_madd and always emulates.
 * Kernels thread the answer through as a constant `fz` so each variant compiles to its own straight loop. */
int fma_fused(void);
/* Byte offset of block b of row r in a tensor of n_rows rows of nb blocks of bb bytes, its rows interleaved in groups
 * of g (hearth.h, HT_Q4_0_X4; g = 1: plain rows): the rows of a group hold one block each in turn, and the
 * n_rows % g rows after the last group are plain. */
INLINE size_t grouped_block_offset(uint32_t r, uint32_t b, uint32_t n_rows, uint32_t g, uint32_t nb, uint32_t bb) {
    size_t rb = (size_t)nb * bb;
    if (r >= n_rows / g * g) return r * rb + (size_t)b * bb;
    return (size_t)(r / g) * g * rb + ((size_t)b * g + r % g) * bb;
}

/* hearth_tune's flags (hearth.h, HEARTH_TUNE_*) */
extern uint32_t hearth_tune_flags;
INLINE int pin_wanted(void) { return (hearth_tune_flags & HEARTH_TUNE_PIN) != 0; }
#if RELAXED
INLINE v128 f32x4_madd_fused(v128 a, v128 b, v128 c) { return wasm_f32x4_relaxed_madd(a, b, c); }
#else
INLINE v128 f32x4_madd_fused(v128 a, v128 b, v128 c) { return f32x4_fma(a, b, c); } /* unused: fz is 0 here */
#endif
INLINE float fma_f32_fz(float a, float b, float c, int fz) {
    if (!fz) return fma_f32(a, b, c);
    return wasm_f32x4_extract_lane(f32x4_madd_fused(wasm_f32x4_splat(a), wasm_f32x4_splat(b), wasm_f32x4_splat(c)), 0);
}
/* acc8 under the fused path: the same f32x4 lanes, advanced with the fused multiply-add. */
INLINE void acc8_fma_i24_fz(struct acc8 *acc, v128 a0, v128 a1, float b, int fz) {
    if (!fz) { acc8_fma_i24(acc, a0, a1, b); return; }
    v128 bv = wasm_f32x4_splat(b);
    acc->d[0] = f32x4_madd_fused(wasm_f32x4_convert_i32x4(a0), bv, acc->d[0]);
    acc->d[1] = f32x4_madd_fused(wasm_f32x4_convert_i32x4(a1), bv, acc->d[1]);
}

/* Four f16 values (in the low 16 bits of each i32 lane) to f32, exactly as fp16_to_f32. */
INLINE v128 fp16x4_to_f32x4(v128 h) {
    v128 em = wasm_v128_and(h, wasm_i32x4_splat(0x7fff));
    v128 f = wasm_f32x4_mul(wasm_i32x4_shl(em, 13), wasm_f32x4_splat(0x1p112f));
    v128 special = wasm_i32x4_ge(em, wasm_i32x4_splat(0x7c00));
    f = wasm_v128_or(f, wasm_v128_and(special, wasm_i32x4_splat(0x7f800000)));
    return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

/* f16 values held in the top 16 bits of each i32 lane (sign in place) to f32, exactly: an arithmetic shift right
 * by 3 puts exponent+mantissa at f32 bit 13, the three sign copies are cleared, and the product with 2^112 rebiases
 * the exponent (and normalises f16 subnormals). Exponent 31 (inf/NaN) needs the all-ones f32 exponent or'ed in;
 * callers test for it once per batch of values (fp16_any_special) and then call fp16_fix_special. */
INLINE v128 fp16hi_to_f32x4(v128 x) {
    return wasm_f32x4_mul(wasm_v128_and(wasm_i32x4_shr(x, 3), wasm_i32x4_splat((int32_t)0x8fffe000u)), wasm_f32x4_splat(0x1p112f));
}
INLINE v128 fp16hi_special(v128 x) {
    const v128 ones = wasm_i32x4_splat(0x7c000000);
    return wasm_i32x4_eq(wasm_v128_and(x, ones), ones);
}
INLINE v128 fp16hi_fix(v128 f, v128 x) {
    return wasm_v128_or(f, wasm_v128_and(fp16hi_special(x), wasm_i32x4_splat(0x7f800000)));
}
INLINE v128 fp16hi_to_f32x4_exact(v128 x) {
    v128 f = fp16hi_to_f32x4(x);
    if (__builtin_expect(wasm_v128_any_true(fp16hi_special(x)), 0)) f = fp16hi_fix(f, x);
    return f;
}

/* Four f16 values at p, p + stride, p + 2*stride, p + 3*stride (block scales) as f32x4. */
INLINE v128 fp16x4_strided(const uint8_t *p, uint32_t stride) {
    v128 x = wasm_i32x4_splat(0);
    x = wasm_v128_load16_lane(p, x, 1);
    x = wasm_v128_load16_lane(p + stride, x, 3);
    x = wasm_v128_load16_lane(p + 2 * stride, x, 5);
    x = wasm_v128_load16_lane(p + 3 * stride, x, 7);
    return fp16hi_to_f32x4_exact(x);
}

/* Eight f16 values to two f32x4 (the halves moved to the top of i32 lanes by interleaving with zeros). */
INLINE void fp16x8_to_f32x4x2(v128 h, v128 *lo, v128 *hi) {
    const v128 z = wasm_i32x4_splat(0);
    v128 a = wasm_i16x8_shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11);
    v128 b = wasm_i16x8_shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15);
    *lo = fp16hi_to_f32x4_exact(a);
    *hi = fp16hi_to_f32x4_exact(b);
}

/* The same for 32 values (4 vectors of halves): one inf/NaN test for all of them up front, so the common path
 * converts without fix-ups (and without keeping the raw halves alive). */
INLINE void fp16x32_to_f32(const v128 h[4], v128 out[8]) {
    const v128 z = wasm_i32x4_splat(0), e = wasm_i16x8_splat(0x7c00);
    v128 sp = wasm_v128_or(wasm_v128_or(wasm_i16x8_eq(wasm_v128_and(h[0], e), e), wasm_i16x8_eq(wasm_v128_and(h[1], e), e)),
                           wasm_v128_or(wasm_i16x8_eq(wasm_v128_and(h[2], e), e), wasm_i16x8_eq(wasm_v128_and(h[3], e), e)));
    if (__builtin_expect(wasm_v128_any_true(sp), 0)) {
        /* a different formula on purpose: sharing the fast path's values would keep them alive across the test */
        for (int i = 0; i < 4; i++) {
            out[2 * i] = fp16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(h[i]));
            out[2 * i + 1] = fp16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(h[i]));
        }
        return;
    }
    for (int i = 0; i < 4; i++) {
        out[2 * i] = fp16hi_to_f32x4(wasm_i16x8_shuffle(z, h[i], 0, 8, 1, 9, 2, 10, 3, 11));
        out[2 * i + 1] = fp16hi_to_f32x4(wasm_i16x8_shuffle(z, h[i], 4, 12, 5, 13, 6, 14, 7, 15));
    }
}

INLINE void bf16x8_to_f32x4x2(v128 h, v128 *lo, v128 *hi) {
    const v128 z = wasm_i32x4_splat(0);
    *lo = wasm_i16x8_shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11);
    *hi = wasm_i16x8_shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15);
}

/* f32x4 -> four f16 bit patterns in the low 16 bits of each i32 lane, exactly as f32_to_fp16. */
INLINE v128 f32x4_to_fp16x4(v128 f) {
    v128 sign = wasm_v128_and(wasm_u32x4_shr(f, 16), wasm_i32x4_splat(0x8000));
    v128 a = wasm_v128_and(f, wasm_i32x4_splat(0x7fffffff));
    v128 odd = wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(1));
    v128 normal = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(a, wasm_i32x4_splat((int32_t)0xc8000fffu)), odd), 13);
    v128 sub = wasm_i32x4_sub(wasm_f32x4_add(a, wasm_f32x4_splat(0.5f)), wasm_i32x4_splat(0x3f000000));
    v128 nan = wasm_v128_or(wasm_i32x4_splat(0x7e00), wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(0x3ff)));
    v128 big = wasm_v128_bitselect(nan, wasm_i32x4_splat(0x7c00), wasm_i32x4_gt(a, wasm_i32x4_splat(0x7f800000)));
    v128 o = wasm_v128_bitselect(sub, normal, wasm_i32x4_lt(a, wasm_i32x4_splat(0x38800000)));
    o = wasm_v128_bitselect(big, o, wasm_i32x4_ge(a, wasm_i32x4_splat(0x47800000)));
    return wasm_v128_or(o, sign);
}

INLINE v128 f32x4_round_fp16(v128 f) { return fp16x4_to_f32x4(f32x4_to_fp16x4(f)); }

/* ---- the type table (traits.c) ---- */

enum act_format { ACT_NONE, ACT_F32, ACT_F16, ACT_BF16, ACT_Q8_0, ACT_Q8_0W, ACT_Q8_1, ACT_Q8_K };

typedef void (*matmul_fn)(const struct args_matmul *a, uint32_t row0, uint32_t row1);
typedef void (*dequant_row_fn)(const uint8_t *row, float *out, uint32_t k);
typedef void (*quantize_fn)(const float *x, uint8_t *xq, uint32_t k);

struct weight_traits {
    uint32_t block_size, block_bytes;
    /* rows interleaved per group (HT_Q4_0_X4: 4), else 1 */
    uint32_t group_rows;
    enum act_format act;
    matmul_fn matmul, matmul_ref;
    dequant_row_fn dequant, dequant_ref;
};

const struct weight_traits *weight_traits_of(uint32_t wtype);
uint32_t act_row_bytes(enum act_format act, uint32_t k);
quantize_fn act_quantizer(enum act_format act, int ref);

/* Activation layouts (one column; offsets from the column start, all 16-byte aligned):
 *   ACT_F32/F16/BF16: float[k] (F16/BF16: the rounded values, kept as f32 so weight rows convert once).
 *   ACT_Q8_0: act_t qs[k]; float d[nb4] (the f16-rounded scale); int32 bsum[nb4] (sum of the block's quants).
 *   ACT_Q8_0W (Q8_0 weights): ACT_Q8_0, then in the relaxed build only int16 wide[k] (see struct act_q8); the
 *             nibble types' relaxed dot reads qs, and writing the copy for them cost ~5% of a 12B decode step.
 *   ACT_Q8_1: act_t qs[k]; float d[nb4]; float s[nb4] (f16(d * sum q)).
 *   ACT_Q8_K: act_t qs[k]; float d[ns4]; int16 bsum16[k/16]; int16 bsum32[k/32].
 * nb4 / ns4: the block / super-block count rounded up to 4, the padding zero (the kernels read scales 4 at a time).
 * In the baseline build every run of 16 quants is stored as its 8 even-indexed values then its 8 odd-indexed ones,
 * so weights can be split into int16 lanes with a mask and a shift (x & 0xff, x >> 8) instead of widening. */
INLINE uint32_t round4(uint32_t n) { return (n + 3u) & ~3u; }

/* Position of quant e in an int16 copy (even-indexed values of each run of 16 first), and in the build's qs. */
INLINE uint32_t act_pos16(uint32_t e) { return (e & ~15u) | ((e & 1u) << 3) | ((e & 15u) >> 1); }
INLINE uint32_t act_pos(uint32_t e) { return RELAXED ? e : act_pos16(e); }

/* wide: the quants as int16 in act_pos16 order. In the baseline build that is qs itself; the relaxed build keeps
 * an extra int16 copy after the Q8_0 layout, because Q8_0 weights (signed, -128..127) have no exact relaxed-dot
 * form as cheap as i32x4.dot_i16x8_s. */
struct act_q8 { const act_t *qs; const float *d; const int32_t *bsum; const float *s; const int16_t *wide; };
struct act_q8k { const act_t *qs; const float *d; const int16_t *bsum16; const int16_t *bsum32; };

INLINE struct act_q8 act_q8_view(const uint8_t *col, uint32_t k) {
    uint32_t nb4 = round4(k / 32);
    struct act_q8 v;
    v.qs = (const act_t *)col;
    v.d = (const float *)(col + k * sizeof(act_t));
    v.bsum = (const int32_t *)(col + k * sizeof(act_t) + nb4 * 4);
    v.s = (const float *)v.bsum;
    v.wide = RELAXED ? (const int16_t *)(col + k * sizeof(act_t) + nb4 * 8) : (const int16_t *)col;
    return v;
}

INLINE struct act_q8k act_q8k_view(const uint8_t *col, uint32_t k) {
    uint32_t ns4 = round4(k / 256);
    struct act_q8k v;
    v.qs = (const act_t *)col;
    v.d = (const float *)(col + k * sizeof(act_t));
    v.bsum16 = (const int16_t *)(col + k * sizeof(act_t) + ns4 * 4);
    v.bsum32 = v.bsum16 + k / 16;
    return v;
}

/* ---- kernels (one file per family) ---- */

/* matmul_float.c, matmul_q.c, matmul_k.c */
void matmul_f32(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_f32_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_f16(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_f16_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_bf16(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_bf16_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q8_0(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q8_0_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_0(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_0_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_0x4(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_0x4_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_1(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_1_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_k(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q4_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q5_k(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q5_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q6_k(const struct args_matmul *a, uint32_t r0, uint32_t r1);
void matmul_q6_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1);

/* quantize.c */
void quantize_f32(const float *x, uint8_t *xq, uint32_t k);
void quantize_f16(const float *x, uint8_t *xq, uint32_t k);
void quantize_f16_ref(const float *x, uint8_t *xq, uint32_t k);
void quantize_bf16(const float *x, uint8_t *xq, uint32_t k);
void quantize_bf16_ref(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_0(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_0_ref(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_0w(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_0w_ref(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_1(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_1_ref(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_k(const float *x, uint8_t *xq, uint32_t k);
void quantize_q8_k_ref(const float *x, uint8_t *xq, uint32_t k);

/* dequant.c */
void dequant_f32(const uint8_t *row, float *out, uint32_t k);
void dequant_f16(const uint8_t *row, float *out, uint32_t k);
void dequant_f16_ref(const uint8_t *row, float *out, uint32_t k);
void dequant_bf16(const uint8_t *row, float *out, uint32_t k);
void dequant_bf16_ref(const uint8_t *row, float *out, uint32_t k);
void dequant_q8_0(const uint8_t *row, float *out, uint32_t k);
void dequant_q8_0_ref(const uint8_t *row, float *out, uint32_t k);
void dequant_q4_0(const uint8_t *row, float *out, uint32_t k);
void dequant_q4_0_ref(const uint8_t *row, float *out, uint32_t k);
void dequant_q4_1(const uint8_t *row, float *out, uint32_t k);
void dequant_q4_1_ref(const uint8_t *row, float *out, uint32_t k);
void dequant_q4_k(const uint8_t *row, float *out, uint32_t k);
void dequant_q4_k_ref(const uint8_t *row, float *out, uint32_t k);
void dequant_q5_k(const uint8_t *row, float *out, uint32_t k);
void dequant_q5_k_ref(const uint8_t *row, float *out, uint32_t k);
void dequant_q6_k(const uint8_t *row, float *out, uint32_t k);
void dequant_q6_k_ref(const uint8_t *row, float *out, uint32_t k);

/* K-quant 6-bit scale/min unpacking (get_scale_min_k4, spec gguf.md §3.5), shared by dequant and matmul twins. */
INLINE void kquant_scale_min(const uint8_t *scales, int s, uint8_t *sc, uint8_t *m) {
    if (s < 4) {
        *sc = scales[s] & 63;
        *m = scales[s + 4] & 63;
    } else {
        *sc = (scales[s + 4] & 0x0f) | ((scales[s - 4] >> 6) << 4);
        *m = (scales[s + 4] >> 4) | ((scales[s] >> 6) << 4);
    }
}

/* All 8 scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K super-block from its 12 scale bytes at p
 * (16 bytes are read; the 4 after the scales are ignored). */
INLINE v128 kquant_scales_mins(const uint8_t *p) {
    v128 v = ld(p);
    /* lanes: sc0..3 <- b0..3 & 63, sc4..7 <- b8..11 & 15, m0..3 <- b4..7 & 63, m4..7 <- b8..11 >> 4 */
    v128 x1 = wasm_i8x16_swizzle(v, wasm_i8x16_make(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    v128 lowpart = wasm_v128_and(x1, wasm_i8x16_make(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    v128 highnib = wasm_v128_and(wasm_u16x8_shr(x1, 4), wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    /* top two bits: sc4..7 <- (b0..3 >> 6) << 4, m4..7 <- (b4..7 >> 6) << 4 */
    v128 x2 = wasm_i8x16_swizzle(v, wasm_i8x16_make(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    v128 top = wasm_v128_and(wasm_u16x8_shr(x2, 2), wasm_i8x16_splat(0x30));
    return wasm_v128_or(wasm_v128_or(lowpart, highnib), top);
}

/* norm.c, rope.c, attention.c, elementwise.c */
void rms_norm(const struct args_rms_norm *a, uint32_t ith, uint32_t nth, int ref);
void layer_norm(const struct args_layer_norm *a, uint32_t ith, uint32_t nth, int ref);
void matmul_tiled(const struct args_matmul *a, uint32_t ith, uint32_t nth, int ref);
void rope(const struct args_rope *a, uint32_t ith, uint32_t nth, int ref);
void kv_store(const struct args_kv_store *a, uint32_t ith, uint32_t nth, int ref);
void attention(const struct args_attention *a, uint32_t ith, uint32_t nth, int ref);
void elementwise(uint32_t op, const struct args_elementwise *a, uint32_t ith, uint32_t nth, int ref);
void softmax_rows(const struct args_softmax *a, uint32_t ith, uint32_t nth, int ref);

/* Shared by elementwise.c and attention.c: ggml_soft_max_f32 on one row after the max is known. */
void softmax_row(float *x, uint32_t n, int ref);

#endif
