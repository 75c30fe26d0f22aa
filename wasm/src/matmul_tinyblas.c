/* OP_MATMUL_TILED: y = W·x for F32 / F16 weights with the numerics of llama.cpp's batched float path, the llamafile
 * "tinyBLAS" gemm that ggml_compute_forward_mul_mat takes on x86 (AVX/AVX2, KN = 8) whenever a batch has 2 or more
 * columns, the weight 4·j rows and k a multiple of 8 (ggml's own projector graphs, e.g. gemma4uv's patch_embd, are
 * computed this way). Per output, 8 float lanes: lane l accumulates fma(w[i], x[i], acc_l) over i ≡ l (mod 8) in
 * order, from zero; the result is hsum: (l4 + l0, l5 + l1, l6 + l2, l7 + l3), then (s0 + s2) + (s1 + s3). F16 weights
 * meet the column rounded to f16 (ggml converts src1 to F16 first): both factors are f16 values, their product is
 * exact in f32 and the fma is a plain add. F32 products are not exact: the fma is emulated exactly (fma_f32).
 * x columns are as OP_QUANTIZE_ACT writes them for the weight type (f32 values, f16-rounded for F16). */
#include "internal.h"

/* One output of an F16 row and an f16-rounded column: 8 lanes (lo: 0..3, hi: 4..7). */
static float tiled_f16_one(const uint16_t *w, const float *x, uint32_t k) {
    v128 lo = wasm_f32x4_splat(0.0f), hi = lo;
    for (uint32_t i = 0; i < k; i += 8) {
        v128 wl, wh;
        fp16x8_to_f32x4x2(ld(w + i), &wl, &wh);
        lo = wasm_f32x4_add(lo, wasm_f32x4_mul(wl, ld(x + i)));
        hi = wasm_f32x4_add(hi, wasm_f32x4_mul(wh, ld(x + i + 4)));
    }
    return f32x8_hsum(lo, hi);
}

static void tiled_f16(const struct args_matmul *a, uint32_t r0, uint32_t r1, int ref) {
    uint32_t k = a->k, stride = act_row_bytes(ACT_F16, k) / 4, n = a->n_cols;
    const float *xs = (const float *)(uintptr_t)a->xq;
    float *ys = (float *)(uintptr_t)a->y;
    for (uint32_t r = r0; r < r1; r++) {
        const uint16_t *w = (const uint16_t *)(uintptr_t)a->w + (size_t)r * k;
        uint32_t j = 0;
        if (!ref) {
            /* four columns per pass over the row: each weight block is converted once (same sums per column) */
            for (; j + 4 <= n; j += 4) {
                const float *x0 = xs + (size_t)j * stride, *x1 = x0 + stride, *x2 = x1 + stride, *x3 = x2 + stride;
                v128 l0 = wasm_f32x4_splat(0.0f), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
                for (uint32_t i = 0; i < k; i += 8) {
                    v128 wl, wh;
                    fp16x8_to_f32x4x2(ld(w + i), &wl, &wh);
                    l0 = wasm_f32x4_add(l0, wasm_f32x4_mul(wl, ld(x0 + i)));
                    h0 = wasm_f32x4_add(h0, wasm_f32x4_mul(wh, ld(x0 + i + 4)));
                    l1 = wasm_f32x4_add(l1, wasm_f32x4_mul(wl, ld(x1 + i)));
                    h1 = wasm_f32x4_add(h1, wasm_f32x4_mul(wh, ld(x1 + i + 4)));
                    l2 = wasm_f32x4_add(l2, wasm_f32x4_mul(wl, ld(x2 + i)));
                    h2 = wasm_f32x4_add(h2, wasm_f32x4_mul(wh, ld(x2 + i + 4)));
                    l3 = wasm_f32x4_add(l3, wasm_f32x4_mul(wl, ld(x3 + i)));
                    h3 = wasm_f32x4_add(h3, wasm_f32x4_mul(wh, ld(x3 + i + 4)));
                }
                ys[(size_t)j * a->y_stride + r] = f32x8_hsum(l0, h0);
                ys[(size_t)(j + 1) * a->y_stride + r] = f32x8_hsum(l1, h1);
                ys[(size_t)(j + 2) * a->y_stride + r] = f32x8_hsum(l2, h2);
                ys[(size_t)(j + 3) * a->y_stride + r] = f32x8_hsum(l3, h3);
            }
            for (; j < n; j++) ys[(size_t)j * a->y_stride + r] = tiled_f16_one(w, xs + (size_t)j * stride, k);
        } else {
            for (; j < n; j++) {
                const float *x = xs + (size_t)j * stride;
                float l[8] = {0};
                for (uint32_t i = 0; i < k; i++) l[i % 8] = l[i % 8] + fp16_to_f32(w[i]) * x[i];
                ys[(size_t)j * a->y_stride + r] = f32x8_hsum_ref(l);
            }
        }
    }
}

static void tiled_f32(const struct args_matmul *a, uint32_t r0, uint32_t r1, int ref) {
    uint32_t k = a->k, stride = act_row_bytes(ACT_F32, k) / 4;
    for (uint32_t j = 0; j < a->n_cols; j++) {
        const float *x = (const float *)(uintptr_t)a->xq + (size_t)j * stride;
        float *y = (float *)(uintptr_t)a->y + (size_t)j * a->y_stride;
        for (uint32_t r = r0; r < r1; r++) {
            const float *w = (const float *)(uintptr_t)a->w + (size_t)r * k;
            if (ref) {
                float l[8] = {0};
                for (uint32_t i = 0; i < k; i++) l[i % 8] = fma_f32(w[i], x[i], l[i % 8]);
                y[r] = f32x8_hsum_ref(l);
            } else {
                v128 lo = wasm_f32x4_splat(0.0f), hi = lo;
                for (uint32_t i = 0; i < k; i += 8) {
                    lo = f32x4_fma(ld(w + i), ld(x + i), lo);
                    hi = f32x4_fma(ld(w + i + 4), ld(x + i + 4), hi);
                }
                y[r] = f32x8_hsum(lo, hi);
            }
        }
    }
}

void matmul_tiled(const struct args_matmul *a, uint32_t ith, uint32_t nth, int ref) {
    if (a->k == 0 || a->k % 8 || (a->wtype != HT_F16 && a->wtype != HT_F32)) return;
    uint32_t r0, r1;
    split_range(a->n_rows, ith, nth, &r0, &r1);
    if (r0 >= r1) return;
    if (a->wtype == HT_F16) tiled_f16(a, r0, r1, ref);
    else tiled_f32(a, r0, r1, ref);
}
