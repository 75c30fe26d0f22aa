/* OP_QUANTIZE_ACT: one activation column into the format its weight type's dot product wants, exactly as
 * llama.cpp's x86 CPU backend quantizes it (ggml-cpu/arch/x86/quants.c, ggml-quants.c). Layouts: internal.h. */
#include "internal.h"

/* One run of 16 quants in the build's stored order (internal.h). */
INLINE void store_run(act_t *qs, v128 q8) {
#if RELAXED
    st(qs, q8);
#else
    st(qs, wasm_i16x8_shr(wasm_i16x8_shl(q8, 8), 8));
    st(qs + 8, wasm_i16x8_shr(q8, 8));
#endif
}

INLINE int32_t round_to_int(float v) { return __builtin_wasm_trunc_saturate_s_i32_f32(__builtin_roundevenf(v)); }
INLINE int32_t clamp_i8(int32_t v) { return v < -128 ? -128 : v > 127 ? 127 : v; }

/* x86 quantize_row_q8_0/q8_1 (AVX2): d = amax/127 (stored f16), quants = round-half-even(x * (127/amax)),
 * saturated to int8 by the packs instructions. Returns the block's quant sum. */
static int32_t q8_block_ref(const float *x, act_t *qs, float *d_out, float *d_unrounded) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        float a = f32_bits(bits_f32(x[j]) & 0x7fffffffu);
        amax = a > amax ? a : amax;
    }
    float d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < 32; j++) {
        int32_t q = clamp_i8(round_to_int(x[j] * id));
        qs[act_pos(j)] = (act_t)q;
        sum += q;
    }
    *d_out = round_fp16(d);
    *d_unrounded = d;
    return sum;
}

static int32_t q8_block(const float *x, act_t *qs, float *d_out, float *d_unrounded) {
    v128 v[8], m = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < 8; i++) {
        v[i] = ld(x + 4 * i);
        m = wasm_f32x4_max(m, wasm_f32x4_abs(v[i]));
    }
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    float amax = wasm_f32x4_extract_lane(m, 0);
    float d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    v128 vid = wasm_f32x4_splat(id), q32[8];
    for (int i = 0; i < 8; i++) q32[i] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(v[i], vid)));
    v128 q8a = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q32[0], q32[1]), wasm_i16x8_narrow_i32x4(q32[2], q32[3]));
    v128 q8b = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q32[4], q32[5]), wasm_i16x8_narrow_i32x4(q32[6], q32[7]));
    v128 a0 = wasm_i16x8_extend_low_i8x16(q8a), a1 = wasm_i16x8_extend_high_i8x16(q8a);
    v128 a2 = wasm_i16x8_extend_low_i8x16(q8b), a3 = wasm_i16x8_extend_high_i8x16(q8b);
    store_run(qs, q8a);
    store_run(qs + 16, q8b);
    v128 s = wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(wasm_i16x8_add(a0, a1), wasm_i16x8_add(a2, a3)));
    s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 2, 3, 0, 1));
    s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2));
    *d_out = round_fp16(d);
    *d_unrounded = d;
    return wasm_i32x4_extract_lane(s, 0);
}

/* One Q8_0 / Q8_1 column. sums_as_s: Q8_1 stores s = f16(d * sum) (floats) where Q8_0 stores the int sums; wide:
 * ACT_Q8_0W's int16 copy (relaxed build). */
INLINE void quantize_q8(const float *x, uint8_t *xq, uint32_t k, int ref, int sums_as_s, int wide_copy) {
    uint32_t nb = k / 32, nb4 = round4(nb);
    act_t *qs = (act_t *)xq;
    float *d = (float *)(xq + k * sizeof(act_t));
    int32_t *bsum = (int32_t *)(d + nb4);
    float *s = (float *)bsum;
    for (uint32_t b = 0; b < nb; b++) {
        float dd, du;
        int32_t sum = ref ? q8_block_ref(x + 32 * b, qs + 32 * b, &dd, &du) : q8_block(x + 32 * b, qs + 32 * b, &dd, &du);
        d[b] = dd;
        if (sums_as_s) s[b] = round_fp16(du * (float)sum);
        else bsum[b] = sum;
    }
    for (uint32_t b = nb; b < nb4; b++) {
        d[b] = 0.0f;
        bsum[b] = 0;
    }
#if RELAXED
    if (wide_copy) { /* ACT_Q8_0W in the relaxed build: the int16 copy for Q8_0 weights (internal.h, struct act_q8) */
        int16_t *wide = (int16_t *)(bsum + nb4);
        if (ref) {
            for (uint32_t i = 0; i < k; i++) wide[act_pos16(i)] = qs[i];
        } else {
            for (uint32_t i = 0; i < k; i += 16) {
                v128 q8 = ld(qs + i);
                st(wide + i, wasm_i16x8_shr(wasm_i16x8_shl(q8, 8), 8));
                st(wide + i + 8, wasm_i16x8_shr(q8, 8));
            }
        }
    }
#else
    (void)wide_copy;
#endif
}

void quantize_q8_0(const float *x, uint8_t *xq, uint32_t k) { quantize_q8(x, xq, k, 0, 0, 0); }
void quantize_q8_0_ref(const float *x, uint8_t *xq, uint32_t k) { quantize_q8(x, xq, k, 1, 0, 0); }
void quantize_q8_0w(const float *x, uint8_t *xq, uint32_t k) { quantize_q8(x, xq, k, 0, 0, 1); }
void quantize_q8_0w_ref(const float *x, uint8_t *xq, uint32_t k) { quantize_q8(x, xq, k, 1, 0, 1); }
void quantize_q8_1(const float *x, uint8_t *xq, uint32_t k) { quantize_q8(x, xq, k, 0, 1, 0); }
void quantize_q8_1_ref(const float *x, uint8_t *xq, uint32_t k) { quantize_q8(x, xq, k, 1, 1, 0); }

/* quantize_row_q8_K_ref: the value of largest magnitude (first one, sign kept) maps to -127; d = 1/iscale in f32;
 * all-zero blocks get d = 0 and zero quants. */
INLINE void q8k_finish(const act_t *qs, int16_t *bsum16, int16_t *bsum32) {
    for (int g = 0; g < 16; g++) {
        int32_t sum = 0;
        for (int j = 0; j < 16; j++) sum += qs[16 * g + j];
        bsum16[g] = (int16_t)sum;
    }
    for (int g = 0; g < 8; g++) bsum32[g] = (int16_t)(bsum16[2 * g] + bsum16[2 * g + 1]);
}

static float q8k_block_ref(const float *x, act_t *qs) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; j++) {
        float ax = f32_bits(bits_f32(x[j]) & 0x7fffffffu);
        if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (amax == 0.0f) {
        for (int j = 0; j < 256; j++) qs[j] = 0;
        return 0.0f;
    }
    float iscale = -127.0f / max;
    for (int j = 0; j < 256; j++) {
        int32_t v = round_to_int(iscale * x[j]);
        qs[act_pos(j)] = (act_t)(v < 127 ? v : 127);
    }
    return 1.0f / iscale;
}

static float q8k_block(const float *x, act_t *qs) {
    v128 m = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < 64; i++) m = wasm_f32x4_max(m, wasm_f32x4_abs(ld(x + 4 * i)));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    float amax = wasm_f32x4_extract_lane(m, 0);
    if (!(amax > 0.0f)) return q8k_block_ref(x, qs); /* zero or NaN block: the scalar rules decide */
    float max = 0.0f;
    for (int i = 0; i < 64; i++) {
        v128 v = ld(x + 4 * i);
        uint32_t hit = wasm_i32x4_bitmask(wasm_f32x4_eq(wasm_f32x4_abs(v), m));
        if (hit) {
            max = x[4 * i + __builtin_ctz(hit)];
            break;
        }
    }
    float iscale = -127.0f / max;
    v128 vs = wasm_f32x4_splat(iscale), top = wasm_i32x4_splat(127);
    for (int i = 0; i < 256; i += 16) {
        v128 q[4];
        for (int u = 0; u < 4; u++)
            q[u] = wasm_i32x4_min(wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(vs, ld(x + i + 4 * u)))), top);
        v128 h0 = wasm_i16x8_narrow_i32x4(q[0], q[1]), h1 = wasm_i16x8_narrow_i32x4(q[2], q[3]);
        store_run(qs + i, wasm_i8x16_narrow_i16x8(h0, h1));
    }
    return 1.0f / iscale;
}

INLINE void quantize_q8k(const float *x, uint8_t *xq, uint32_t k, int ref) {
    uint32_t ns = k / 256, ns4 = round4(ns);
    act_t *qs = (act_t *)xq;
    float *d = (float *)(xq + k * sizeof(act_t));
    int16_t *bsum16 = (int16_t *)(d + ns4);
    int16_t *bsum32 = bsum16 + k / 16;
    for (uint32_t b = 0; b < ns; b++) {
        d[b] = ref ? q8k_block_ref(x + 256 * b, qs + 256 * b) : q8k_block(x + 256 * b, qs + 256 * b);
        q8k_finish(qs + 256 * b, bsum16 + 16 * b, bsum32 + 8 * b);
    }
    for (uint32_t b = ns; b < ns4; b++) d[b] = 0.0f;
}

void quantize_q8_k(const float *x, uint8_t *xq, uint32_t k) { quantize_q8k(x, xq, k, 0); }
void quantize_q8_k_ref(const float *x, uint8_t *xq, uint32_t k) { quantize_q8k(x, xq, k, 1); }

/* F32 weights take the activation as is; F16 / BF16 take it rounded to their format (kept as f32 values). */
void quantize_f32(const float *x, uint8_t *xq, uint32_t k) { __builtin_memcpy(xq, x, (size_t)k * 4); }

void quantize_f16_ref(const float *x, uint8_t *xq, uint32_t k) {
    float *o = (float *)xq;
    for (uint32_t i = 0; i < k; i++) o[i] = round_fp16(x[i]);
}
void quantize_f16(const float *x, uint8_t *xq, uint32_t k) {
    float *o = (float *)xq;
    uint32_t i = 0;
    for (; i + 4 <= k; i += 4) st(o + i, f32x4_round_fp16(ld(x + i)));
    for (; i < k; i++) o[i] = round_fp16(x[i]);
}

void quantize_bf16_ref(const float *x, uint8_t *xq, uint32_t k) {
    float *o = (float *)xq;
    for (uint32_t i = 0; i < k; i++) o[i] = bf16_to_f32(f32_to_bf16(x[i]));
}
void quantize_bf16(const float *x, uint8_t *xq, uint32_t k) {
    float *o = (float *)xq;
    uint32_t i = 0;
    for (; i + 4 <= k; i += 4) {
        v128 u = ld(x + i);
        v128 nan = wasm_i32x4_gt(wasm_v128_and(u, wasm_i32x4_splat(0x7fffffff)), wasm_i32x4_splat(0x7f800000));
        v128 rounded = wasm_i32x4_add(u, wasm_i32x4_add(wasm_i32x4_splat(0x7fff), wasm_v128_and(wasm_u32x4_shr(u, 16), wasm_i32x4_splat(1))));
        v128 quiet = wasm_v128_or(u, wasm_i32x4_splat(64 << 16));
        v128 r = wasm_v128_bitselect(quiet, rounded, nan);
        st(o + i, wasm_v128_and(r, wasm_i32x4_splat((int32_t)0xffff0000u)));
    }
    for (; i < k; i++) o[i] = bf16_to_f32(f32_to_bf16(x[i]));
}
