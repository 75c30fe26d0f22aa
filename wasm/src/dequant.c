/* OP_GET_ROWS: dequantize one row to f32 with exactly the float math of spec gguf.md §3 (ggml-quants.c
 * dequantize_row_*): each value is one int-to-float conversion and the products/differences the spec lists. */
#include "internal.h"

/* ---- scalar twins ---- */

void dequant_f32(const uint8_t *row, float *out, uint32_t k) { __builtin_memcpy(out, row, (size_t)k * 4); }

void dequant_f16_ref(const uint8_t *row, float *out, uint32_t k) {
    for (uint32_t i = 0; i < k; i++) out[i] = fp16_to_f32(ld16(row + 2 * i));
}
void dequant_bf16_ref(const uint8_t *row, float *out, uint32_t k) {
    for (uint32_t i = 0; i < k; i++) out[i] = bf16_to_f32(ld16(row + 2 * i));
}

void dequant_q8_0_ref(const uint8_t *row, float *out, uint32_t k) {
    for (uint32_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = row + 34 * b;
        float d = fp16_to_f32(ld16(blk));
        for (int j = 0; j < 32; j++) out[32 * b + j] = (float)(int8_t)blk[2 + j] * d;
    }
}

void dequant_q4_0_ref(const uint8_t *row, float *out, uint32_t k) {
    for (uint32_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = row + 18 * b;
        float d = fp16_to_f32(ld16(blk));
        for (int j = 0; j < 16; j++) {
            out[32 * b + j] = (float)((blk[2 + j] & 15) - 8) * d;
            out[32 * b + j + 16] = (float)((blk[2 + j] >> 4) - 8) * d;
        }
    }
}

void dequant_q4_1_ref(const uint8_t *row, float *out, uint32_t k) {
    for (uint32_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = row + 20 * b;
        float d = fp16_to_f32(ld16(blk)), m = fp16_to_f32(ld16(blk + 2));
        for (int j = 0; j < 16; j++) {
            out[32 * b + j] = (float)(blk[4 + j] & 15) * d + m;
            out[32 * b + j + 16] = (float)(blk[4 + j] >> 4) * d + m;
        }
    }
}

INLINE void q45k_ref(const uint8_t *row, float *out, uint32_t k, int five) {
    uint32_t bb = five ? 176 : 144;
    for (uint32_t b = 0; b < k / 256; b++) {
        const uint8_t *blk = row + bb * b, *qh = blk + 16, *qs = blk + (five ? 48 : 16);
        float d = fp16_to_f32(ld16(blk)), dmin = fp16_to_f32(ld16(blk + 2));
        float *o = out + 256 * b;
        for (int c = 0; c < 4; c++) {
            uint8_t sc1, m1, sc2, m2;
            kquant_scale_min(blk + 4, 2 * c, &sc1, &m1);
            kquant_scale_min(blk + 4, 2 * c + 1, &sc2, &m2);
            float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
            for (int l = 0; l < 32; l++) {
                int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
                if (five) {
                    lo += ((qh[l] >> (2 * c)) & 1) << 4;
                    hi += ((qh[l] >> (2 * c + 1)) & 1) << 4;
                }
                o[64 * c + l] = d1 * (float)lo - mm1;
                o[64 * c + 32 + l] = d2 * (float)hi - mm2;
            }
        }
    }
}
void dequant_q4_k_ref(const uint8_t *row, float *out, uint32_t k) { q45k_ref(row, out, k, 0); }
void dequant_q5_k_ref(const uint8_t *row, float *out, uint32_t k) { q45k_ref(row, out, k, 1); }

void dequant_q6_k_ref(const uint8_t *row, float *out, uint32_t k) {
    for (uint32_t b = 0; b < k / 256; b++) {
        const uint8_t *blk = row + 210 * b;
        const int8_t *sc = (const int8_t *)(blk + 192);
        float d = fp16_to_f32(ld16(blk + 208));
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = blk + 64 * n, *qh = blk + 128 + 32 * n;
            const int8_t *s = sc + 8 * n;
            float *o = out + 256 * b + 128 * n;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                o[l] = (d * (float)s[is + 0]) * (float)q1;
                o[l + 32] = (d * (float)s[is + 2]) * (float)q2;
                o[l + 64] = (d * (float)s[is + 4]) * (float)q3;
                o[l + 96] = (d * (float)s[is + 6]) * (float)q4;
            }
        }
    }
}

/* ---- SIMD ---- */

/* 16 int8 values -> 4 f32x4 times a scale, stored at o. */
INLINE void store_i8x16_scaled(float *o, v128 q, v128 d) {
    v128 lo = wasm_i16x8_extend_low_i8x16(q), hi = wasm_i16x8_extend_high_i8x16(q);
    st(o, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo)), d));
    st(o + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo)), d));
    st(o + 8, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi)), d));
    st(o + 12, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi)), d));
}

/* 16 int8 values -> d * q - m (two roundings, as the scalar d1 * q - m1). */
INLINE void store_i8x16_affine(float *o, v128 q, v128 d, v128 m) {
    v128 lo = wasm_i16x8_extend_low_i8x16(q), hi = wasm_i16x8_extend_high_i8x16(q);
    v128 p[4] = { wasm_i32x4_extend_low_i16x8(lo), wasm_i32x4_extend_high_i16x8(lo), wasm_i32x4_extend_low_i16x8(hi), wasm_i32x4_extend_high_i16x8(hi) };
    for (int i = 0; i < 4; i++) st(o + 4 * i, wasm_f32x4_sub(wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(p[i])), m));
}

void dequant_f16(const uint8_t *row, float *out, uint32_t k) {
    uint32_t i = 0;
    for (; i + 8 <= k; i += 8) {
        v128 lo, hi;
        fp16x8_to_f32x4x2(ld(row + 2 * i), &lo, &hi);
        st(out + i, lo);
        st(out + i + 4, hi);
    }
    for (; i < k; i++) out[i] = fp16_to_f32(ld16(row + 2 * i));
}

void dequant_bf16(const uint8_t *row, float *out, uint32_t k) {
    uint32_t i = 0;
    for (; i + 8 <= k; i += 8) {
        v128 lo, hi;
        bf16x8_to_f32x4x2(ld(row + 2 * i), &lo, &hi);
        st(out + i, lo);
        st(out + i + 4, hi);
    }
    for (; i < k; i++) out[i] = bf16_to_f32(ld16(row + 2 * i));
}

void dequant_q8_0(const uint8_t *row, float *out, uint32_t k) {
    for (uint32_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = row + 34 * b;
        v128 d = wasm_f32x4_splat(fp16_to_f32(ld16(blk)));
        store_i8x16_scaled(out + 32 * b, ld(blk + 2), d);
        store_i8x16_scaled(out + 32 * b + 16, ld(blk + 18), d);
    }
}

void dequant_q4_0(const uint8_t *row, float *out, uint32_t k) {
    const v128 m4 = wasm_i8x16_splat(15), eight = wasm_i8x16_splat(8);
    for (uint32_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = row + 18 * b;
        v128 d = wasm_f32x4_splat(fp16_to_f32(ld16(blk)));
        v128 v = ld(blk + 2);
        store_i8x16_scaled(out + 32 * b, wasm_i8x16_sub(wasm_v128_and(v, m4), eight), d);
        store_i8x16_scaled(out + 32 * b + 16, wasm_i8x16_sub(wasm_v128_and(wasm_u16x8_shr(v, 4), m4), eight), d);
    }
}

void dequant_q4_1(const uint8_t *row, float *out, uint32_t k) {
    const v128 m4 = wasm_i8x16_splat(15);
    for (uint32_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = row + 20 * b;
        v128 d = wasm_f32x4_splat(fp16_to_f32(ld16(blk)));
        v128 m = wasm_f32x4_neg(wasm_f32x4_splat(fp16_to_f32(ld16(blk + 2))));
        v128 v = ld(blk + 4);
        /* q*d + m written as q*d - (-m): the same single rounding of the sum */
        store_i8x16_affine(out + 32 * b, wasm_v128_and(v, m4), d, m);
        store_i8x16_affine(out + 32 * b + 16, wasm_v128_and(wasm_u16x8_shr(v, 4), m4), d, m);
    }
}

INLINE void q45k_simd(const uint8_t *row, float *out, uint32_t k, int five) {
    uint32_t bb = five ? 176 : 144;
    const v128 m4 = wasm_i8x16_splat(15), b4 = wasm_i8x16_splat(0x10);
    for (uint32_t b = 0; b < k / 256; b++) {
        const uint8_t *blk = row + bb * b, *qs = blk + (five ? 48 : 16);
        float d = fp16_to_f32(ld16(blk)), dmin = fp16_to_f32(ld16(blk + 2));
        uint8_t sm[16];
        st(sm, kquant_scales_mins(blk + 4));
        v128 q0 = ld(blk + 16), q1 = ld(blk + 32);
        float *o = out + 256 * b;
        for (int c = 0; c < 4; c++) {
            v128 d1 = wasm_f32x4_splat(d * sm[2 * c]), mm1 = wasm_f32x4_splat(dmin * sm[8 + 2 * c]);
            v128 d2 = wasm_f32x4_splat(d * sm[2 * c + 1]), mm2 = wasm_f32x4_splat(dmin * sm[8 + 2 * c + 1]);
            v128 v0 = ld(qs + 32 * c), v1 = ld(qs + 32 * c + 16);
            v128 l0 = wasm_v128_and(v0, m4), l1 = wasm_v128_and(v1, m4);
            v128 h0 = wasm_v128_and(wasm_u16x8_shr(v0, 4), m4), h1 = wasm_v128_and(wasm_u16x8_shr(v1, 4), m4);
            if (five) {
                v128 s0 = wasm_u16x8_shr(q0, 2 * c), s1 = wasm_u16x8_shr(q1, 2 * c);
                l0 = wasm_v128_or(l0, wasm_v128_and(wasm_i16x8_shl(s0, 4), b4));
                l1 = wasm_v128_or(l1, wasm_v128_and(wasm_i16x8_shl(s1, 4), b4));
                h0 = wasm_v128_or(h0, wasm_v128_and(wasm_i16x8_shl(s0, 3), b4));
                h1 = wasm_v128_or(h1, wasm_v128_and(wasm_i16x8_shl(s1, 3), b4));
            }
            store_i8x16_affine(o + 64 * c, l0, d1, mm1);
            store_i8x16_affine(o + 64 * c + 16, l1, d1, mm1);
            store_i8x16_affine(o + 64 * c + 32, h0, d2, mm2);
            store_i8x16_affine(o + 64 * c + 48, h1, d2, mm2);
        }
    }
}
void dequant_q4_k(const uint8_t *row, float *out, uint32_t k) { q45k_simd(row, out, k, 0); }
void dequant_q5_k(const uint8_t *row, float *out, uint32_t k) { q45k_simd(row, out, k, 1); }

void dequant_q6_k(const uint8_t *row, float *out, uint32_t k) {
    const v128 m4 = wasm_i8x16_splat(15), m30 = wasm_i8x16_splat(0x30), off = wasm_i8x16_splat(32);
    for (uint32_t b = 0; b < k / 256; b++) {
        const uint8_t *blk = row + 210 * b;
        const int8_t *sc = (const int8_t *)(blk + 192);
        float d = fp16_to_f32(ld16(blk + 208));
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = blk + 64 * n, *qh = blk + 128 + 32 * n;
            const int8_t *s = sc + 8 * n;
            float *o = out + 256 * b + 128 * n;
            v128 a0 = ld(ql), a1 = ld(ql + 16), a2 = ld(ql + 32), a3 = ld(ql + 48), h0 = ld(qh), h1 = ld(qh + 16);
            v128 q[8] = {
                wasm_v128_or(wasm_v128_and(a0, m4), wasm_v128_and(wasm_i16x8_shl(h0, 4), m30)),
                wasm_v128_or(wasm_v128_and(a1, m4), wasm_v128_and(wasm_i16x8_shl(h1, 4), m30)),
                wasm_v128_or(wasm_v128_and(a2, m4), wasm_v128_and(wasm_i16x8_shl(h0, 2), m30)),
                wasm_v128_or(wasm_v128_and(a3, m4), wasm_v128_and(wasm_i16x8_shl(h1, 2), m30)),
                wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a0, 4), m4), wasm_v128_and(h0, m30)),
                wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a1, 4), m4), wasm_v128_and(h1, m30)),
                wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a2, 4), m4), wasm_v128_and(wasm_u16x8_shr(h0, 2), m30)),
                wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a3, 4), m4), wasm_v128_and(wasm_u16x8_shr(h1, 2), m30)),
            };
            /* output 16i..16i+15 of this half uses scale s[i] (is + 0/2/4/6 with is = 0, 1) */
            for (int i = 0; i < 8; i++)
                store_i8x16_scaled(o + 16 * i, wasm_i8x16_sub(q[i], off), wasm_f32x4_splat(d * (float)s[i]));
        }
    }
}
