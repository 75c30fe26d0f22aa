/* OP_ROPE with a host-computed (cos, sin) table. llama.cpp's rotate_pairs computes x0*cos - x1*sin and
 * x0*sin + x1*cos; its x86 AVX2 build (gcc, -ffp-contract=fast) fuses them as
 *   x0' = fma(x0, cos, -(x1*sin)),   x1' = fma(x0, sin, x1*cos)
 * (the rounded product is the second one in both: checked bit for bit against libggml-cpu-haswell.so's rotated K
 * on every layer of a synthetic model), so we do the same with the exact FMA of internal.h. */
#include "mathf.h"

INLINE void rotate_ref(float *x0, float *x1, float c, float s) {
    float a = *x0, b = *x1;
    *x0 = fma_f32(a, c, -(b * s));
    *x1 = fma_f32(a, s, b * c);
}

INLINE void rotate4(v128 *x0, v128 *x1, v128 c, v128 s) {
    v128 a = *x0, b = *x1;
    *x0 = f32x4_fma(a, c, wasm_f32x4_neg(wasm_f32x4_mul(b, s)));
    *x1 = f32x4_fma(a, s, wasm_f32x4_mul(b, c));
}

void rope(const struct args_rope *a, uint32_t ith, uint32_t nth, int ref) {
    uint32_t half = a->n_rot / 2, u0, u1;
    if (a->n_heads == 0 || a->n_rot > a->head_dim || (a->n_rot & 1) || (a->mode != 0 && a->mode != 2)) return;
    split_range(a->n_tokens * a->n_heads, ith, nth, &u0, &u1);
    for (uint32_t u = u0; u < u1; u++) {
        uint32_t t = u / a->n_heads, h = u % a->n_heads;
        float *x = (float *)(uintptr_t)a->x + (size_t)t * a->x_stride + (size_t)h * a->head_dim;
        const float *cs = (const float *)(uintptr_t)a->cos_sin + (size_t)t * a->n_rot;
        uint32_t i = 0;
        if (a->mode == 2) {
            if (!ref)
                for (; i + 4 <= half; i += 4) {
                    v128 p = ld(cs + 2 * i), q = ld(cs + 2 * i + 4);
                    v128 c = wasm_i32x4_shuffle(p, q, 0, 2, 4, 6), s = wasm_i32x4_shuffle(p, q, 1, 3, 5, 7);
                    v128 x0 = ld(x + i), x1 = ld(x + i + half);
                    rotate4(&x0, &x1, c, s);
                    st(x + i, x0);
                    st(x + i + half, x1);
                }
            for (; i < half; i++) rotate_ref(x + i, x + i + half, cs[2 * i], cs[2 * i + 1]);
        } else {
            if (!ref)
                for (; i + 4 <= half; i += 4) {
                    v128 p = ld(cs + 2 * i), q = ld(cs + 2 * i + 4);
                    v128 c = wasm_i32x4_shuffle(p, q, 0, 2, 4, 6), s = wasm_i32x4_shuffle(p, q, 1, 3, 5, 7);
                    v128 v = ld(x + 2 * i), w = ld(x + 2 * i + 4);
                    v128 x0 = wasm_i32x4_shuffle(v, w, 0, 2, 4, 6), x1 = wasm_i32x4_shuffle(v, w, 1, 3, 5, 7);
                    rotate4(&x0, &x1, c, s);
                    st(x + 2 * i, wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5));
                    st(x + 2 * i + 4, wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7));
                }
            for (; i < half; i++) rotate_ref(x + 2 * i, x + 2 * i + 1, cs[2 * i], cs[2 * i + 1]);
        }
    }
}
