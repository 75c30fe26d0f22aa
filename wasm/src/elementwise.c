/* Elementwise ops and softmax, with ggml's x86 numerics (ggml-cpu/vec.h, vec.cpp, ops.cpp). */
#include "mathf.h"

/* ---- GELU through ggml's f16 table (GGML_GELU_FP16) ----
 * table[h] = f16(gelu(f32(h))) with gelu(x) = (0.5f*x) * (1 + tanhf((SQRT_2_OVER_PI*x) * (1 + GELU_COEF_A*x*x)));
 * the AVX2 build computes 1 + (GELU_COEF_A*x)*x as one FMA (seen in libggml-cpu-haswell.so's ggml_cpu_init). */
#define GELU_COEF_A 0.044715f
#define SQRT_2_OVER_PI 0.79788456080286535587989211986876f

INLINE float gelu_mul_ref(float x, float g) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x * g;
    float xf = round_fp16(x);
    float inner = (SQRT_2_OVER_PI * xf) * fma_emul(GELU_COEF_A * xf, xf, 1.0f);
    float v = (0.5f * xf) * (1.0f + tanhf_acc(inner));
    return round_fp16(v) * g;
}

/* gelu of 4 values already in f16, as f16 bits (low 16 bits of each lane) */
INLINE v128 gelu_f16_bits4(v128 xf) {
    v128 inner = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(SQRT_2_OVER_PI), xf),
                                fma_emul4(wasm_f32x4_mul(wasm_f32x4_splat(GELU_COEF_A), xf), xf, wasm_f32x4_splat(1.0f)));
    v128 v = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(0.5f), xf), wasm_f32x4_add(wasm_f32x4_splat(1.0f), tanhf_acc4(inner)));
    return f32x4_to_fp16x4(v);
}

/* gelu_f16_bits4 of every f16 value, as ggml keeps it: the SIMD path looks its values up (4 scalar loads beat the
 * tanh and fma emulation several times over: a 12B decode step spent 13 ms in GELU); the scalar twin still
 * computes, so the kernel checks hold the table to the formula. Filled by hearth_init, once per memory. */
static uint16_t gelu_table[65536];

EXPORT(hearth_init) void hearth_init(void) {
    for (uint32_t h = 0; h < 65536; h += 4) {
        v128 bits = gelu_f16_bits4(fp16x4_to_f32x4(wasm_i32x4_make((int32_t)h, (int32_t)h + 1, (int32_t)h + 2, (int32_t)h + 3)));
        gelu_table[h] = (uint16_t)wasm_i32x4_extract_lane(bits, 0);
        gelu_table[h + 1] = (uint16_t)wasm_i32x4_extract_lane(bits, 1);
        gelu_table[h + 2] = (uint16_t)wasm_i32x4_extract_lane(bits, 2);
        gelu_table[h + 3] = (uint16_t)wasm_i32x4_extract_lane(bits, 3);
    }
}

INLINE v128 gelu_mul4(v128 x, v128 g) {
    v128 h = f32x4_to_fp16x4(x);
    v128 t = wasm_i32x4_make(gelu_table[wasm_i32x4_extract_lane(h, 0)], gelu_table[wasm_i32x4_extract_lane(h, 1)],
                             gelu_table[wasm_i32x4_extract_lane(h, 2)], gelu_table[wasm_i32x4_extract_lane(h, 3)]);
    v128 y = wasm_f32x4_mul(fp16x4_to_f32x4(t), g);
    y = wasm_v128_bitselect(wasm_f32x4_mul(x, g), y, wasm_f32x4_ge(x, wasm_f32x4_splat(10.0f)));
    return wasm_v128_andnot(y, wasm_f32x4_le(x, wasm_f32x4_splat(-10.0f)));
}

/* ---- one element, scalar; `vec` tells SiLU whether ggml would be in its 8-wide loop (ggml_v_silu) or its tail
 * (expf) for this element ---- */
INLINE float elem_ref(uint32_t op, float a, float b, float s, int vec) {
    switch (op) {
    case OP_SILU_MUL: return (vec ? ggml_silu(a) : a / (1.0f + expf_acc(-a))) * b;
    case OP_GELU_MUL: return gelu_mul_ref(a, b);
    case OP_ADD: return a + b;
    case OP_MUL: return a * b;
    case OP_SCALE: return a * s;
    case OP_SOFTCAP: return tanhf_acc(a * (1.0f / s)) * s;
    case OP_EXP: return expf_acc(a);
    case OP_TANH: return tanhf_acc(a);
    default: return a;
    }
}

INLINE v128 elem4(uint32_t op, v128 a, v128 b, float s, int fz) {
    switch (op) {
    case OP_SILU_MUL: return wasm_f32x4_mul(ggml_silu4(a, fz), b);
    case OP_GELU_MUL: return gelu_mul4(a, b);
    case OP_ADD: return wasm_f32x4_add(a, b);
    case OP_MUL: return wasm_f32x4_mul(a, b);
    case OP_SCALE: return wasm_f32x4_mul(a, wasm_f32x4_splat(s));
    case OP_SOFTCAP: return wasm_f32x4_mul(tanhf_acc4(wasm_f32x4_mul(a, wasm_f32x4_splat(1.0f / s))), wasm_f32x4_splat(s));
    case OP_EXP: return expf_acc4(a);
    case OP_TANH: return tanhf_acc4(a);
    default: return a;
    }
}

INLINE int uses_b(uint32_t op) { return op == OP_SILU_MUL || op == OP_GELU_MUL || op == OP_ADD || op == OP_MUL; }

INLINE void elementwise_op(uint32_t op, const struct args_elementwise *a, uint32_t i0, uint32_t i1, int ref) {
    const float *x = (const float *)(uintptr_t)a->a;
    const float *g = uses_b(op) ? (const float *)(uintptr_t)a->b : x;
    float *out = (float *)(uintptr_t)a->out;
    float s = f32_bits(a->b);
    uint32_t nvec = a->n - a->n % 8, i = i0;
    if (!ref) {
        uint32_t end = op == OP_SILU_MUL ? min_u32(i1, nvec) : i1;
        if (op == OP_SILU_MUL && fma_fused())
            for (; i + 4 <= end; i += 4) st(out + i, elem4(op, ld(x + i), ld(g + i), s, 1));
        for (; i + 4 <= end; i += 4) st(out + i, elem4(op, ld(x + i), ld(g + i), s, 0));
    }
    for (; i < i1; i++) out[i] = elem_ref(op, x[i], g[i], s, i < nvec);
}

void elementwise(uint32_t op, const struct args_elementwise *a, uint32_t ith, uint32_t nth, int ref) {
    uint32_t c0, c1;
    split_range((a->n + 15) / 16, ith, nth, &c0, &c1);
    uint32_t i0 = min_u32(c0 * 16, a->n), i1 = min_u32(c1 * 16, a->n);
    if (i0 >= i1) return;
    switch (op) { /* one specialised loop per op */
    case OP_SILU_MUL: elementwise_op(OP_SILU_MUL, a, i0, i1, ref); break;
    case OP_GELU_MUL: elementwise_op(OP_GELU_MUL, a, i0, i1, ref); break;
    case OP_ADD: elementwise_op(OP_ADD, a, i0, i1, ref); break;
    case OP_MUL: elementwise_op(OP_MUL, a, i0, i1, ref); break;
    case OP_SCALE: elementwise_op(OP_SCALE, a, i0, i1, ref); break;
    case OP_SOFTCAP: elementwise_op(OP_SOFTCAP, a, i0, i1, ref); break;
    case OP_EXP: elementwise_op(OP_EXP, a, i0, i1, ref); break;
    case OP_TANH: elementwise_op(OP_TANH, a, i0, i1, ref); break;
    default: break;
    }
}

/* ---- softmax: ggml_compute_forward_soft_max_f32 (scale 1, no mask) with ggml_vec_soft_max_f32's AVX2 loop:
 * max by MAX(max, x); groups of 8 through ggml_v_expf, each group summed in float as
 * ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)) and added to a double; the last n % 8 through expf; then every value times
 * (float)(1.0/sum). ---- */
INLINE void softmax_row_fz(float *x, uint32_t n, int ref, int fz) {
    float max = -__builtin_inff();
    uint32_t i = 0;
    if (!ref) { /* the same maximum for non-NaN rows (a zero's sign may differ, which exp(x - max) cannot see) */
        v128 m = wasm_f32x4_splat(max);
        for (; i + 4 <= n; i += 4) m = wasm_f32x4_pmax(m, ld(x + i));
        m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
        m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
        max = wasm_f32x4_extract_lane(m, 0);
    }
    for (; i < n; i++) max = max > x[i] ? max : x[i];
    double sum = 0.0;
    i = 0;
    if (ref) {
        for (; i + 8 <= n; i += 8) {
            float v[8];
            for (int l = 0; l < 8; l++) x[i + l] = v[l] = ggml_expf(x[i + l] - max);
            sum += (double)(((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7])));
        }
    } else {
        v128 m = wasm_f32x4_splat(max);
        const v128 ninf = wasm_f32x4_splat(-__builtin_inff());
        for (; i + 8 <= n; i += 8) {
            /* 8 masked cells (attention's -inf: the causal tail, a sliding window) give exact zeros, which add nothing
             * to the sum: skip the exponentials, the costliest part of a small head's attention */
            if (!wasm_v128_any_true(wasm_v128_or(wasm_f32x4_ne(ld(x + i), ninf), wasm_f32x4_ne(ld(x + i + 4), ninf)))) {
                st(x + i, wasm_f32x4_splat(0.0f));
                st(x + i + 4, wasm_f32x4_splat(0.0f));
                continue;
            }
            v128 lo = ggml_expf4_fz(wasm_f32x4_sub(ld(x + i), m), fz), hi = ggml_expf4_fz(wasm_f32x4_sub(ld(x + i + 4), m), fz);
            st(x + i, lo);
            st(x + i + 4, hi);
            v128 s = wasm_f32x4_add(lo, hi);
            sum += (double)((wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 2)) +
                            (wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 3)));
        }
    }
    for (; i < n; i++) {
        float v = expf_acc(x[i] - max);
        sum += (double)v;
        x[i] = v;
    }
    float inv = (float)(1.0 / sum);
    i = 0;
    if (!ref) for (; i + 4 <= n; i += 4) st(x + i, wasm_f32x4_mul(ld(x + i), wasm_f32x4_splat(inv)));
    for (; i < n; i++) x[i] = x[i] * inv;
}

void softmax_row(float *x, uint32_t n, int ref) {
    if (!ref && fma_fused()) softmax_row_fz(x, n, 0, 1);
    else softmax_row_fz(x, n, ref, 0);
}

void softmax_rows(const struct args_softmax *a, uint32_t ith, uint32_t nth, int ref) {
    uint32_t r0, r1;
    split_range(a->n_rows, ith, nth, &r0, &r1);
    for (uint32_t r = r0; r < r1; r++) softmax_row((float *)(uintptr_t)a->x + (size_t)r * a->n, a->n, ref);
}
