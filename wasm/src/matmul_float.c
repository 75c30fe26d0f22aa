/* OP_MATMUL for F32 / F16 / BF16 weights: ggml_vec_dot_{f32,f16,bf16} of llama.cpp's AVX2 build, lane for lane.
 * A 32-element step feeds 4 accumulators of 8 lanes (element e -> accumulator e/8, lane e%8; here 8 f32x4, acc[q]
 * holding elements 4q..4q+3); they reduce as a[l] = (s0[l] + s2[l]) + (s1[l] + s3[l]), t[m] = a[m] + a[m+4], then
 * F32/F16: (t0 + t1) + (t2 + t3), BF16: (t0 + t2) + (t1 + t3). Leftovers (k % 32) are added one by one: in float for
 * F32, in double for F16/BF16. F16 x F16 and BF16 x BF16 products are exact in f32, so the AVX2 FMAs round exactly as
 * our mul + add; F32 products are rounded here where AVX2 fuses them (last-bit differences). The activation column
 * holds f32 values (for F16/BF16 already rounded to that format by OP_QUANTIZE_ACT). */
#include "internal.h"

enum float_kind { KIND_F32, KIND_F16, KIND_BF16 };
#define TILE 4

INLINE float weight_at(enum float_kind kind, const uint8_t *row, uint32_t i) {
    if (kind == KIND_F32) return ((const float *)row)[i];
    uint16_t h = ((const uint16_t *)row)[i];
    return kind == KIND_F16 ? fp16_to_f32(h) : bf16_to_f32(h);
}

INLINE float reduce_lanes(enum float_kind kind, const float a[8]) {
    float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
    return kind == KIND_BF16 ? (t0 + t2) + (t1 + t3) : (t0 + t1) + (t2 + t3);
}

INLINE float finish_leftovers(enum float_kind kind, float total, const uint8_t *row, const float *x, uint32_t np, uint32_t k) {
    if (kind == KIND_F32) {
        for (uint32_t i = np; i < k; i++) total += weight_at(kind, row, i) * x[i];
        return total;
    }
    double sum = (double)total;
    for (uint32_t i = np; i < k; i++) sum += (double)(weight_at(kind, row, i) * x[i]);
    return (float)sum;
}

/* ---- scalar twin ---- */

INLINE void float_rows_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum float_kind kind) {
    uint32_t k = a->k, np = k & ~31u, esz = kind == KIND_F32 ? 4 : 2, col = (k * 4 + 15) & ~15u;
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * k * esz;
        for (uint32_t j = 0; j < a->n_cols; j++) {
            const float *x = (const float *)((const uint8_t *)(uintptr_t)a->xq + (size_t)j * col);
            float lane[32] = { 0 };
            for (uint32_t i = 0; i < np; i += 32)
                for (uint32_t e = 0; e < 32; e++) lane[e] = lane[e] + weight_at(kind, row, i + e) * x[i + e];
            float s[8];
            for (int l = 0; l < 8; l++) s[l] = (lane[l] + lane[16 + l]) + (lane[8 + l] + lane[24 + l]);
            ((float *)(uintptr_t)a->y)[(size_t)j * a->y_stride + r] = finish_leftovers(kind, reduce_lanes(kind, s), row, x, np, k);
        }
    }
}

/* ---- SIMD ---- */

INLINE void load_chunk(enum float_kind kind, const uint8_t *row, uint32_t i, v128 w[8]) {
    if (kind == KIND_F32) {
        for (int q = 0; q < 8; q++) w[q] = ld((const float *)row + i + 4 * q);
        return;
    }
    const uint16_t *p = (const uint16_t *)row + i;
    if (kind == KIND_F16) {
        v128 h[4] = { ld(p), ld(p + 8), ld(p + 16), ld(p + 24) };
        fp16x32_to_f32(h, w);
        return;
    }
    for (int h = 0; h < 4; h++) bf16x8_to_f32x4x2(ld(p + 8 * h), &w[2 * h], &w[2 * h + 1]);
}

INLINE float float_finish(enum float_kind kind, const v128 acc[8], const uint8_t *row, const float *x, uint32_t np, uint32_t k) {
    v128 lo = wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[4]), wasm_f32x4_add(acc[2], acc[6]));
    v128 hi = wasm_f32x4_add(wasm_f32x4_add(acc[1], acc[5]), wasm_f32x4_add(acc[3], acc[7]));
    float s[8];
    st(s, lo);
    st(s + 4, hi);
    return finish_leftovers(kind, reduce_lanes(kind, s), row, x, np, k);
}

/* One weight row against one column, the 8 accumulators in registers. */
INLINE float float_dot1(enum float_kind kind, const uint8_t *row, uint32_t k, const float *x) {
    uint32_t np = k & ~31u;
    v128 acc[8];
    volatile v128 sink;
    for (int q = 0; q < 8; q++) acc[q] = wasm_f32x4_splat(0.0f);
    for (uint32_t i = 0; i < np; i += 32) {
        v128 w[8];
        load_chunk(kind, row, i, w);
        for (int q = 0; q < 8; q++) acc[q] = wasm_f32x4_add(acc[q], wasm_f32x4_mul(w[q], ld(x + i + 4 * q)));
        PIN(1, sink, acc[7]);
    }
    return float_finish(kind, acc, row, x, np, k);
}

/* Elements i .. i + n - 1 (n a multiple of 8) of an F16 / BF16 row as f32 into buf; F16 without the inf/NaN
 * fix-up (V8 makes each per-vector test a 5-instruction branch): float_group widens only a row that has none. */
INLINE void widen_run(enum float_kind kind, const uint8_t *row, uint32_t i, uint32_t n, float *buf) {
    const v128 z = wasm_i32x4_splat(0);
    for (uint32_t e = 0; e < n; e += 8) {
        v128 h = ld((const uint16_t *)row + i + e);
        v128 lo = wasm_i16x8_shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11), hi = wasm_i16x8_shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15);
        st(buf + e, kind == KIND_F16 ? fp16hi_to_f32x4(lo) : lo);
        st(buf + e + 4, kind == KIND_F16 ? fp16hi_to_f32x4(hi) : hi);
    }
}

/* Whether any of the row's first np f16 values is inf or NaN (exponent 31). */
INLINE int f16_row_special(const uint8_t *row, uint32_t np) {
    const v128 e = wasm_i16x8_splat(0x7c00);
    v128 any = wasm_i32x4_splat(0);
    for (uint32_t i = 0; i < np; i += 8) any = wasm_v128_or(any, wasm_i16x8_eq(wasm_v128_and(ld((const uint16_t *)row + i), e), e));
    return wasm_v128_any_true(any);
}

#define SEG 512
#define GROUP 24

/* A run of n elements (weights w, as f32) against nc (1..TILE, a constant at each call) columns starting at x0:
 * their accumulators acc[j][0..7] advance in four passes, two accumulators (8 elements of each 32-element step) at
 * a time, so 2 * nc of them stay in registers (with all 8 per column in one pass V8 spills them: 2 columns of F32
 * cost 2.2x one). */
INLINE void float_run(const float *w, uint32_t n, const uint8_t *x0, uint32_t col, uint32_t nc, v128 acc[][8]) {
    volatile v128 sink;
    _Pragma("clang loop unroll(full)")
    for (uint32_t p = 0; p < 4; p++) {
        v128 a[TILE][2];
        _Pragma("clang loop unroll(full)")
        for (uint32_t j = 0; j < nc; j++) {
            a[j][0] = acc[j][2 * p];
            a[j][1] = acc[j][2 * p + 1];
        }
        _Pragma("clang loop unroll(disable)")
        for (uint32_t i = 0; i < n; i += 32) {
            v128 w0 = ld(w + i + 8 * p), w1 = ld(w + i + 8 * p + 4);
            _Pragma("clang loop unroll(full)")
            for (uint32_t j = 0; j < nc; j++) {
                const float *x = (const float *)(x0 + (size_t)j * col) + i + 8 * p;
                a[j][0] = wasm_f32x4_add(a[j][0], wasm_f32x4_mul(w0, ld(x)));
                a[j][1] = wasm_f32x4_add(a[j][1], wasm_f32x4_mul(w1, ld(x + 4)));
            }
            PIN(1, sink, a[nc - 1][1]);
        }
        _Pragma("clang loop unroll(full)")
        for (uint32_t j = 0; j < nc; j++) {
            acc[j][2 * p] = a[j][0];
            acc[j][2 * p + 1] = a[j][1];
        }
    }
}

/* One weight row against jn (<= GROUP) columns. The row goes by runs of SEG elements; an F16 / BF16 run is widened
 * to f32 once (on the stack) for all jn columns, which then take it TILE at a time, their accumulators parked in
 * memory between runs. An F16 row is scanned for inf/NaN first, so the widening needs no per-vector test, and the
 * rare row with one takes float_dot1 per column. */
INLINE void float_group(enum float_kind kind, const uint8_t *row, uint32_t k, const uint8_t *x0, uint32_t col,
                        uint32_t jn, float *y, uint32_t y_stride) {
    uint32_t np = k & ~31u;
    if (kind == KIND_F16 && f16_row_special(row, np)) {
        for (uint32_t j = 0; j < jn; j++) y[(size_t)j * y_stride] = float_dot1(kind, row, k, (const float *)(x0 + (size_t)j * col));
        return;
    }
    v128 acc[GROUP][8];
    float buf[SEG] __attribute__((aligned(16)));
    for (uint32_t j = 0; j < jn; j++)
        for (int q = 0; q < 8; q++) acc[j][q] = wasm_f32x4_splat(0.0f);
    for (uint32_t i0 = 0; i0 < np; i0 += SEG) {
        uint32_t n = min_u32(SEG, np - i0);
        const float *w = (const float *)row + i0;
        if (kind != KIND_F32) {
            widen_run(kind, row, i0, n, buf);
            w = buf;
        }
        for (uint32_t t = 0; t < jn; t += TILE) {
            const uint8_t *xt = x0 + (size_t)t * col + (size_t)i0 * 4;
            switch (min_u32(TILE, jn - t)) {
            case 1: float_run(w, n, xt, col, 1, acc + t); break;
            case 2: float_run(w, n, xt, col, 2, acc + t); break;
            case 3: float_run(w, n, xt, col, 3, acc + t); break;
            default: float_run(w, n, xt, col, 4, acc + t); break;
            }
        }
    }
    for (uint32_t j = 0; j < jn; j++)
        y[(size_t)j * y_stride] = float_finish(kind, acc[j], row, (const float *)(x0 + (size_t)j * col), np, k);
}

INLINE void float_rows(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum float_kind kind) {
    uint32_t k = a->k, esz = kind == KIND_F32 ? 4 : 2, col = (k * 4 + 15) & ~15u;
    const uint8_t *x = (const uint8_t *)(uintptr_t)a->xq;
    float *y = (float *)(uintptr_t)a->y;
    /* one column: float_dot1's single pass (F16 2048 x 512: 10.4 GB/s, by float_group 8.8 on Node and 5.9 on Deno) */
    if (a->n_cols == 1) {
        for (uint32_t r = r0; r < r1; r++) y[r] = float_dot1(kind, (const uint8_t *)(uintptr_t)a->w + (size_t)r * k * esz, k, (const float *)x);
        return;
    }
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * k * esz;
        for (uint32_t j0 = 0; j0 < a->n_cols; j0 += GROUP)
            float_group(kind, row, k, x + (size_t)j0 * col, col, min_u32(GROUP, a->n_cols - j0), y + (size_t)j0 * a->y_stride + r, a->y_stride);
    }
}

void matmul_f32(const struct args_matmul *a, uint32_t r0, uint32_t r1) { float_rows(a, r0, r1, KIND_F32); }
void matmul_f32_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { float_rows_ref(a, r0, r1, KIND_F32); }
void matmul_f16(const struct args_matmul *a, uint32_t r0, uint32_t r1) { float_rows(a, r0, r1, KIND_F16); }
void matmul_f16_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { float_rows_ref(a, r0, r1, KIND_F16); }
void matmul_bf16(const struct args_matmul *a, uint32_t r0, uint32_t r1) { float_rows(a, r0, r1, KIND_BF16); }
void matmul_bf16_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { float_rows_ref(a, r0, r1, KIND_BF16); }
