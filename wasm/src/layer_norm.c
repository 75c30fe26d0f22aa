/* OP_LAYER_NORM as ggml_compute_forward_norm_f32 on the AVX2+FMA build (then ggml_mul by w, ggml_add by b, as the
 * separate ops clip's build_norm emits):
 *   sum  = (float) of the element sum accumulated in double in element order (ggml_vec_sum_f32);
 *   mean = sum / (float)k in float;
 *   d_i  = x_i - mean (float), written out;
 *   var  = (float)(S / k) where S is a double sum over groups of 8 squares: each group reduced in float as AVX2's
 *          extract/movehl/movehdup sequence does, ((d0²+d4²) + (d2²+d6²)) + ((d1²+d5²) + (d3²+d7²)), then added
 *          to S; the last k % 8 squares go into S one by one (ggml_vec_cvar_f32);
 *   y_i  = ((d_i * (1/sqrtf(var + eps))) * w_i) + b_i, each step rounded to float; w, b may be 0 (none). */
#include "internal.h"

/* One group of 8 squares reduced as the AVX2 horizontal add does. */
INLINE float group8_ref(const float *d) {
    float a0 = d[4] * d[4] + d[0] * d[0], a1 = d[5] * d[5] + d[1] * d[1];
    float a2 = d[6] * d[6] + d[2] * d[2], a3 = d[7] * d[7] + d[3] * d[3];
    return (a0 + a2) + (a1 + a3);
}

void layer_norm(const struct args_layer_norm *a, uint32_t ith, uint32_t nth, int ref) {
    uint32_t k = a->k, r0, r1;
    if (k == 0) return;
    split_range(a->n_rows, ith, nth, &r0, &r1);
    const float *w = (const float *)(uintptr_t)a->w;
    const float *b = (const float *)(uintptr_t)a->b;
    for (uint32_t r = r0; r < r1; r++) {
        const float *x = (const float *)(uintptr_t)a->x + (size_t)r * k;
        float *y = (float *)(uintptr_t)a->out + (size_t)r * k;
        double sum = 0.0;
        for (uint32_t i = 0; i < k; i++) sum += (double)x[i];
        float mean = (float)sum / (float)k;
        double sq = 0.0;
        uint32_t i = 0;
        if (ref) {
            for (; i + 8 <= k; i += 8) {
                for (uint32_t j = 0; j < 8; j++) y[i + j] = x[i + j] - mean;
                sq += (double)group8_ref(y + i);
            }
        } else {
            v128 vm = wasm_f32x4_splat(mean);
            for (; i + 8 <= k; i += 8) {
                v128 lo = wasm_f32x4_sub(ld(x + i), vm), hi = wasm_f32x4_sub(ld(x + i + 4), vm);
                st(y + i, lo);
                st(y + i + 4, hi);
                v128 s = wasm_f32x4_add(wasm_f32x4_mul(hi, hi), wasm_f32x4_mul(lo, lo));
                sq += (double)f32x4_lanes_sum(s);
            }
        }
        for (; i < k; i++) {
            float d = x[i] - mean;
            y[i] = d;
            sq += (double)(d * d);
        }
        float var = (float)(sq / (double)k);
        float scale = 1.0f / __builtin_sqrtf(var + a->eps);
        i = 0;
        if (!ref) {
            v128 vs = wasm_f32x4_splat(scale);
            for (; i + 4 <= k; i += 4) {
                v128 v = wasm_f32x4_mul(ld(y + i), vs);
                if (w) v = wasm_f32x4_mul(v, ld(w + i));
                if (b) v = wasm_f32x4_add(v, ld(b + i));
                st(y + i, v);
            }
        }
        for (; i < k; i++) {
            float v = y[i] * scale;
            if (w) v = v * w[i];
            if (b) v = v + b[i];
            y[i] = v;
        }
    }
}
