/* OP_MATMUL for the 32-element block types Q8_0, Q4_0 (against Q8_0 activations) and Q4_1 (against Q8_1).
 *
 * The numerics are those of llama.cpp's AVX2 CPU backend (the haswell build node-llama-cpp loads on x86 without
 * AVX-512), which single-token decode and batched prompts alike run through (llamafile's Q8_0 path has the same
 * numerics as its vec_dot):
 *   Q8_0 (ggml_vec_dot_q8_0_q8_0), Q4_1 (ggml_vec_dot_q4_1_q8_1): each block gives 8 int32 lanes, lane l the sum of
 *     the products of elements 4l..4l+3 (maddubs + madd); lane l of an 8-float accumulator takes
 *     fma((float)lane, d_w * d_x, acc_l); the result is hsum_float_8 of the accumulator, plus for Q4_1
 *     summs = fma(m_w, s_x, summs) over the blocks (gcc contracts that scalar multiply-add).
 *   Q4_0 (ggml_gemv_q4_0_8x8_q8_0: llama.cpp repacks Q4_0 weights with a multiple of 8 rows and multiplies them
 *     with this gemv/gemm pair): acc = fma((float)sumi, d_w * d_x, acc) block after block, sumi = sum (n - 8) * a.
 * fma is exact (internal.h). The integers are exact in every build: the 4-bit types use the unsigned nibbles and
 * subtract 8 * (block sum of the activation) afterwards, because the relaxed dot is exact only with a second
 * operand in 0..127 (research/runtimes.md Q1).
 * A row is streamed once for all columns: each group of 4 blocks is unpacked once and dotted with up to TILE
 * columns; a single column takes a direct path that keeps everything in registers.
 * Q4_0 with 2 or more columns (prefill, speculative verification, image blocks) goes by tiles of 4 rows x up to 4
 * columns instead (q4_0_tile), and so does a single column on the fused path of the relaxed build: per block, each
 * column's 4 row sums are gathered into one vector and the 4 (row, column) accumulators advance with one vector fma;
 * rows left over (fewer than 4) take the row path. Independent (row, column) pairs are reordered freely, each pair
 * keeps its block order, so every build gives the same bits.
 * Q4_0_X4 (hearth.h: Q4_0 with rows interleaved by 4, as the loader repacks Q4_0 matrices) runs the same code with
 * other strides: every group of 4 rows through the tile, whatever the column count, the plain last rows as Q4_0. */
#include "internal.h"

#define TILE 8

enum q32_type { T_Q8_0, T_Q4_0, T_Q4_1 };

INLINE uint32_t q32_block_bytes(enum q32_type t) { return t == T_Q8_0 ? 34 : t == T_Q4_0 ? 18 : 20; }

/* ---- scalar twin ---- */

/* Block b's 8 lanes: lane l is the sum of w * a over elements 4l..4l+3 (nibbles unsigned, so Q4_0's lanes lack the
 * -8; only their total is used). */
INLINE void q32_lanes_ref(enum q32_type t, const uint8_t *blk, const struct act_q8 *xa, uint32_t b, int32_t lane[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    if (t == T_Q8_0) {
        const int8_t *q = (const int8_t *)(blk + 2);
        const int16_t *xw = xa->wide + 32 * b;
        for (uint32_t j = 0; j < 32; j++) lane[j / 4] += q[j] * xw[act_pos16(j)];
    } else {
        const uint8_t *q = blk + (t == T_Q4_0 ? 2 : 4);
        const act_t *x = xa->qs + 32 * b;
        for (uint32_t j = 0; j < 16; j++) {
            lane[j / 4] += (q[j] & 15) * x[act_pos(j)];
            lane[4 + j / 4] += (q[j] >> 4) * x[act_pos(j + 16)];
        }
    }
}

INLINE void q32_rows_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum q32_type t, int x4) {
    uint32_t k = a->k, nb = k / 32, bb = q32_block_bytes(t);
    uint32_t col = act_row_bytes(t == T_Q4_1 ? ACT_Q8_1 : t == T_Q8_0 ? ACT_Q8_0W : ACT_Q8_0, k);
    for (uint32_t r = r0; r < r1; r++) {
        for (uint32_t j = 0; j < a->n_cols; j++) {
            struct act_q8 x = act_q8_view((const uint8_t *)(uintptr_t)a->xq + (size_t)j * col, k);
            float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 }, acc1 = 0.0f;
            for (uint32_t b = 0; b < nb; b++) {
                const uint8_t *blk = (const uint8_t *)(uintptr_t)a->w + grouped_block_offset(r, b, a->n_rows, x4 ? 4 : 1, nb, bb);
                int32_t lane[8];
                q32_lanes_ref(t, blk, &x, b, lane);
                float d = fp16_to_f32(ld16(blk)) * x.d[b];
                if (t == T_Q4_0) {
                    int32_t sumi = -8 * x.bsum[b];
                    for (int l = 0; l < 8; l++) sumi += lane[l];
                    acc1 = fma_f32((float)sumi, d, acc1);
                } else {
                    for (int l = 0; l < 8; l++) acc[l] = fma_f32((float)lane[l], d, acc[l]);
                    if (t == T_Q4_1) acc1 = fma_f32(fp16_to_f32(ld16(blk + 2)), x.s[b], acc1);
                }
            }
            float y = t == T_Q4_0 ? acc1 : t == T_Q4_1 ? f32x8_hsum_ref(acc) + acc1 : f32x8_hsum_ref(acc);
            ((float *)(uintptr_t)a->y)[(size_t)j * a->y_stride + r] = y;
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

/* Block b's 8 lanes (q32_lanes_ref) as lo = lanes 0..3 (elements 0..15) and hi = lanes 4..7. i32x4.dot_i16x8_s on
 * the even and on the odd elements of a run of 16 gives lane i elements {4i, 4i+2} and {4i+1, 4i+3}; the relaxed dot
 * sums 4 consecutive bytes. */
INLINE void q32_dot(enum q32_type t, const v128 w[NV], const struct act_q8 *xa, uint32_t b, v128 *lo, v128 *hi) {
#if RELAXED
    if (t != T_Q8_0) {
        const act_t *x = xa->qs + 32 * b;
        *lo = dot_i8_u7(ld(x), w[0]);
        *hi = dot_i8_u7(ld(x + 16), w[1]);
        return;
    }
#endif
    (void)t;
    const int16_t *x = xa->wide + 32 * b;
    *lo = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[0], ld(x)), wasm_i32x4_dot_i16x8(w[1], ld(x + 8)));
    *hi = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[2], ld(x + 16)), wasm_i32x4_dot_i16x8(w[3], ld(x + 24)));
}

/* One column's running sums: Q8_0 / Q4_1 the 8 float lanes (v) and Q4_1's summs (s); Q4_0 the one sum (s). */
struct q32_acc { struct acc8 v; float s; };

INLINE struct q32_acc q32_acc_zero(void) {
    struct q32_acc acc = { acc8_zero(), 0.0f };
    return acc;
}

INLINE float q32_acc_result(enum q32_type t, const struct q32_acc *acc) {
    if (t == T_Q4_0) return acc->s;
    float h = acc8_hsum(&acc->v);
    return t == T_Q4_1 ? h + acc->s : h;
}

/* Blocks 4g..4g+n-1 (n <= 4) into acc, in block order: lane vectors lo/hi, weight scales dw (and mins mw) as f32x4. */
INLINE void q32_accumulate(enum q32_type t, struct q32_acc *acc, const v128 lo[4], const v128 hi[4], uint32_t n,
                           v128 dw, v128 mw, const struct act_q8 *x, uint32_t g, int fz) {
    float d[4];
    wasm_v128_store(d, wasm_f32x4_mul(dw, ld(x->d + 4 * g)));
    if (t == T_Q4_0) {
        v128 sums = i32x4_sum4(wasm_i32x4_add(lo[0], hi[0]), wasm_i32x4_add(lo[1], hi[1]),
                               wasm_i32x4_add(lo[2], hi[2]), wasm_i32x4_add(lo[3], hi[3]));
        float f[4];
        wasm_v128_store(f, wasm_f32x4_convert_i32x4(wasm_i32x4_sub(sums, wasm_i32x4_shl(ld(x->bsum + 4 * g), 3))));
        for (uint32_t q = 0; q < n; q++) acc->s = fma_f32_fz(f[q], d[q], acc->s, fz);
        return;
    }
    /* lanes are below 4 * 127 * 128 in magnitude */
    for (uint32_t q = 0; q < n; q++) acc8_fma_i24_fz(&acc->v, lo[q], hi[q], d[q], fz);
    if (t == T_Q4_1) {
        float m[4], s[4];
        wasm_v128_store(m, mw);
        wasm_v128_store(s, ld(x->s + 4 * g));
        for (uint32_t q = 0; q < n; q++) acc->s = fma_f32_fz(m[q], s[q], acc->s, fz);
    }
}

/* The last, partial group (n < 4 blocks). */
INLINE void q32_tail(enum q32_type t, struct q32_acc *acc, const uint8_t *b0, uint32_t n, const struct act_q8 *x, uint32_t g, int fz) {
    uint32_t bb = q32_block_bytes(t);
    v128 lo[4], hi[4];
    uint16_t dh[4] = { 0, 0, 0, 0 }, mh[4] = { 0, 0, 0, 0 };
    for (uint32_t q = 0; q < 4; q++) {
        lo[q] = hi[q] = wasm_i32x4_splat(0);
        if (q < n) {
            v128 w[NV];
            q32_unpack(t, b0 + q * bb, w);
            q32_dot(t, w, x, 4 * g + q, &lo[q], &hi[q]);
            dh[q] = ld16(b0 + q * bb);
            mh[q] = ld16(b0 + q * bb + 2);
        }
    }
    v128 dw = fp16x4_to_f32x4(wasm_i32x4_make(dh[0], dh[1], dh[2], dh[3]));
    v128 mw = fp16x4_to_f32x4(wasm_i32x4_make(mh[0], mh[1], mh[2], mh[3]));
    q32_accumulate(t, acc, lo, hi, n, dw, mw, x, g, fz);
}

/* One column: blocks unpacked and dotted one at a time. */
INLINE float q32_row_dot1(enum q32_type t, const uint8_t *row, uint32_t nb, const struct act_q8 *x, int fz, int pin) {
    uint32_t bb = q32_block_bytes(t), nfull = nb / 4;
    struct q32_acc acc = q32_acc_zero();
    volatile v128 sink;
    for (uint32_t g = 0; g < nfull; g++) {
        const uint8_t *b0 = row + (size_t)g * 4 * bb;
        v128 lo[4], hi[4];
        for (uint32_t q = 0; q < 4; q++) {
            v128 w[NV];
            q32_unpack(t, b0 + q * bb, w);
            q32_dot(t, w, x, 4 * g + q, &lo[q], &hi[q]);
            PIN(pin, sink, lo[q]);
            PIN(pin, sink, hi[q]);
        }
        v128 dw = fp16x4_strided(b0, bb);
        v128 mw = t == T_Q4_1 ? fp16x4_strided(b0 + 2, bb) : dw;
        q32_accumulate(t, &acc, lo, hi, 4, dw, mw, x, g, fz);
    }
    if (nb % 4) q32_tail(t, &acc, row + (size_t)nfull * 4 * bb, nb % 4, x, nfull, fz);
    return q32_acc_result(t, &acc);
}

/* Up to TILE columns: each group of 4 blocks is unpacked once into a buffer, then dotted with every column. */
INLINE void q32_row_tile(enum q32_type t, const uint8_t *row, uint32_t nb, const struct act_q8 *xs, uint32_t jn,
                         float *y, uint32_t y_stride, int fz, int pin) {
    uint32_t bb = q32_block_bytes(t), nfull = nb / 4;
    struct q32_acc acc[TILE];
    v128 w[4][NV];
    volatile v128 sink;
    for (uint32_t j = 0; j < jn; j++) acc[j] = q32_acc_zero();
    for (uint32_t g = 0; g < nfull; g++) {
        const uint8_t *b0 = row + (size_t)g * 4 * bb;
        for (uint32_t q = 0; q < 4; q++) q32_unpack(t, b0 + q * bb, w[q]);
        v128 dw = fp16x4_strided(b0, bb);
        v128 mw = t == T_Q4_1 ? fp16x4_strided(b0 + 2, bb) : dw;
        for (uint32_t j = 0; j < jn; j++) {
            v128 lo[4], hi[4];
            for (uint32_t q = 0; q < 4; q++) {
                q32_dot(t, w[q], &xs[j], 4 * g + q, &lo[q], &hi[q]);
                PIN(pin, sink, lo[q]);
                PIN(pin, sink, hi[q]);
            }
            q32_accumulate(t, &acc[j], lo, hi, 4, dw, mw, &xs[j], g, fz);
        }
    }
    if (nb % 4)
        for (uint32_t j = 0; j < jn; j++) q32_tail(t, &acc[j], row + (size_t)nfull * 4 * bb, nb % 4, &xs[j], nfull, fz);
    for (uint32_t j = 0; j < jn; j++) y[(size_t)j * y_stride] = q32_acc_result(t, &acc[j]);
}

/* Block b of one row (unpacked) against one column, for q4_0_sum4: baseline build 4 int32 lanes summing to the
 * block's unsigned-nibble dot; relaxed build 8 int16 lanes, each the sum of 4 products. i16x8.relaxed_dot (one
 * pmaddubsw on x86) cannot saturate here, a pair of products is at most 2 * 15 * 127, and keeping int16 until
 * q4_0_sum4 saves the widening (the i32x4 form of the relaxed dot costs 3 instructions in V8, this one 1). */
INLINE v128 q4_0_dot_tile(const v128 w[NV], const struct act_q8 *xa, uint32_t b) {
#if RELAXED
    const act_t *x = xa->qs + 32 * b;
    return wasm_i16x8_add(wasm_i16x8_relaxed_dot_i8x16_i7x16(ld(x), w[0]), wasm_i16x8_relaxed_dot_i8x16_i7x16(ld(x + 16), w[1]));
#else
    v128 lo, hi;
    q32_dot(T_Q4_0, w, xa, b, &lo, &hi);
    return wasm_i32x4_add(lo, hi);
#endif
}

/* The 4 rows' block sums (lane i: row i) from their q4_0_dot_tile vectors. Relaxed build: the rows are interleaved
 * and added as int16 twice (a lane then holds 8, then 16 products: at most 16 * 15 * 128 < 2^15, exact) and widened
 * with one i32x4.dot against ones, instead of one widening per row. The shuffles are the ones V8 emits as a single
 * unpack instruction. */
INLINE v128 q4_0_sum4(const v128 v[4]) {
#if RELAXED
    v128 t01 = wasm_i16x8_add(wasm_i32x4_shuffle(v[0], v[1], 0, 4, 1, 5), wasm_i32x4_shuffle(v[0], v[1], 2, 6, 3, 7));
    v128 t23 = wasm_i16x8_add(wasm_i32x4_shuffle(v[2], v[3], 0, 4, 1, 5), wasm_i32x4_shuffle(v[2], v[3], 2, 6, 3, 7));
    v128 t = wasm_i16x8_add(wasm_i32x4_shuffle(t01, t23, 0, 1, 4, 5), wasm_i32x4_shuffle(t01, t23, 2, 3, 6, 7));
    return wasm_i32x4_dot_i16x8(t, wasm_i16x8_splat(1));
#else
    return i32x4_sum4(v[0], v[1], v[2], v[3]);
#endif
}

/* Q4_0, 4 rows x nc columns (nc 1..4, a constant at each call so the accumulators stay in registers): block by
 * block, the 4 rows are unpacked once and dotted with every column; a column's 4 block sums are gathered into one
 * vector (lane i: row i) and its 4 accumulators (one f32x4) advance together. Per (row, column) the operations are
 * exactly q32_row_dot1's, in the same block order: the integers are exact, d = d_w * d_x is the same f32 product,
 * and acc = fma((float)sumi, d, acc) is the same exact fma (fused, or emulated as fma_f32: (double)sumi * d is exact
 * in f64, then one f64 add and the rounding to f32, with the halfway fix). Only the order between independent
 * (row, column) pairs changes. A single pair's emulated chain (promote, f64 add, demote: ~13 cycles a block) bounds
 * a row at a time; here a block has 2 * nc independent f64x2 chains with the integer work of 4 * nc dots between.
 * The accumulators stay f32x4 between blocks (demoted, then promoted again at the next block) on purpose: clang
 * folds an f64x2 demote-then-promote into 2 scalar round trips (extract, demote, promote, replace), several times the
 * cost; the loop-carried f32x4 keeps the vector conversions. */
/* One block of the tile: the accumulators advance by this block's fma. */
INLINE void q4_0_tile_block(const uint8_t *row, size_t rstride, size_t bstride, const struct act_q8 *xs, uint32_t nc,
                            uint32_t b, v128 acc[4], int fz) {
    const uint8_t *blk = row + (size_t)b * bstride;
    v128 w[4][NV];
    _Pragma("clang loop unroll(full)")
    for (uint32_t i = 0; i < 4; i++) q32_unpack(T_Q4_0, blk + i * rstride, w[i]);
    v128 dw = fp16x4_strided(blk, (uint32_t)rstride);
    v128 p[4][2], a[4][2], s[4][2], half = wasm_i32x4_splat(0);
    _Pragma("clang loop unroll(full)")
    for (uint32_t c = 0; c < nc; c++) {
        v128 v[4];
        _Pragma("clang loop unroll(full)")
        for (uint32_t i = 0; i < 4; i++) v[i] = q4_0_dot_tile(w[i], &xs[c], b);
        v128 sums = wasm_i32x4_sub(q4_0_sum4(v), wasm_i32x4_shl(wasm_v128_load32_splat(xs[c].bsum + b), 3));
        v128 d = wasm_f32x4_mul(dw, wasm_f32x4_splat(xs[c].d[b]));
        if (fz) {
            acc[c] = f32x4_madd_fused(wasm_f32x4_convert_i32x4(sums), d, acc[c]);
            continue;
        }
        /* |sumi| < 2^15: exact as f64 straight from the int32 lanes */
        p[c][0] = wasm_f64x2_mul(wasm_f64x2_convert_low_i32x4(sums), f32x4_lo_f64(d));
        p[c][1] = wasm_f64x2_mul(wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(sums, sums, 2, 3, 2, 3)), f32x4_hi_f64(d));
        a[c][0] = f32x4_lo_f64(acc[c]);
        a[c][1] = f32x4_hi_f64(acc[c]);
        s[c][0] = wasm_f64x2_add(p[c][0], a[c][0]);
        s[c][1] = wasm_f64x2_add(p[c][1], a[c][1]);
        /* the halfway test needs only the low 32 bits of each f64: both halves' in one vector */
        half = wasm_v128_or(half, wasm_i32x4_eq(wasm_v128_and(wasm_i32x4_shuffle(s[c][0], s[c][1], 0, 2, 4, 6),
                                                              wasm_i32x4_splat(F64_LOW29)), wasm_i32x4_splat(F64_HALF)));
    }
    if (fz) return;
    /* one test for the whole tile (the fix leaves the other lanes as they are). Exact halfway sums are common
     * enough (random weights: some lane of a 4 x 4 tile in a good share of blocks) that this branch costs ~25%
     * of the emulated tile (measured against no fix at all); per-column tests, an exactness filter
     * (halfway and TwoSum error != 0) or a deferred recompute of the tile all measured no better. */
    if (__builtin_expect(wasm_v128_any_true(half), 0))
        _Pragma("clang loop unroll(full)")
        for (uint32_t c = 0; c < nc; c++)
            for (uint32_t h = 0; h < 2; h++) s[c][h] = f64x2_fma_fix(p[c][h], a[c][h], s[c][h]);
    _Pragma("clang loop unroll(full)")
    for (uint32_t c = 0; c < nc; c++) acc[c] = f64x2x2_to_f32x4(s[c][0], s[c][1]);
}

INLINE void q4_0_tile(const uint8_t *row, size_t rstride, size_t bstride, uint32_t nb, const struct act_q8 *xs, uint32_t nc,
                      float *y, uint32_t y_stride, int fz, int one_block) {
    v128 acc[4];
    _Pragma("clang loop unroll(full)")
    for (uint32_t c = 0; c < nc; c++) acc[c] = wasm_f32x4_splat(0.0f);
    /* Two blocks per iteration, unless the host asks for one (hearth.h, HEARTH_TUNE_Q4_0_ONE_BLOCK): in-process A/B
     * over L3-resident weights, Deno 2.9's V8 (15.0; workerd's is as new) runs the tile 20-40% faster with two at
     * every column count; Node 20's (11.3) gains 12-35% from 2 columns up but loses 7-9% on 1 column. 4 blocks
     * lose on Node 20 everywhere. */
    if (one_block) {
        _Pragma("clang loop unroll(disable)")
        for (uint32_t b = 0; b < nb; b++) q4_0_tile_block(row, rstride, bstride, xs, nc, b, acc, fz);
    } else {
        _Pragma("clang loop unroll_count(2)")
        for (uint32_t b = 0; b < nb; b++) q4_0_tile_block(row, rstride, bstride, xs, nc, b, acc, fz);
    }
    _Pragma("clang loop unroll(full)")
    for (uint32_t c = 0; c < nc; c++) wasm_v128_store(y + (size_t)c * y_stride, acc[c]);
}

/* 4 rows from w against all columns, 4 columns at a time, the last 1..3 in one narrower tile (the rows, 4 * rb bytes,
 * stay in cache across the column groups). Row i's block b at w + i * rstride + b * bstride: plain rows (rb, 18) or
 * a group of HT_Q4_0_X4 (18, 72). */
INLINE void q4_0_tiles(const uint8_t *w, size_t rstride, size_t bstride, uint32_t nb, const uint8_t *xq, uint32_t col,
                       uint32_t k, uint32_t n_cols, float *y, uint32_t y_stride, int fz) {
    for (uint32_t j0 = 0; j0 < n_cols; j0 += 4) {
        uint32_t jn = min_u32(4, n_cols - j0);
        struct act_q8 xs[4];
        for (uint32_t j = 0; j < jn; j++) xs[j] = act_q8_view(xq + (size_t)(j0 + j) * col, k);
        float *yj = y + (size_t)j0 * y_stride;
        switch (jn) {
        case 4: q4_0_tile(w, rstride, bstride, nb, xs, 4, yj, y_stride, fz, 0); break;
        case 3: q4_0_tile(w, rstride, bstride, nb, xs, 3, yj, y_stride, fz, 0); break;
        case 2: q4_0_tile(w, rstride, bstride, nb, xs, 2, yj, y_stride, fz, 0); break;
        default:
            if (hearth_tune_flags & HEARTH_TUNE_Q4_0_ONE_BLOCK) q4_0_tile(w, rstride, bstride, nb, xs, 1, yj, y_stride, fz, 1);
            else q4_0_tile(w, rstride, bstride, nb, xs, 1, yj, y_stride, fz, 0);
            break;
        }
    }
}

INLINE void q32_rows_fz(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum q32_type t, int fz, int pin, int x4) {
    uint32_t k = a->k, nb = k / 32, bb = q32_block_bytes(t);
    uint32_t col = act_row_bytes(t == T_Q4_1 ? ACT_Q8_1 : t == T_Q8_0 ? ACT_Q8_0W : ACT_Q8_0, k);
    const uint8_t *xq = (const uint8_t *)(uintptr_t)a->xq;
    float *y = (float *)(uintptr_t)a->y;
    /* 4 rows x up to 4 columns (q4_0_tile), the last rows one by one below; one column too on the fused path, where
     * four rows' chains in one vector beat a row at a time (relaxed decode 5.3-5.5 -> 5.8 GB/s) and the emulated
     * path measured no gain, and always for interleaved rows (x4), which only a tile reads. A chunk of rows starts on
     * a multiple of 16 (run.c), so the rows left below are the plain n_rows % 4 at the end. */
    if (t == T_Q4_0 && (x4 || a->n_cols > 1 || fz)) {
        size_t rb = (size_t)nb * bb;
        for (; r0 + 4 <= r1; r0 += 4)
            q4_0_tiles((const uint8_t *)(uintptr_t)a->w + r0 * rb, x4 ? 18 : rb, x4 ? 72 : 18, nb, xq, col, k, a->n_cols,
                       y + r0, a->y_stride, fz);
    }
    if (a->n_cols == 1) {
        struct act_q8 x = act_q8_view(xq, k);
        for (uint32_t r = r0; r < r1; r++) y[r] = q32_row_dot1(t, (const uint8_t *)(uintptr_t)a->w + (size_t)r * nb * bb, nb, &x, fz, pin);
        return;
    }
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)(uintptr_t)a->w + (size_t)r * nb * bb;
        for (uint32_t j0 = 0; j0 < a->n_cols; j0 += TILE) {
            uint32_t jn = min_u32(TILE, a->n_cols - j0);
            float *yj = y + (size_t)j0 * a->y_stride + r;
            struct act_q8 xs[TILE];
            for (uint32_t j = 0; j < jn; j++) xs[j] = act_q8_view(xq + (size_t)(j0 + j) * col, k);
            if (jn == 1) *yj = q32_row_dot1(t, row, nb, &xs[0], fz, pin);
            else q32_row_tile(t, row, nb, xs, jn, yj, a->y_stride, fz, pin);
        }
    }
}

/* One compiled copy per (fused fma, pin); Q4_0 always pins (its row path only takes the rows a tile leaves over, and
 * one copy of the tile code less). x4 (rows interleaved by 4) changes only strides: the same code. */
INLINE void q32_rows(const struct args_matmul *a, uint32_t r0, uint32_t r1, enum q32_type t, int x4) {
    int fz = RELAXED && fma_fused(), pin = t == T_Q4_0 || pin_wanted();
    if (fz && pin) q32_rows_fz(a, r0, r1, t, 1, 1, x4);
    else if (fz) q32_rows_fz(a, r0, r1, t, 1, 0, x4);
    else if (pin) q32_rows_fz(a, r0, r1, t, 0, 1, x4);
    else q32_rows_fz(a, r0, r1, t, 0, 0, x4);
}

void matmul_q8_0(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows(a, r0, r1, T_Q8_0, 0); }
void matmul_q8_0_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows_ref(a, r0, r1, T_Q8_0, 0); }
void matmul_q4_0(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows(a, r0, r1, T_Q4_0, 0); }
void matmul_q4_0_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows_ref(a, r0, r1, T_Q4_0, 0); }
void matmul_q4_0x4(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows(a, r0, r1, T_Q4_0, 1); }
void matmul_q4_0x4_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows_ref(a, r0, r1, T_Q4_0, 1); }
void matmul_q4_1(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows(a, r0, r1, T_Q4_1, 0); }
void matmul_q4_1_ref(const struct args_matmul *a, uint32_t r0, uint32_t r1) { q32_rows_ref(a, r0, r1, T_Q4_1, 0); }
