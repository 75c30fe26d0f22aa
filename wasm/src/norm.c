/* OP_RMS_NORM as ggml_compute_forward_rms_norm_f32: sum of float squares accumulated in double in element order,
 * mean = (float)(sum / k), scale = 1/sqrtf(mean + eps), out = (x * scale) * w. */
#include "internal.h"

void rms_norm(const struct args_rms_norm *a, uint32_t ith, uint32_t nth, int ref) {
    uint32_t k = a->k, r0, r1;
    if (k == 0) return;
    split_range(a->n_rows, ith, nth, &r0, &r1);
    const float *w = (const float *)(uintptr_t)a->w;
    for (uint32_t r = r0; r < r1; r++) {
        const float *x = (const float *)(uintptr_t)a->x + (size_t)r * k;
        float *y = (float *)(uintptr_t)a->out + (size_t)r * k;
        double sum = 0.0;
        uint32_t i = 0;
        if (!ref) {
            /* squares four at a time; the double sum stays sequential (its order is ggml's) */
            for (; i + 4 <= k; i += 4) {
                float sq[4];
                v128 v = ld(x + i);
                st(sq, wasm_f32x4_mul(v, v));
                sum += (double)sq[0];
                sum += (double)sq[1];
                sum += (double)sq[2];
                sum += (double)sq[3];
            }
        }
        for (; i < k; i++) sum += (double)(x[i] * x[i]);
        float mean = (float)(sum / (double)k);
        float scale = 1.0f / __builtin_sqrtf(mean + a->eps);
        i = 0;
        if (!ref) {
            v128 vs = wasm_f32x4_splat(scale);
            if (w) for (; i + 4 <= k; i += 4) st(y + i, wasm_f32x4_mul(wasm_f32x4_mul(ld(x + i), vs), ld(w + i)));
            else for (; i + 4 <= k; i += 4) st(y + i, wasm_f32x4_mul(ld(x + i), vs));
        }
        for (; i < k; i++) y[i] = w ? (x[i] * scale) * w[i] : x[i] * scale;
    }
}
