/* OP_MATMUL for the 32-element block types Q8_0, Q4_0 (against Q8_0 activations) and Q4_1 (against Q8_1).
 *
 * Per block b the integer dot is exact; its float term is llama.cpp's (ggml-cpu/quants.c):
 *   Q8_0: (float)sumi * (d_w * d_x)        Q4_0: (float)sumi * (d_w * d_x), sumi = sum (n - 8) * a
 *   Q4_1: (d_w * d_x) * (float)sumi + m_w * s_x
 * and the terms are summed in 4 float lanes by b mod 4 (a row's blocks padded to a multiple of 4 with zero terms),
 * finally (l0 + l2) + (l1 + l3). The SIMD kernels reach the same integers differently: the 4-bit types use the
 * unsigned nibbles and subtract 8 * (block sum of the activation) afterwards, because the relaxed dot is exact only
 * with a second operand in 0..127 (research/runtimes.md Q1); Q8_0 in the relaxed build splits each weight into
 * its low 7 bits and its sign (w = (w & 127) - 128 * [w < 0]) for the same reason.
 * A row is streamed once for all columns: each group of 4 blocks is unpacked once and dotted with up to TILE
 * columns; a single column takes a direct path that keeps everything in registers. */
#include "internal.h"

#define TILE 8

enum q32_type { T_Q8_0, T_Q4_0, T_Q4_1 };

INLINE uint32_t q32_block_bytes(enum q32_type t) { return t == T_Q8_0 ? 34 : t == T_Q4_0 ? 18 : 20; }

/* ---- scalar twin ---- */

INLINE int32_t q32_isum_ref(enum q32_type t, const uint8_t *blk, const struct act_q8 *xa, uint32_t b) {
    int32_t sum = 0;
    const act_t *x = xa->qs + 32 * b;
    if (t == T_Q8_0) {
        const int8_t *q = (const int8_t *)(blk + 2);
        const int16_t *xw = xa->wide + 32 * b;
        for (uint32_t j = 0; j < 32; j++) sum += q[j] * xw[act_pos16(j)];
    } else {
        const uint8_t *q = blk + (t == T_Q4_0 ? 2 : 4);
        int off = t == T_Q4_0 ? 8 : 0;
        for (uint32_t j = 0; j < 16; j++) sum += ((q[j] & 15) - off) * x[act_pos(j)] + ((q[j] >> 4) - off) * x[act_pos(j + 16)];
    }
    return sum;
}

INLINE void q32_rows_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum q32_type t) {
    uint32_t k = a->k, nb = k / 32, nb4 = round4(nb), bb = q32_block_bytes(t);
    uint32_t col = act_row_bytes(t == T_Q4_1 ? ACT_Q8_1 : ACT_Q8_0, k);
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * nb * bb;
        for (uint32_t j = 0; j < a->n_cols; j++) {
            struct act_q8 x = act_q8_view((const uint8_t *)(uintptr_t)a->xq + (size_t)j * col, k);
            float lane[4] = { 0, 0, 0, 0 };
            for (uint32_t b = 0; b < nb4; b++) {
                const uint8_t *blk = row + (size_t)b * bb;
                int32_t sumi = b < nb ? q32_isum_ref(t, blk, &x, b) : 0;
                float dw = b < nb ? fp16_to_f32(ld16(blk)) : 0.0f;
                float dxy = dw * x.d[b];
                float term;
                if (t == T_Q4_1) {
                    float mw = b < nb ? fp16_to_f32(ld16(blk + 2)) : 0.0f;
                    term = dxy * (float)sumi + mw * x.s[b];
                } else {
                    term = (float)sumi * dxy;
                }
                lane[b % 4] = lane[b % 4] + term;
            }
            ((float *)(uintptr_t)a->y)[(size_t)j * a->y_stride + r] = (lane[0] + lane[2]) + (lane[1] + lane[3]);
        }
    }
}

/* ---- SIMD ---- */

/* An unpacked block is 4 vectors of int16 lanes in act_pos16 order (internal.h), i.e. [even of 0..15, odd of 0..15,
 * even of 16..31, odd of 16..31]; except the nibble types in the relaxed build: 2 vectors of bytes (low and high
 * nibbles) for the relaxed dot. Q8_0 takes the int16 path in both builds (exact and cheapest for signed weights). */
#define NV 4

INLINE void q32_unpack(enum q32_type t, const uint8_t *blk, v128 w[NV]) {
    if (t == T_Q8_0) { /* both builds: sign-extended int16 lanes in act_pos16 order */
        v128 v0 = ld(blk + 2), v1 = ld(blk + 18);
        w[0] = wasm_i16x8_shr(wasm_i16x8_shl(v0, 8), 8);
        w[1] = wasm_i16x8_shr(v0, 8);
        w[2] = wasm_i16x8_shr(wasm_i16x8_shl(v1, 8), 8);
        w[3] = wasm_i16x8_shr(v1, 8);
        return;
    }
    v128 v = ld(blk + (t == T_Q4_0 ? 2 : 4));
#if RELAXED
    const v128 m4 = wasm_i8x16_splat(15);
    w[0] = wasm_v128_and(v, m4);
    w[1] = wasm_v128_and(wasm_u16x8_shr(v, 4), m4);
    w[2] = w[3] = w[0];
#else
    const v128 m4 = wasm_i16x8_splat(15);
    w[0] = wasm_v128_and(v, m4);                     /* low nibbles of even bytes: even elements 0..14 */
    w[1] = wasm_v128_and(wasm_u16x8_shr(v, 8), m4);  /* low nibbles of odd bytes */
    w[2] = wasm_v128_and(wasm_u16x8_shr(v, 4), m4);  /* high nibbles of even bytes: even elements 16..30 */
    w[3] = wasm_u16x8_shr(v, 12);                    /* high nibbles of odd bytes */
#endif
}

/* i32x4 whose lane sum is block b's sum w * a (nibbles unsigned). */
INLINE v128 q32_dot(enum q32_type t, const v128 w[NV], const struct act_q8 *xa, uint32_t b) {
#if RELAXED
    if (t != T_Q8_0) {
        const act_t *x = xa->qs + 32 * b;
        return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(ld(x), w[0], wasm_i32x4_relaxed_dot_i8x16_i7x16_add(ld(x + 16), w[1], wasm_i32x4_splat(0)));
    }
#endif
    (void)t;
    const int16_t *x = xa->wide + 32 * b;
    v128 s0 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[0], ld(x)), wasm_i32x4_dot_i16x8(w[1], ld(x + 8)));
    v128 s1 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[2], ld(x + 16)), wasm_i32x4_dot_i16x8(w[3], ld(x + 24)));
    return wasm_i32x4_add(s0, s1);
}

/* The 4 float terms of group g from its 4 block sums (sum of n * a for the nibble types). */
INLINE v128 q32_terms(enum q32_type t, v128 sums, v128 dw, v128 mw, const struct act_q8 *x, uint32_t g) {
    v128 dxy = wasm_f32x4_mul(dw, ld(x->d + 4 * g));
    if (t == T_Q4_0) sums = wasm_i32x4_sub(sums, wasm_i32x4_shl(ld(x->bsum + 4 * g), 3));
    v128 f = wasm_f32x4_convert_i32x4(sums);
    if (t == T_Q4_1) return wasm_f32x4_add(wasm_f32x4_mul(dxy, f), wasm_f32x4_mul(mw, ld(x->s + 4 * g)));
    return wasm_f32x4_mul(f, dxy);
}

/* The last, partial group (n < 4 blocks): missing blocks are zero terms. */
INLINE v128 q32_tail_terms(enum q32_type t, const uint8_t *b0, uint32_t n, const struct act_q8 *x, uint32_t g) {
    uint32_t bb = q32_block_bytes(t);
    v128 p[4];
    uint16_t dh[4] = { 0, 0, 0, 0 }, mh[4] = { 0, 0, 0, 0 };
    for (uint32_t q = 0; q < 4; q++) {
        p[q] = wasm_i32x4_splat(0);
        if (q < n) {
            v128 w[NV];
            q32_unpack(t, b0 + q * bb, w);
            p[q] = q32_dot(t, w, x, 4 * g + q);
            dh[q] = ld16(b0 + q * bb);
            mh[q] = ld16(b0 + q * bb + 2);
        }
    }
    v128 dw = fp16x4_to_f32x4(wasm_i32x4_make(dh[0], dh[1], dh[2], dh[3]));
    v128 mw = fp16x4_to_f32x4(wasm_i32x4_make(mh[0], mh[1], mh[2], mh[3]));
    return q32_terms(t, i32x4_sum4(p[0], p[1], p[2], p[3]), dw, mw, x, g);
}

/* One column: blocks unpacked and dotted one at a time. */
INLINE float q32_row_dot1(enum q32_type t, const uint8_t *row, uint32_t nb, const struct act_q8 *x) {
    uint32_t bb = q32_block_bytes(t), nfull = nb / 4;
    v128 acc = wasm_f32x4_splat(0.0f);
    volatile v128 sink;
    for (uint32_t g = 0; g < nfull; g++) {
        const uint8_t *b0 = row + (size_t)g * 4 * bb;
        v128 w0[NV], w1[NV], w2[NV], w3[NV];
        q32_unpack(t, b0, w0);
        v128 p0 = q32_dot(t, w0, x, 4 * g + 0);
        PIN(sink, p0);
        q32_unpack(t, b0 + bb, w1);
        v128 p1 = q32_dot(t, w1, x, 4 * g + 1);
        PIN(sink, p1);
        q32_unpack(t, b0 + 2 * bb, w2);
        v128 p2 = q32_dot(t, w2, x, 4 * g + 2);
        PIN(sink, p2);
        q32_unpack(t, b0 + 3 * bb, w3);
        v128 p3 = q32_dot(t, w3, x, 4 * g + 3);
        PIN(sink, p3);
        v128 dw = fp16x4_strided(b0, bb);
        v128 mw = t == T_Q4_1 ? fp16x4_strided(b0 + 2, bb) : dw;
        acc = wasm_f32x4_add(acc, q32_terms(t, i32x4_sum4(p0, p1, p2, p3), dw, mw, x, g));
    }
    if (nb % 4) acc = wasm_f32x4_add(acc, q32_tail_terms(t, row + (size_t)nfull * 4 * bb, nb % 4, x, nfull));
    return f32x4_lanes_sum(acc);
}

/* Up to TILE columns: each group of 4 blocks is unpacked once into a buffer, then dotted with every column. */
INLINE void q32_row_tile(enum q32_type t, const uint8_t *row, uint32_t nb, const struct act_q8 *xs, uint32_t jn,
                         float *y, uint32_t y_stride) {
    uint32_t bb = q32_block_bytes(t), nfull = nb / 4;
    v128 acc[TILE];
    v128 w[4][NV];
    volatile v128 sink;
    for (uint32_t j = 0; j < jn; j++) acc[j] = wasm_f32x4_splat(0.0f);
    for (uint32_t g = 0; g < nfull; g++) {
        const uint8_t *b0 = row + (size_t)g * 4 * bb;
        for (uint32_t q = 0; q < 4; q++) q32_unpack(t, b0 + q * bb, w[q]);
        v128 dw = fp16x4_strided(b0, bb);
        v128 mw = t == T_Q4_1 ? fp16x4_strided(b0 + 2, bb) : dw;
        for (uint32_t j = 0; j < jn; j++) {
            v128 p0 = q32_dot(t, w[0], &xs[j], 4 * g + 0);
            PIN(sink, p0);
            v128 p1 = q32_dot(t, w[1], &xs[j], 4 * g + 1);
            PIN(sink, p1);
            v128 p2 = q32_dot(t, w[2], &xs[j], 4 * g + 2);
            PIN(sink, p2);
            v128 p3 = q32_dot(t, w[3], &xs[j], 4 * g + 3);
            PIN(sink, p3);
            acc[j] = wasm_f32x4_add(acc[j], q32_terms(t, i32x4_sum4(p0, p1, p2, p3), dw, mw, &xs[j], g));
        }
    }
    if (nb % 4)
        for (uint32_t j = 0; j < jn; j++)
            acc[j] = wasm_f32x4_add(acc[j], q32_tail_terms(t, row + (size_t)nfull * 4 * bb, nb % 4, &xs[j], nfull));
    for (uint32_t j = 0; j < jn; j++) y[(size_t)j * y_stride] = f32x4_lanes_sum(acc[j]);
}

INLINE void q32_rows(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum q32_type t) {
    uint32_t k = a->k, nb = k / 32, bb = q32_block_bytes(t);
    uint32_t col = act_row_bytes(t == T_Q4_1 ? ACT_Q8_1 : ACT_Q8_0, k);
    const uint8_t *xq = (const uint8_t *)(uintptr_t)a->xq;
    float *y = (float *)(uintptr_t)a->y;
    if (a->n_cols == 1) {
        struct act_q8 x = act_q8_view(xq, k);
        for (uint32_t r = r0; r < r1; r++) y[r] = q32_row_dot1(t, (const uint8_t *)(uintptr_t)a->w + (size_t)r * nb * bb, nb, &x);
        return;
    }
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * nb * bb;
        for (uint32_t j0 = 0; j0 < a->n_cols; j0 += TILE) {
            uint32_t jn = min_u32(TILE, a->n_cols - j0);
            float *yj = y + (size_t)j0 * a->y_stride + r;
            struct act_q8 xs[TILE];
            for (uint32_t j = 0; j < jn; j++) xs[j] = act_q8_view(xq + (size_t)(j0 + j) * col, k);
            if (jn == 1) *yj = q32_row_dot1(t, row, nb, &xs[0]);
            else q32_row_tile(t, row, nb, xs, jn, yj, a->y_stride);
        }
    }
}

void matmul_q8_0(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows(a, r0, r1, T_Q8_0); }
void matmul_q8_0_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows_ref(a, r0, r1, T_Q8_0); }
void matmul_q4_0(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows(a, r0, r1, T_Q4_0); }
void matmul_q4_0_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows_ref(a, r0, r1, T_Q4_0); }
void matmul_q4_1(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows(a, r0, r1, T_Q4_1); }
void matmul_q4_1_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows_ref(a, r0, r1, T_Q4_1); }
