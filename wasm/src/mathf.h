/* Float math without libm, each in a scalar and a SIMD form that agree bit for bit (same operations in the same
 * order; no FMA contraction: the core is built with -ffp-contract=off).
 *
 * expf / tanhf are computed in double and rounded once, so they are correctly rounded except when the exact value
 * lies within ~1e-14 (relative) of a rounding boundary, and always within 1 ulp. glibc's expf agrees with them
 * almost always; glibc 2.36's tanhf (fdlibm) is not correctly rounded (1 ulp off in ~20% of inputs).
 *
 * ggml_expf is ggml_v_expf of the AVX2+FMA build (what llama.cpp's x86 softmax and SiLU use), with each FMA
 * emulated in double: the product is exact there and the sum is rounded twice (to double, then to float), which
 * differs from a true FMA only when the double sum lands exactly on a float tie (probability ~2^-29). */
#ifndef HEARTH_MATHF_H
#define HEARTH_MATHF_H

#include "internal.h"

/* ---- scalar ---- */

INLINE float fma_emul(float a, float b, float c) { return (float)((double)a * (double)b + (double)c); }

#define LN2_HI 0x1.62e42fee00000p-1  /* 33 significant bits: k * LN2_HI is exact for |k| < 2^20 */
#define LN2_LO 0x1.a39ef35793c76p-33
#define INV_LN2 0x1.71547652b82fep0
#define ROUND_MAGIC 0x1.8p52         /* adding it rounds a double of magnitude < 2^51 to an integer */

/* e^r for |r| <= ln2/2 by Taylor series to r^11 (truncation error < 7e-15 relative). */
INLINE double exp_poly(double r) {
    double p = 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    return p * r + 1.0;
}

/* e^x for x in [-200, 100] (callers clamp). */
INLINE double exp_d(double x) {
    double t = x * INV_LN2 + ROUND_MAGIC;
    double kd = t - ROUND_MAGIC;
    double r = (x - kd * LN2_HI) - kd * LN2_LO;
    uint64_t scale = (bits_f64(t) << 52) + ((uint64_t)1023 << 52);
    return exp_poly(r) * f64_bits(scale);
}

/* e^y - 1 for y in [0, 40]: Taylor series below 0.35 (keeps relative accuracy for tiny y), exp_d - 1 above. */
INLINE double expm1_pos_d(double y) {
    if (y < 0.35) {
        double p = 1.0 / 6227020800.0;
        p = p * y + 1.0 / 479001600.0;
        p = p * y + 1.0 / 39916800.0;
        p = p * y + 1.0 / 3628800.0;
        p = p * y + 1.0 / 362880.0;
        p = p * y + 1.0 / 40320.0;
        p = p * y + 1.0 / 5040.0;
        p = p * y + 1.0 / 720.0;
        p = p * y + 1.0 / 120.0;
        p = p * y + 1.0 / 24.0;
        p = p * y + 1.0 / 6.0;
        p = p * y + 0.5;
        return (p * y) * y + y;
    }
    return exp_d(y) - 1.0;
}

INLINE float expf_acc(float x) {
    if (x != x) return x;
    double d = (double)x;
    if (d > 100.0) d = 100.0;
    if (d < -200.0) d = -200.0;
    return (float)exp_d(d);
}

/* tanh(x) = e/(e+2) with e = expm1(2|x|); |x| >= 20 gives exactly 1. */
INLINE float tanhf_acc(float x) {
    if (x != x) return x;
    double a = f64_bits(bits_f64((double)x) & 0x7fffffffffffffffull);
    if (a > 20.0) a = 20.0;
    double e = expm1_pos_d(a + a);
    double t = e / (e + 2.0);
    return (float)f64_bits(bits_f64(t) | (bits_f64((double)x) & 0x8000000000000000ull));
}

INLINE float ggml_expf(float x) {
    const float r = 0x1.8p23f;
    float z = fma_emul(x, 0x1.715476p+0f, r);
    float n = z - r;
    float b = fma_emul(-n, 0x1.7f7d1cp-20f, fma_emul(-n, 0x1.62e4p-1f, x));
    uint32_t e = bits_f32(z) << 23;
    float k = f32_bits(e + 0x3f800000u);
    float u = b * b;
    float j = fma_emul(fma_emul(fma_emul(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fma_emul(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                       u, 0x1.ffffecp-1f * b);
    float an = f32_bits(bits_f32(n) & 0x7fffffffu);
    if (!(an > 126.0f)) return fma_emul(j, k, k);
    uint32_t g = (n <= 0.0f) ? 0x82000000u : 0u;
    float s1 = f32_bits(g + 0x7f000000u);
    float s2 = f32_bits(e - g);
    if (an > 192.0f) return s1 * s1;
    return fma_emul(s2, j, s2) * s1;
}

/* ggml_v_silu: x / (1 + e^-x), the negation written as 0 - x as ggml does. */
INLINE float ggml_silu(float x) { return x / (1.0f + ggml_expf(0.0f - x)); }

/* ---- SIMD (f32x4; the double parts in two f64x2 halves) ---- */

INLINE v128 f64x2_lo(v128 v) { return wasm_f64x2_promote_low_f32x4(v); }
INLINE v128 f64x2_hi(v128 v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)); }
INLINE v128 f32x4_join(v128 lo, v128 hi) {
    return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}

INLINE v128 fma_emul4(v128 a, v128 b, v128 c) {
    v128 lo = wasm_f64x2_add(wasm_f64x2_mul(f64x2_lo(a), f64x2_lo(b)), f64x2_lo(c));
    v128 hi = wasm_f64x2_add(wasm_f64x2_mul(f64x2_hi(a), f64x2_hi(b)), f64x2_hi(c));
    return f32x4_join(lo, hi);
}

INLINE v128 exp_poly2(v128 r) {
#define HORNER(c) p = wasm_f64x2_add(wasm_f64x2_mul(p, r), wasm_f64x2_splat(c))
    v128 p = wasm_f64x2_splat(1.0 / 39916800.0);
    HORNER(1.0 / 3628800.0); HORNER(1.0 / 362880.0); HORNER(1.0 / 40320.0); HORNER(1.0 / 5040.0);
    HORNER(1.0 / 720.0); HORNER(1.0 / 120.0); HORNER(1.0 / 24.0); HORNER(1.0 / 6.0); HORNER(0.5); HORNER(1.0);
    HORNER(1.0);
#undef HORNER
    return p;
}

INLINE v128 exp_d2(v128 x) {
    v128 t = wasm_f64x2_add(wasm_f64x2_mul(x, wasm_f64x2_splat(INV_LN2)), wasm_f64x2_splat(ROUND_MAGIC));
    v128 kd = wasm_f64x2_sub(t, wasm_f64x2_splat(ROUND_MAGIC));
    v128 r = wasm_f64x2_sub(wasm_f64x2_sub(x, wasm_f64x2_mul(kd, wasm_f64x2_splat(LN2_HI))),
                            wasm_f64x2_mul(kd, wasm_f64x2_splat(LN2_LO)));
    v128 scale = wasm_i64x2_add(wasm_i64x2_shl(t, 52), wasm_i64x2_splat((int64_t)1023 << 52));
    return wasm_f64x2_mul(exp_poly2(r), scale);
}

INLINE v128 expm1_pos_d2(v128 y) {
#define HORNER(c) p = wasm_f64x2_add(wasm_f64x2_mul(p, y), wasm_f64x2_splat(c))
    v128 p = wasm_f64x2_splat(1.0 / 6227020800.0);
    HORNER(1.0 / 479001600.0); HORNER(1.0 / 39916800.0); HORNER(1.0 / 3628800.0); HORNER(1.0 / 362880.0);
    HORNER(1.0 / 40320.0); HORNER(1.0 / 5040.0); HORNER(1.0 / 720.0); HORNER(1.0 / 120.0); HORNER(1.0 / 24.0);
    HORNER(1.0 / 6.0); HORNER(0.5);
#undef HORNER
    v128 small = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_mul(p, y), y), y);
    v128 large = wasm_f64x2_sub(exp_d2(y), wasm_f64x2_splat(1.0));
    return wasm_v128_bitselect(small, large, wasm_f64x2_lt(y, wasm_f64x2_splat(0.35)));
}

INLINE v128 expf_acc2(v128 x) {
    v128 d = wasm_f64x2_min(wasm_f64x2_max(x, wasm_f64x2_splat(-200.0)), wasm_f64x2_splat(100.0));
    return exp_d2(d);
}

INLINE v128 expf_acc4(v128 x) {
    v128 r = f32x4_join(expf_acc2(f64x2_lo(x)), expf_acc2(f64x2_hi(x)));
    return wasm_v128_bitselect(x, r, wasm_f32x4_ne(x, x)); /* NaN passes through, as the scalar form */
}

INLINE v128 tanh_d2(v128 x) {
    v128 a = wasm_f64x2_min(wasm_f64x2_abs(x), wasm_f64x2_splat(20.0));
    v128 e = expm1_pos_d2(wasm_f64x2_add(a, a));
    v128 t = wasm_f64x2_div(e, wasm_f64x2_add(e, wasm_f64x2_splat(2.0)));
    return wasm_v128_or(t, wasm_v128_and(x, wasm_i64x2_splat((int64_t)0x8000000000000000ull)));
}

INLINE v128 tanhf_acc4(v128 x) {
    v128 r = f32x4_join(tanh_d2(f64x2_lo(x)), tanh_d2(f64x2_hi(x)));
    return wasm_v128_bitselect(x, r, wasm_f32x4_ne(x, x));
}

/* ggml_expf on two halves kept in f64x2 from start to end. Every intermediate is a float value held exactly in
 * double; each float operation is done in double and rounded in place (demote + promote): for an FMA that is the
 * emulation above, for a product or difference of two floats the double result is exact and rounds the same way
 * as the float operation. Only the exponent bit-tricks go through f32x4. */
INLINE v128 f32r(v128 d) { return wasm_f64x2_promote_low_f32x4(wasm_f32x4_demote_f64x2_zero(d)); }
INLINE v128 fma_d(v128 a, v128 b, v128 c) { return f32r(wasm_f64x2_add(wasm_f64x2_mul(a, b), c)); }

struct exp_part { v128 n, b, j; };

INLINE struct exp_part ggml_exp_part(v128 x) {
    const v128 r = wasm_f64x2_splat(0x1.8p23);
    struct exp_part o;
    v128 z = fma_d(x, wasm_f64x2_splat((double)0x1.715476p+0f), r);
    o.n = wasm_f64x2_sub(z, r); /* exact */
    v128 nn = wasm_f64x2_neg(o.n);
    o.b = fma_d(nn, wasm_f64x2_splat((double)0x1.7f7d1cp-20f), fma_d(nn, wasm_f64x2_splat((double)0x1.62e4p-1f), x));
    v128 u = f32r(wasm_f64x2_mul(o.b, o.b));
    v128 inner = fma_d(fma_d(wasm_f64x2_splat((double)0x1.0e4020p-7f), o.b, wasm_f64x2_splat((double)0x1.573e2ep-5f)), u,
                       fma_d(wasm_f64x2_splat((double)0x1.555e66p-3f), o.b, wasm_f64x2_splat((double)0x1.fffdb6p-2f)));
    o.j = fma_d(inner, u, f32r(wasm_f64x2_mul(wasm_f64x2_splat((double)0x1.ffffecp-1f), o.b)));
    return o;
}

/* ggml_v_expf's lanes with |n| > 126 (c): 2^n applied as two factors so that it neither overflows nor flushes
 * early, or saturated past 192; the FMA fused where fz (a constant at each call: fma_fused()), else emulated. */
INLINE v128 ggml_exp_wide4(v128 n, v128 e, v128 j, v128 plain, v128 c, int fz) {
    v128 g = wasm_v128_and(wasm_f32x4_le(n, wasm_f32x4_splat(0.0f)), wasm_i32x4_splat((int32_t)0x82000000u));
    v128 s1 = wasm_i32x4_add(g, wasm_i32x4_splat(0x7f000000));
    v128 s2 = wasm_i32x4_sub(e, g);
    v128 scaled = wasm_f32x4_mul(fz ? f32x4_madd_fused(s2, j, s2) : fma_emul4(s2, j, s2), s1);
    v128 huge = wasm_f32x4_mul(s1, s1);
    v128 d = wasm_f32x4_gt(wasm_f32x4_abs(n), wasm_f32x4_splat(192.0f));
    return wasm_v128_bitselect(huge, wasm_v128_bitselect(scaled, plain, c), d);
}

INLINE v128 ggml_expf4(v128 x) {
    struct exp_part lo = ggml_exp_part(f64x2_lo(x)), hi = ggml_exp_part(f64x2_hi(x));
    /* n is an integer-valued float: its f32 form gives the exponent bits (z = n + 0x1.8p23 exactly) */
    v128 n = f32x4_join(lo.n, hi.n);
    v128 e = wasm_i32x4_shl(wasm_f32x4_add(n, wasm_f32x4_splat(0x1.8p23f)), 23);
    v128 k = wasm_i32x4_add(e, wasm_i32x4_splat(0x3f800000));
    v128 klo = wasm_f64x2_promote_low_f32x4(k), khi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(k, k, 2, 3, 2, 3));
    v128 plain = f32x4_join(wasm_f64x2_add(wasm_f64x2_mul(lo.j, klo), klo), wasm_f64x2_add(wasm_f64x2_mul(hi.j, khi), khi));
    v128 c = wasm_f32x4_gt(wasm_f32x4_abs(n), wasm_f32x4_splat(126.0f));
    if (__builtin_expect(!wasm_v128_any_true(c), 1)) return plain;
    return ggml_exp_wide4(n, e, f32x4_join(lo.j, hi.j), plain, c, 0);
}

/* ggml_expf4 where relaxed_madd is a true FMA (fma_fused(), internal.h; only the relaxed build takes it): the
 * same steps in f32x4, each FMA one instruction as in ggml's AVX2 build (the emulation above is ~5x the
 * instructions; it differs from this only on a double-rounding tie). */
INLINE v128 ggml_expf4_fused(v128 x) {
#define F(v) wasm_f32x4_splat(v)
    v128 z = f32x4_madd_fused(x, F(0x1.715476p+0f), F(0x1.8p23f));
    v128 n = wasm_f32x4_sub(z, F(0x1.8p23f)), nn = wasm_f32x4_neg(n);
    v128 b = f32x4_madd_fused(nn, F(0x1.7f7d1cp-20f), f32x4_madd_fused(nn, F(0x1.62e4p-1f), x));
    v128 e = wasm_i32x4_shl(z, 23);
    v128 k = wasm_i32x4_add(e, wasm_i32x4_splat(0x3f800000));
    v128 u = wasm_f32x4_mul(b, b);
    v128 j = f32x4_madd_fused(f32x4_madd_fused(f32x4_madd_fused(F(0x1.0e4020p-7f), b, F(0x1.573e2ep-5f)), u,
                                               f32x4_madd_fused(F(0x1.555e66p-3f), b, F(0x1.fffdb6p-2f))),
                              u, wasm_f32x4_mul(F(0x1.ffffecp-1f), b));
    v128 plain = f32x4_madd_fused(j, k, k);
    v128 c = wasm_f32x4_gt(wasm_f32x4_abs(n), F(126.0f));
    if (__builtin_expect(!wasm_v128_any_true(c), 1)) return plain;
    return ggml_exp_wide4(n, e, j, plain, c, 1);
#undef F
}

/* ggml_expf4, by the fused form where fz (a constant at each call: fma_fused()) */
INLINE v128 ggml_expf4_fz(v128 x, int fz) { return RELAXED && fz ? ggml_expf4_fused(x) : ggml_expf4(x); }

INLINE v128 ggml_silu4(v128 x, int fz) {
    v128 e = ggml_expf4_fz(wasm_f32x4_sub(wasm_f32x4_splat(0.0f), x), fz);
    return wasm_f32x4_div(x, wasm_f32x4_add(wasm_f32x4_splat(1.0f), e));
}

#endif
