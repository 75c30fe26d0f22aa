/* OP_MATMUL for the K-quants Q4_K, Q5_K, Q6_K against Q8_K activations (256-element super-blocks).
 *
 * Per super-block the integers are exact and the float term is llama.cpp's (ggml-cpu/quants.c *_generic):
 *   Q4_K, Q5_K: (d_w * d_x) * (float)isum - (dmin_w * d_x) * (float)imin,
 *               isum = sum_s sc_s * (sum over group s of q * a), imin = sum_s m_s * (sum over group s of a);
 *   Q6_K:       (d_w * d_x) * (float)isum, isum = sum_g sc_g * (sum over group g of (q - 32) * a);
 * summed in 4 float lanes by super-block index mod 4, finally (l0 + l2) + (l1 + l3) (as matmul_q.c). The quants are
 * taken unsigned (0..15, 0..31, 0..63: valid second operands of the relaxed dot); Q6_K's -32 comes back through the
 * activation's 16-value sums. A single column takes a direct path (a super-block unpacked and dotted 64 or 128
 * values at a time); several columns share one unpacking of each group of 4 super-blocks. */
#include "internal.h"

#define TILE 8

enum kq_type { T_Q4_K, T_Q5_K, T_Q6_K };

INLINE uint32_t kq_block_bytes(enum kq_type t) { return t == T_Q4_K ? 144 : t == T_Q5_K ? 176 : 210; }

/* ---- scalar twin ---- */

INLINE void kq_sums_ref(enum kq_type t, const uint8_t *blk, const act_t *x, int32_t *isum, int32_t *imin) {
    int32_t s_all = 0, m_all = 0;
    if (t == T_Q6_K) {
        const uint8_t *ql = blk, *qh = blk + 128;
        const int8_t *sc = (const int8_t *)(blk + 192);
        int q[256];
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *L = ql + 64 * n, *H = qh + 32 * n;
                int *o = q + 128 * n;
                o[l] = ((L[l] & 15) | (((H[l] >> 0) & 3) << 4)) - 32;
                o[l + 32] = ((L[l + 32] & 15) | (((H[l] >> 2) & 3) << 4)) - 32;
                o[l + 64] = ((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
                o[l + 96] = ((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
            }
        for (int g = 0; g < 16; g++) {
            int32_t dot = 0;
            for (int i = 0; i < 16; i++) dot += q[16 * g + i] * x[act_pos(16 * g + i)];
            s_all += sc[g] * dot;
        }
    } else {
        const uint8_t *qs = blk + (t == T_Q4_K ? 16 : 48), *qh = blk + 16;
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            kquant_scale_min(blk + 4, s, &sc, &m);
            int c = s / 2, high = s & 1;
            int32_t dot = 0, sum = 0;
            for (int l = 0; l < 32; l++) {
                int q = high ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 15;
                if (t == T_Q5_K) q += ((qh[l] >> s) & 1) << 4;
                dot += q * x[act_pos(32 * s + l)];
                sum += x[act_pos(32 * s + l)];
            }
            s_all += sc * dot;
            m_all += m * sum;
        }
    }
    *isum = s_all;
    *imin = m_all;
}

INLINE void kq_rows_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum kq_type t) {
    uint32_t k = a->k, ns = k / 256, ns4 = round4(ns), bb = kq_block_bytes(t), col = act_row_bytes(ACT_Q8_K, k);
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * ns * bb;
        for (uint32_t j = 0; j < a->n_cols; j++) {
            struct act_q8k x = act_q8k_view((const uint8_t *)(uintptr_t)a->xq + (size_t)j * col, k);
            float lane[4] = { 0, 0, 0, 0 };
            for (uint32_t b = 0; b < ns4; b++) {
                const uint8_t *blk = row + (size_t)b * bb;
                int32_t isum = 0, imin = 0;
                float dw = 0.0f, dmw = 0.0f;
                if (b < ns) {
                    kq_sums_ref(t, blk, x.qs + 256 * b, &isum, &imin);
                    dw = fp16_to_f32(ld16(t == T_Q6_K ? blk + 208 : blk));
                    dmw = t == T_Q6_K ? 0.0f : fp16_to_f32(ld16(blk + 2));
                }
                float term = (dw * x.d[b]) * (float)isum;
                if (t != T_Q6_K) term = term - (dmw * x.d[b]) * (float)imin;
                lane[b % 4] = lane[b % 4] + term;
            }
            ((float *)(uintptr_t)a->y)[(size_t)j * a->y_stride + r] = (lane[0] + lane[2]) + (lane[1] + lane[3]);
        }
    }
}

/* ---- SIMD ---- */

/* An unpacked super-block: 16 vectors of bytes (relaxed) or 32 vectors of int16 (baseline), natural order. */
#if RELAXED
#define KV 16
#else
#define KV 32
#endif

/* Run i (16 unsigned values as bytes u) into w: kept as bytes (relaxed) or split into the even and odd int16
 * lanes of the activation order (baseline). */
INLINE void put16(v128 *w, int i, v128 u) {
#if RELAXED
    w[i] = u;
#else
    w[2 * i] = wasm_v128_and(u, wasm_i16x8_splat(0xff));
    w[2 * i + 1] = wasm_u16x8_shr(u, 8);
#endif
}

/* Runs lo and hi from 16 bytes of packed nibbles v (low nibbles -> run lo, high nibbles -> run hi). */
INLINE void put_nibbles(v128 *w, int lo, int hi, v128 v) {
#if RELAXED
    const v128 m4 = wasm_i8x16_splat(15);
    w[lo] = wasm_v128_and(v, m4);
    w[hi] = wasm_v128_and(wasm_u16x8_shr(v, 4), m4);
#else
    const v128 m4 = wasm_i16x8_splat(15);
    w[2 * lo] = wasm_v128_and(v, m4);
    w[2 * lo + 1] = wasm_v128_and(wasm_u16x8_shr(v, 8), m4);
    w[2 * hi] = wasm_v128_and(wasm_u16x8_shr(v, 4), m4);
    w[2 * hi + 1] = wasm_u16x8_shr(v, 12);
#endif
}

/* Q5_K's fifth bits: bit b of each byte of q (one per value of run i), moved to bit 4 and or'ed into the run. */
INLINE void or_bit4(v128 *w, int i, v128 q, int b) {
#if RELAXED
    v128 bit = b <= 4 ? wasm_i16x8_shl(q, 4 - b) : wasm_u16x8_shr(q, b - 4);
    w[i] = wasm_v128_or(w[i], wasm_v128_and(bit, wasm_i8x16_splat(0x10)));
#else
    const v128 b4 = wasm_i16x8_splat(0x10);
    v128 even = b <= 4 ? wasm_i16x8_shl(q, 4 - b) : wasm_u16x8_shr(q, b - 4);
    w[2 * i] = wasm_v128_or(w[2 * i], wasm_v128_and(even, b4));
    w[2 * i + 1] = wasm_v128_or(w[2 * i + 1], wasm_v128_and(wasm_u16x8_shr(q, b + 4), b4));
#endif
}

/* i32x4 partial of the 16 products of elements 16i..16i+15. */
INLINE v128 dot16(const v128 *w, int i, const act_t *x) {
#if RELAXED
    return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(ld(x + 16 * i), w[i], wasm_i32x4_splat(0));
#else
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[2 * i], ld(x + 16 * i)), wasm_i32x4_dot_i16x8(w[2 * i + 1], ld(x + 16 * i + 8)));
#endif
}

/* i32x4 partial of the 32 products of elements 32s..32s+31. */
INLINE v128 dot32(const v128 *w, int s, const act_t *x) {
#if RELAXED
    return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(ld(x + 32 * s), w[2 * s],
        wasm_i32x4_relaxed_dot_i8x16_i7x16_add(ld(x + 32 * s + 16), w[2 * s + 1], wasm_i32x4_splat(0)));
#else
    return wasm_i32x4_add(dot16(w, 2 * s, x), dot16(w, 2 * s + 1, x));
#endif
}

/* Q4_K / Q5_K chunk c (elements 64c..64c+63, runs 4c..4c+3) into w. */
INLINE void q45k_unpack_chunk(enum kq_type t, const uint8_t *blk, int c, v128 *w) {
    const uint8_t *qs = blk + (t == T_Q4_K ? 16 : 48) + 32 * c;
    put_nibbles(w, 4 * c, 4 * c + 2, ld(qs));
    put_nibbles(w, 4 * c + 1, 4 * c + 3, ld(qs + 16));
    if (t == T_Q5_K) {
        /* the fifth bit of value l of the chunk: bit 2c of qh[l] for the low nibbles, bit 2c+1 for the high ones */
        v128 q0 = ld(blk + 16), q1 = ld(blk + 32);
        or_bit4(w, 4 * c, q0, 2 * c);
        or_bit4(w, 4 * c + 1, q1, 2 * c);
        or_bit4(w, 4 * c + 2, q0, 2 * c + 1);
        or_bit4(w, 4 * c + 3, q1, 2 * c + 1);
    }
}

/* Q6_K half n (elements 128n..128n+127) into w. */
INLINE void q6k_unpack_half(const uint8_t *blk, int n, v128 *w) {
    const uint8_t *ql = blk + 64 * n, *qh = blk + 128 + 32 * n;
    const v128 m4 = wasm_i8x16_splat(15), m30 = wasm_i8x16_splat(0x30);
    v128 a0 = ld(ql), a1 = ld(ql + 16), a2 = ld(ql + 32), a3 = ld(ql + 48);
    v128 q0 = ld(qh), q1 = ld(qh + 16);
    put16(w, 8 * n + 0, wasm_v128_or(wasm_v128_and(a0, m4), wasm_v128_and(wasm_i16x8_shl(q0, 4), m30)));
    put16(w, 8 * n + 1, wasm_v128_or(wasm_v128_and(a1, m4), wasm_v128_and(wasm_i16x8_shl(q1, 4), m30)));
    put16(w, 8 * n + 2, wasm_v128_or(wasm_v128_and(a2, m4), wasm_v128_and(wasm_i16x8_shl(q0, 2), m30)));
    put16(w, 8 * n + 3, wasm_v128_or(wasm_v128_and(a3, m4), wasm_v128_and(wasm_i16x8_shl(q1, 2), m30)));
    put16(w, 8 * n + 4, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a0, 4), m4), wasm_v128_and(q0, m30)));
    put16(w, 8 * n + 5, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a1, 4), m4), wasm_v128_and(q1, m30)));
    put16(w, 8 * n + 6, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a2, 4), m4), wasm_v128_and(wasm_u16x8_shr(q0, 2), m30)));
    put16(w, 8 * n + 7, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a3, 4), m4), wasm_v128_and(wasm_u16x8_shr(q1, 2), m30)));
}

/* Per-super-block scales, decoded once per row and super-block. */
struct kq_scales { v128 a, b, c, d; };

INLINE struct kq_scales kq_scales_of(enum kq_type t, const uint8_t *blk) {
    struct kq_scales s;
    if (t == T_Q6_K) {
        v128 sc8 = ld(blk + 192);
        v128 lo = wasm_i16x8_extend_low_i8x16(sc8), hi = wasm_i16x8_extend_high_i8x16(sc8);
        s.a = lo;                                /* scales 0..7 (int16) */
        s.b = hi;                                /* scales 8..15 */
        s.c = wasm_i32x4_extend_low_i16x8(lo);   /* 0..3 (int32); 4..7 etc. recomputed when used */
        s.d = wasm_i32x4_extend_high_i16x8(lo);
    } else {
        v128 sm = kquant_scales_mins(blk + 4);
        v128 sc16 = wasm_u16x8_extend_low_u8x16(sm);
        s.a = wasm_u32x4_extend_low_u16x8(sc16);  /* sc 0..3 */
        s.b = wasm_u32x4_extend_high_u16x8(sc16); /* sc 4..7 */
        s.c = wasm_u16x8_extend_high_u8x16(sm);   /* mins 0..7 (int16) */
        s.d = s.c;
    }
    return s;
}

/* isum (first) and imin (second) partial vectors of one super-block from its group dots. */
INLINE void q45k_finish(const v128 dots[8], const struct kq_scales *s, const struct act_q8k *x, uint32_t b, v128 *sv, v128 *mv) {
    v128 g0 = i32x4_sum4(dots[0], dots[1], dots[2], dots[3]);
    v128 g1 = i32x4_sum4(dots[4], dots[5], dots[6], dots[7]);
    *sv = wasm_i32x4_add(wasm_i32x4_mul(g0, s->a), wasm_i32x4_mul(g1, s->b));
    *mv = wasm_i32x4_dot_i16x8(s->c, ld(x->bsum32 + 8 * b));
}

INLINE v128 q6k_finish(const v128 dots[16], const struct kq_scales *s, const struct act_q8k *x, uint32_t b) {
    v128 sc2 = wasm_i32x4_extend_low_i16x8(s->b), sc3 = wasm_i32x4_extend_high_i16x8(s->b);
    v128 v = wasm_i32x4_mul(i32x4_sum4(dots[0], dots[1], dots[2], dots[3]), s->c);
    v = wasm_i32x4_add(v, wasm_i32x4_mul(i32x4_sum4(dots[4], dots[5], dots[6], dots[7]), s->d));
    v = wasm_i32x4_add(v, wasm_i32x4_mul(i32x4_sum4(dots[8], dots[9], dots[10], dots[11]), sc2));
    v = wasm_i32x4_add(v, wasm_i32x4_mul(i32x4_sum4(dots[12], dots[13], dots[14], dots[15]), sc3));
    const int16_t *bs = x->bsum16 + 16 * b;
    v128 corr = wasm_i32x4_add(wasm_i32x4_dot_i16x8(s->a, ld(bs)), wasm_i32x4_dot_i16x8(s->b, ld(bs + 8)));
    return wasm_i32x4_sub(v, wasm_i32x4_shl(corr, 5));
}

INLINE v128 kq_terms(enum kq_type t, v128 isum, v128 imin, v128 dw, v128 dmw, const struct act_q8k *x, uint32_t g) {
    v128 dx = ld(x->d + 4 * g);
    v128 term = wasm_f32x4_mul(wasm_f32x4_mul(dw, dx), wasm_f32x4_convert_i32x4(isum));
    if (t == T_Q6_K) return term;
    return wasm_f32x4_sub(term, wasm_f32x4_mul(wasm_f32x4_mul(dmw, dx), wasm_f32x4_convert_i32x4(imin)));
}

/* Super-block b of one column, straight from the weights: (isum, imin) partial vectors. */
INLINE void kq_block_direct(enum kq_type t, const uint8_t *blk, const struct act_q8k *x, uint32_t b, v128 *sv, v128 *mv) {
    struct kq_scales s = kq_scales_of(t, blk);
    const act_t *qs = x->qs + 256 * b;
    v128 w[KV];
    volatile v128 sink;
    if (t == T_Q6_K) {
        v128 dots[16];
        for (int n = 0; n < 2; n++) {
            q6k_unpack_half(blk, n, w);
            for (int g = 0; g < 8; g++) {
                dots[8 * n + g] = dot16(w, 8 * n + g, qs);
                PIN(sink, dots[8 * n + g]);
            }
        }
        *sv = q6k_finish(dots, &s, x, b);
        *mv = wasm_i32x4_splat(0);
    } else {
        v128 dots[8];
        for (int c = 0; c < 4; c++) {
            q45k_unpack_chunk(t, blk, c, w);
            dots[2 * c] = dot32(w, 2 * c, qs);
            PIN(sink, dots[2 * c]);
            dots[2 * c + 1] = dot32(w, 2 * c + 1, qs);
            PIN(sink, dots[2 * c + 1]);
        }
        q45k_finish(dots, &s, x, b, sv, mv);
    }
}

/* Super-blocks b0.. of a group (n of them, the rest zero terms), one column, straight from the weights. */
INLINE v128 kq_group_terms_direct(enum kq_type t, const uint8_t *b0, uint32_t n, const struct act_q8k *x, uint32_t g) {
    uint32_t bb = kq_block_bytes(t), doff = t == T_Q6_K ? 208 : 0;
    v128 sv[4], mv[4];
    uint16_t dh[4] = { 0, 0, 0, 0 }, mh[4] = { 0, 0, 0, 0 };
    for (uint32_t q = 0; q < 4; q++) {
        sv[q] = mv[q] = wasm_i32x4_splat(0);
        if (q < n) {
            kq_block_direct(t, b0 + q * bb, x, 4 * g + q, &sv[q], &mv[q]);
            dh[q] = ld16(b0 + q * bb + doff);
            mh[q] = ld16(b0 + q * bb + 2);
        }
    }
    v128 dw = fp16x4_to_f32x4(wasm_i32x4_make(dh[0], dh[1], dh[2], dh[3]));
    v128 dmw = fp16x4_to_f32x4(wasm_i32x4_make(mh[0], mh[1], mh[2], mh[3]));
    return kq_terms(t, i32x4_sum4(sv[0], sv[1], sv[2], sv[3]), i32x4_sum4(mv[0], mv[1], mv[2], mv[3]), dw, dmw, x, g);
}

INLINE float kq_row_dot1(enum kq_type t, const uint8_t *row, uint32_t ns, const struct act_q8k *x) {
    uint32_t bb = kq_block_bytes(t), nfull = ns / 4, doff = t == T_Q6_K ? 208 : 0;
    v128 acc = wasm_f32x4_splat(0.0f);
    for (uint32_t g = 0; g < nfull; g++) {
        const uint8_t *b0 = row + (size_t)g * 4 * bb;
        v128 s0, s1, s2, s3, m0, m1, m2, m3;
        kq_block_direct(t, b0, x, 4 * g, &s0, &m0);
        kq_block_direct(t, b0 + bb, x, 4 * g + 1, &s1, &m1);
        kq_block_direct(t, b0 + 2 * bb, x, 4 * g + 2, &s2, &m2);
        kq_block_direct(t, b0 + 3 * bb, x, 4 * g + 3, &s3, &m3);
        v128 dw = fp16x4_strided(b0 + doff, bb);
        v128 dmw = t == T_Q6_K ? dw : fp16x4_strided(b0 + 2, bb);
        acc = wasm_f32x4_add(acc, kq_terms(t, i32x4_sum4(s0, s1, s2, s3), i32x4_sum4(m0, m1, m2, m3), dw, dmw, x, g));
    }
    if (ns % 4) acc = wasm_f32x4_add(acc, kq_group_terms_direct(t, row + (size_t)nfull * 4 * bb, ns % 4, x, nfull));
    return f32x4_lanes_sum(acc);
}

/* One unpacked super-block against one column: (isum, imin) partial vectors. */
INLINE void kq_block_unpacked(enum kq_type t, const v128 *w, const struct kq_scales *s, const struct act_q8k *x, uint32_t b, v128 *sv, v128 *mv) {
    const act_t *qs = x->qs + 256 * b;
    volatile v128 sink;
    if (t == T_Q6_K) {
        v128 dots[16];
        for (int i = 0; i < 16; i++) {
            dots[i] = dot16(w, i, qs);
            PIN(sink, dots[i]);
        }
        *sv = q6k_finish(dots, s, x, b);
        *mv = wasm_i32x4_splat(0);
    } else {
        v128 dots[8];
        for (int i = 0; i < 8; i++) {
            dots[i] = dot32(w, i, qs);
            PIN(sink, dots[i]);
        }
        q45k_finish(dots, s, x, b, sv, mv);
    }
}

INLINE void kq_unpack(enum kq_type t, const uint8_t *blk, v128 *w) {
    if (t == T_Q6_K) for (int h = 0; h < 2; h++) q6k_unpack_half(blk, h, w);
    else for (int c = 0; c < 4; c++) q45k_unpack_chunk(t, blk, c, w);
}

INLINE void kq_row_tile(enum kq_type t, const uint8_t *row, uint32_t ns, const struct act_q8k *xs, uint32_t jn, float *y, uint32_t y_stride) {
    uint32_t bb = kq_block_bytes(t), nfull = ns / 4, doff = t == T_Q6_K ? 208 : 0;
    v128 acc[TILE];
    for (uint32_t j = 0; j < jn; j++) acc[j] = wasm_f32x4_splat(0.0f);
    for (uint32_t g = 0; g < nfull; g++) {
        const uint8_t *b0 = row + (size_t)g * 4 * bb;
        v128 w[4][KV];
        struct kq_scales s[4];
        for (uint32_t q = 0; q < 4; q++) {
            s[q] = kq_scales_of(t, b0 + q * bb);
            kq_unpack(t, b0 + q * bb, w[q]);
        }
        v128 dw = fp16x4_strided(b0 + doff, bb);
        v128 dmw = t == T_Q6_K ? dw : fp16x4_strided(b0 + 2, bb);
        for (uint32_t j = 0; j < jn; j++) {
            v128 sv[4], mv[4];
            for (uint32_t q = 0; q < 4; q++) kq_block_unpacked(t, w[q], &s[q], &xs[j], 4 * g + q, &sv[q], &mv[q]);
            acc[j] = wasm_f32x4_add(acc[j], kq_terms(t, i32x4_sum4(sv[0], sv[1], sv[2], sv[3]), i32x4_sum4(mv[0], mv[1], mv[2], mv[3]), dw, dmw, &xs[j], g));
        }
    }
    if (ns % 4)
        for (uint32_t j = 0; j < jn; j++)
            acc[j] = wasm_f32x4_add(acc[j], kq_group_terms_direct(t, row + (size_t)nfull * 4 * bb, ns % 4, &xs[j], nfull));
    for (uint32_t j = 0; j < jn; j++) y[(size_t)j * y_stride] = f32x4_lanes_sum(acc[j]);
}

INLINE void kq_rows(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum kq_type t) {
    uint32_t k = a->k, ns = k / 256, bb = kq_block_bytes(t), col = act_row_bytes(ACT_Q8_K, k);
    const uint8_t *xq = (const uint8_t *)(uintptr_t)a->xq;
    float *y = (float *)(uintptr_t)a->y;
    if (a->n_cols == 1) {
        struct act_q8k x = act_q8k_view(xq, k);
        for (uint32_t r = r0; r < r1; r++) y[r] = kq_row_dot1(t, (const uint8_t *)(uintptr_t)a->w + (size_t)r * ns * bb, ns, &x);
        return;
    }
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * ns * bb;
        for (uint32_t j0 = 0; j0 < a->n_cols; j0 += TILE) {
            uint32_t jn = min_u32(TILE, a->n_cols - j0);
            float *yj = y + (size_t)j0 * a->y_stride + r;
            struct act_q8k xs[TILE];
            for (uint32_t j = 0; j < jn; j++) xs[j] = act_q8k_view(xq + (size_t)(j0 + j) * col, k);
            if (jn == 1) *yj = kq_row_dot1(t, row, ns, &xs[0]);
            else kq_row_tile(t, row, ns, xs, jn, yj, a->y_stride);
        }
    }
}

void matmul_q4_k(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows(a, r0, r1, T_Q4_K); }
void matmul_q4_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows_ref(a, r0, r1, T_Q4_K); }
void matmul_q5_k(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows(a, r0, r1, T_Q5_K); }
void matmul_q5_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows_ref(a, r0, r1, T_Q5_K); }
void matmul_q6_k(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows(a, r0, r1, T_Q6_K); }
void matmul_q6_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows_ref(a, r0, r1, T_Q6_K); }
