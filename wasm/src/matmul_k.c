/* OP_MATMUL for the K-quants Q4_K, Q5_K, Q6_K against Q8_K activations (256-element super-blocks).
 *
 * The numerics are those of llama.cpp's AVX2 CPU backend (the haswell build node-llama-cpp loads on x86 without
 * AVX-512); K-quant matmuls take the same kernels for one token and for a batch. Per super-block the integers are
 * exact; fma is exact (internal.h):
 *   Q4_K (ggml_gemv_q4_K_8x8_q8_K: llama.cpp repacks Q4_K weights with a multiple of 8 rows):
 *     isum = sum_s sc_s * (sum over group s of q * a), imin = sum_s m_s * (sum over group s of a);
 *     acc = fma((float)isum, d_w * d_x, acc), accm = fma((float)imin, dmin_w * d_x, accm); result acc - accm.
 *   Q5_K (ggml_vec_dot_q5_K_q8_K), Q6_K (ggml_vec_dot_q6_K_q8_K): 8 int32 lanes per super-block, lane l the scaled
 *     sum over elements 4l..4l+3 of every 32-element group (l < 4) or 16 + 4(l-4)..+3 (l >= 4); Q6_K's lane l also
 *     takes -32 * (sc_2l * bsum_2l + sc_2l+1 * bsum_2l+1) (bsum: the activation's 16-value sums). Lane l of an
 *     8-float accumulator takes fma((float)lane, d_x * d_w, acc_l); the result is hsum_float_8, plus for Q5_K
 *     summs = fma((float)imin, -d_x * dmin_w, summs) over the super-blocks.
 * The quants are taken unsigned (0..15, 0..31, 0..63: valid second operands of the relaxed dot). A single column
 * takes a direct path (a super-block unpacked and dotted 64 or 128 values at a time); several columns share one
 * unpacking of each super-block. */
#include "internal.h"

#define TILE 8

enum kq_type { T_Q4_K, T_Q5_K, T_Q6_K };

INLINE uint32_t kq_block_bytes(enum kq_type t) { return t == T_Q4_K ? 144 : t == T_Q5_K ? 176 : 210; }

/* ---- scalar twin ---- */

/* Super-block b's 8 lanes (scales applied, Q6_K's -32 included) and, for Q4_K/Q5_K, imin. */
INLINE void kq_lanes_ref(enum kq_type t, const uint8_t *blk, const struct act_q8k *xa, uint32_t b, int32_t lane[8], int32_t *imin) {
    const act_t *x = xa->qs + 256 * b;
    for (int l = 0; l < 8; l++) lane[l] = 0;
    *imin = 0;
    if (t == T_Q6_K) {
        const uint8_t *ql = blk, *qh = blk + 128;
        const int8_t *sc = (const int8_t *)(blk + 192);
        const int16_t *bs = xa->bsum16 + 16 * b;
        int q[256];
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *L = ql + 64 * n, *H = qh + 32 * n;
                int *o = q + 128 * n;
                o[l] = (L[l] & 15) | (((H[l] >> 0) & 3) << 4);
                o[l + 32] = (L[l + 32] & 15) | (((H[l] >> 2) & 3) << 4);
                o[l + 64] = (L[l] >> 4) | (((H[l] >> 4) & 3) << 4);
                o[l + 96] = (L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4);
            }
        for (int g = 0; g < 16; g++)
            for (int i = 0; i < 16; i++) lane[4 * (g & 1) + i / 4] += sc[g] * q[16 * g + i] * x[act_pos(16 * g + i)];
        for (int l = 0; l < 8; l++) lane[l] -= 32 * (sc[2 * l] * bs[2 * l] + sc[2 * l + 1] * bs[2 * l + 1]);
        return;
    }
    const uint8_t *qs = blk + (t == T_Q4_K ? 16 : 48), *qh = blk + 16;
    for (int s = 0; s < 8; s++) {
        uint8_t sc, m;
        kquant_scale_min(blk + 4, s, &sc, &m);
        int c = s / 2, high = s & 1;
        int32_t sum = 0;
        for (int l = 0; l < 32; l++) {
            int q = high ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 15;
            if (t == T_Q5_K) q += ((qh[l] >> s) & 1) << 4;
            lane[l / 4] += sc * q * x[act_pos(32 * s + l)];
            sum += x[act_pos(32 * s + l)];
        }
        *imin += m * sum;
    }
}

INLINE void kq_rows_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum kq_type t) {
    uint32_t k = a->k, ns = k / 256, bb = kq_block_bytes(t), col = act_row_bytes(ACT_Q8_K, k);
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * ns * bb;
        for (uint32_t j = 0; j < a->n_cols; j++) {
            struct act_q8k x = act_q8k_view((const uint8_t *)(uintptr_t)a->xq + (size_t)j * col, k);
            float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 }, s = 0.0f, m = 0.0f;
            for (uint32_t b = 0; b < ns; b++) {
                const uint8_t *blk = row + (size_t)b * bb;
                int32_t lane[8], imin;
                kq_lanes_ref(t, blk, &x, b, lane, &imin);
                float dw = fp16_to_f32(ld16(t == T_Q6_K ? blk + 208 : blk)), dx = x.d[b];
                if (t == T_Q4_K) {
                    int32_t isum = 0;
                    for (int l = 0; l < 8; l++) isum += lane[l];
                    s = fma_f32((float)isum, dw * dx, s);
                    m = fma_f32((float)imin, fp16_to_f32(ld16(blk + 2)) * dx, m);
                } else {
                    for (int l = 0; l < 8; l++) acc[l] = fma_f32((float)lane[l], dx * dw, acc[l]);
                    if (t == T_Q5_K) s = fma_f32((float)imin, -dx * fp16_to_f32(ld16(blk + 2)), s);
                }
            }
            float y = t == T_Q4_K ? s - m : t == T_Q5_K ? f32x8_hsum_ref(acc) + s : f32x8_hsum_ref(acc);
            ((float *)(uintptr_t)a->y)[(size_t)j * a->y_stride + r] = y;
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
    return dot_i8_u7(ld(x + 16 * i), w[i]);
#else
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[2 * i], ld(x + 16 * i)), wasm_i32x4_dot_i16x8(w[2 * i + 1], ld(x + 16 * i + 8)));
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

/* Per-super-block scales as int32 lanes, decoded once per row and super-block: sc[0..3] the first 4 (Q4_K/Q5_K:
 * the 8 group scales in sc[0], sc[1]; Q6_K: the 16 group scales in sc[0..3]); mins (Q4_K/Q5_K) int16 lanes;
 * Q6_K's scales also as int16 lanes (sc16[0..1]) for the bsum correction. */
struct kq_scales { v128 sc[4], mins, sc16[2]; };

INLINE struct kq_scales kq_scales_of(enum kq_type t, const uint8_t *blk) {
    struct kq_scales s;
    if (t == T_Q6_K) {
        v128 sc8 = ld(blk + 192);
        s.sc16[0] = wasm_i16x8_extend_low_i8x16(sc8);
        s.sc16[1] = wasm_i16x8_extend_high_i8x16(sc8);
        s.sc[0] = wasm_i32x4_extend_low_i16x8(s.sc16[0]);
        s.sc[1] = wasm_i32x4_extend_high_i16x8(s.sc16[0]);
        s.sc[2] = wasm_i32x4_extend_low_i16x8(s.sc16[1]);
        s.sc[3] = wasm_i32x4_extend_high_i16x8(s.sc16[1]);
        s.mins = wasm_i32x4_splat(0);
    } else {
        v128 sm = kquant_scales_mins(blk + 4);
        v128 sc16 = wasm_u16x8_extend_low_u8x16(sm);
        s.sc[0] = wasm_u32x4_extend_low_u16x8(sc16);  /* sc 0..3 */
        s.sc[1] = wasm_u32x4_extend_high_u16x8(sc16); /* sc 4..7 */
        s.sc[2] = s.sc[3] = s.sc[0];
        s.mins = wasm_u16x8_extend_high_u8x16(sm);    /* mins 0..7 (int16) */
        s.sc16[0] = s.sc16[1] = s.mins;
    }
    return s;
}

/* Lane i of v in all four lanes (i is a constant once the callers' loops are unrolled). */
INLINE v128 splat_lane(v128 v, int i) {
    switch (i & 3) {
    case 0: return wasm_i32x4_shuffle(v, v, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(v, v, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(v, v, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(v, v, 3, 3, 3, 3);
    }
}

/* A super-block's integers for one column: lo, hi the 8 lanes; mv an i32x4 whose lane sum is imin. */
struct kq_ints { v128 lo, hi, mv; };

/* From the 16 run partials (run i = elements 16i..16i+15, lane j its elements 4j..4j+3). */
INLINE struct kq_ints kq_finish(enum kq_type t, const v128 dots[16], const struct kq_scales *s, const struct act_q8k *x, uint32_t b) {
    struct kq_ints r;
    v128 lo = wasm_i32x4_splat(0), hi = lo;
    if (t == T_Q6_K) {
        for (int c = 0; c < 8; c++) {
            lo = wasm_i32x4_add(lo, wasm_i32x4_mul(dots[2 * c], splat_lane(s->sc[c / 2], (2 * c) % 4)));
            hi = wasm_i32x4_add(hi, wasm_i32x4_mul(dots[2 * c + 1], splat_lane(s->sc[c / 2], (2 * c + 1) % 4)));
        }
        const int16_t *bs = x->bsum16 + 16 * b;
        r.lo = wasm_i32x4_sub(lo, wasm_i32x4_shl(wasm_i32x4_dot_i16x8(s->sc16[0], ld(bs)), 5));
        r.hi = wasm_i32x4_sub(hi, wasm_i32x4_shl(wasm_i32x4_dot_i16x8(s->sc16[1], ld(bs + 8)), 5));
        r.mv = wasm_i32x4_splat(0);
        return r;
    }
    for (int g = 0; g < 8; g++) {
        v128 sc = splat_lane(s->sc[g / 4], g % 4);
        lo = wasm_i32x4_add(lo, wasm_i32x4_mul(dots[2 * g], sc));
        hi = wasm_i32x4_add(hi, wasm_i32x4_mul(dots[2 * g + 1], sc));
    }
    r.lo = lo;
    r.hi = hi;
    r.mv = wasm_i32x4_dot_i16x8(s->mins, ld(x->bsum32 + 8 * b));
    return r;
}

INLINE int32_t i32x4_total(v128 v) {
    return (wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1)) +
           (wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3));
}

/* One column's running sums: Q5_K / Q6_K the 8 float lanes (v); Q4_K acc (s) and accm (m); Q5_K summs (s). */
struct kq_acc { struct acc8 v; float s, m; };

INLINE struct kq_acc kq_acc_zero(void) {
    struct kq_acc acc = { acc8_zero(), 0.0f, 0.0f };
    return acc;
}

INLINE void kq_accumulate(enum kq_type t, struct kq_acc *acc, const struct kq_ints *v, const uint8_t *blk, float dx) {
    float dw = fp16_to_f32(ld16(t == T_Q6_K ? blk + 208 : blk));
    if (t == T_Q4_K) {
        acc->s = fma_f32((float)i32x4_total(wasm_i32x4_add(v->lo, v->hi)), dw * dx, acc->s);
        acc->m = fma_f32((float)i32x4_total(v->mv), fp16_to_f32(ld16(blk + 2)) * dx, acc->m);
        return;
    }
    acc8_fma(&acc->v, wasm_f32x4_convert_i32x4(v->lo), wasm_f32x4_convert_i32x4(v->hi), dx * dw);
    if (t == T_Q5_K) acc->s = fma_f32((float)i32x4_total(v->mv), -dx * fp16_to_f32(ld16(blk + 2)), acc->s);
}

INLINE float kq_acc_result(enum kq_type t, const struct kq_acc *acc) {
    if (t == T_Q4_K) return acc->s - acc->m;
    float h = acc8_hsum(&acc->v);
    return t == T_Q5_K ? h + acc->s : h;
}

/* Super-block b of one column, straight from the weights. */
INLINE struct kq_ints kq_block_direct(enum kq_type t, const uint8_t *blk, const struct act_q8k *x, uint32_t b, int pin) {
    struct kq_scales s = kq_scales_of(t, blk);
    const act_t *qs = x->qs + 256 * b;
    v128 w[KV], dots[16];
    volatile v128 sink;
    if (t == T_Q6_K) {
        for (int n = 0; n < 2; n++) {
            q6k_unpack_half(blk, n, w);
            for (int g = 0; g < 8; g++) {
                dots[8 * n + g] = dot16(w, 8 * n + g, qs);
                PIN(pin, sink, dots[8 * n + g]);
            }
        }
    } else {
        for (int c = 0; c < 4; c++) {
            q45k_unpack_chunk(t, blk, c, w);
            for (int i = 4 * c; i < 4 * c + 4; i++) {
                dots[i] = dot16(w, i, qs);
                PIN(pin, sink, dots[i]);
            }
        }
    }
    return kq_finish(t, dots, &s, x, b);
}

INLINE float kq_row_dot1(enum kq_type t, const uint8_t *row, uint32_t ns, const struct act_q8k *x, int pin) {
    uint32_t bb = kq_block_bytes(t);
    struct kq_acc acc = kq_acc_zero();
    for (uint32_t b = 0; b < ns; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        struct kq_ints v = kq_block_direct(t, blk, x, b, pin);
        kq_accumulate(t, &acc, &v, blk, x->d[b]);
    }
    return kq_acc_result(t, &acc);
}

/* One unpacked super-block against one column. */
INLINE struct kq_ints kq_block_unpacked(enum kq_type t, const v128 *w, const struct kq_scales *s, const struct act_q8k *x, uint32_t b, int pin) {
    const act_t *qs = x->qs + 256 * b;
    v128 dots[16];
    volatile v128 sink;
    for (int i = 0; i < 16; i++) {
        dots[i] = dot16(w, i, qs);
        PIN(pin, sink, dots[i]);
    }
    return kq_finish(t, dots, s, x, b);
}

INLINE void kq_unpack(enum kq_type t, const uint8_t *blk, v128 *w) {
    if (t == T_Q6_K) for (int h = 0; h < 2; h++) q6k_unpack_half(blk, h, w);
    else for (int c = 0; c < 4; c++) q45k_unpack_chunk(t, blk, c, w);
}

INLINE void kq_row_tile(enum kq_type t, const uint8_t *row, uint32_t ns, const struct act_q8k *xs, uint32_t jn, float *y, uint32_t y_stride, int pin) {
    uint32_t bb = kq_block_bytes(t);
    struct kq_acc acc[TILE];
    for (uint32_t j = 0; j < jn; j++) acc[j] = kq_acc_zero();
    for (uint32_t b = 0; b < ns; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        v128 w[KV];
        struct kq_scales s = kq_scales_of(t, blk);
        kq_unpack(t, blk, w);
        for (uint32_t j = 0; j < jn; j++) {
            struct kq_ints v = kq_block_unpacked(t, w, &s, &xs[j], b, pin);
            kq_accumulate(t, &acc[j], &v, blk, xs[j].d[b]);
        }
    }
    for (uint32_t j = 0; j < jn; j++) y[(size_t)j * y_stride] = kq_acc_result(t, &acc[j]);
}

INLINE void kq_rows_pin(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum kq_type t, int pin) {
    uint32_t k = a->k, ns = k / 256, bb = kq_block_bytes(t), col = act_row_bytes(ACT_Q8_K, k);
    const uint8_t *xq = (const uint8_t *)(uintptr_t)a->xq;
    float *y = (float *)(uintptr_t)a->y;
    if (a->n_cols == 1) {
        struct act_q8k x = act_q8k_view(xq, k);
        for (uint32_t r = r0; r < r1; r++) y[r] = kq_row_dot1(t, (const uint8_t *)(uintptr_t)a->w + (size_t)r * ns * bb, ns, &x, pin);
        return;
    }
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * ns * bb;
        for (uint32_t j0 = 0; j0 < a->n_cols; j0 += TILE) {
            uint32_t jn = min_u32(TILE, a->n_cols - j0);
            float *yj = y + (size_t)j0 * a->y_stride + r;
            struct act_q8k xs[TILE];
            for (uint32_t j = 0; j < jn; j++) xs[j] = act_q8k_view(xq + (size_t)(j0 + j) * col, k);
            if (jn == 1) *yj = kq_row_dot1(t, row, ns, &xs[0], pin);
            else kq_row_tile(t, row, ns, xs, jn, yj, a->y_stride, pin);
        }
    }
}

/* One compiled copy per pin for Q4_K / Q5_K; Q6_K always pins (its matvec measured the same either way on Deno's V8,
 * 26% slower without on Node 20's). */
INLINE void kq_rows(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum kq_type t) {
    if (t == T_Q6_K || pin_wanted()) kq_rows_pin(a, r0, r1, t, 1);
    else kq_rows_pin(a, r0, r1, t, 0);
}

void matmul_q4_k(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows(a, r0, r1, T_Q4_K); }
void matmul_q4_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows_ref(a, r0, r1, T_Q4_K); }
void matmul_q5_k(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows(a, r0, r1, T_Q5_K); }
void matmul_q5_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows_ref(a, r0, r1, T_Q5_K); }
void matmul_q6_k(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows(a, r0, r1, T_Q6_K); }
void matmul_q6_k_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { kq_rows_ref(a, r0, r1, T_Q6_K); }
