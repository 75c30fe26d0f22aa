/* OP_KV_STORE and OP_ATTENTION: llama.cpp's non-flash attention on the CPU (build_attn_mha + soft_max_ext), with
 * the f16 roundings its F16 mul_mats imply (q before K·q, the probabilities before V·p) and ggml_vec_dot_f16's
 * AVX2 summation (4 accumulators x 8 lanes over 32-element steps, reduced ((s0+s2)+(s1+s3)), lanes m and m+4 added,
 * then (t0+t1)+(t2+t3); leftovers in double). f16 x f16 products are exact in f32, so that order alone fixes the
 * result. V is kept transposed (as llama.cpp's v_trans cache), so V·p is the same dot over a row of cells. */
#include "mathf.h"

/* ---- kv_store ---- */

void kv_store(const struct args_kv_store *a, uint32_t ith, uint32_t nth, int ref) {
    uint32_t t0, t1, w = a->width;
    split_range(a->n_tokens, ith, nth, &t0, &t1);
    const int32_t *cells = (const int32_t *)(uintptr_t)a->cells;
    for (uint32_t t = t0; t < t1; t++) {
        if (cells[t] < 0) continue;
        const float *src = (const float *)(uintptr_t)a->src + (size_t)t * a->src_stride;
        uint32_t i = 0;
        if (a->v_stride) {
            uint16_t *dst = (uint16_t *)(uintptr_t)a->dst + cells[t];
            size_t vs = a->v_stride;
            if (!ref)
                for (; i + 4 <= w; i += 4) {
                    v128 h = f32x4_to_fp16x4(ld(src + i));
                    wasm_v128_store16_lane(dst + i * vs, h, 0);
                    wasm_v128_store16_lane(dst + (i + 1) * vs, h, 2);
                    wasm_v128_store16_lane(dst + (i + 2) * vs, h, 4);
                    wasm_v128_store16_lane(dst + (i + 3) * vs, h, 6);
                }
            for (; i < w; i++) dst[i * vs] = f32_to_fp16(src[i]);
        } else {
            uint16_t *dst = (uint16_t *)(uintptr_t)a->dst + (size_t)cells[t] * w;
            if (!ref)
                for (; i + 8 <= w; i += 8)
                    st(dst + i, wasm_u16x8_narrow_i32x4(f32x4_to_fp16x4(ld(src + i)), f32x4_to_fp16x4(ld(src + i + 4))));
            for (; i < w; i++) dst[i] = f32_to_fp16(src[i]);
        }
    }
}

/* ---- attention ---- */

EXPORT(hearth_attention_scratch_bytes)
uint32_t hearth_attention_scratch_bytes(uint32_t n_cells, uint32_t head_dim_k, uint32_t head_dim_v) {
    (void)head_dim_v;
    return 4 * (round4(n_cells) + round4(head_dim_k));
}

/* ggml_vec_dot_f16 of an f16 row and f32 values already rounded to f16. */
INLINE float dot_f16_ref(const uint16_t *k, const float *q, uint32_t n) {
    uint32_t np = n & ~31u;
    float lane[32] = { 0 };
    for (uint32_t i = 0; i < np; i += 32)
        for (uint32_t e = 0; e < 32; e++) lane[e] = lane[e] + fp16_to_f32(k[i + e]) * q[i + e];
    float t[4];
    for (int m = 0; m < 4; m++)
        t[m] = ((lane[m] + lane[16 + m]) + (lane[8 + m] + lane[24 + m])) + ((lane[4 + m] + lane[20 + m]) + (lane[12 + m] + lane[28 + m]));
    double sum = (double)((t[0] + t[1]) + (t[2] + t[3]));
    for (uint32_t i = np; i < n; i++) sum += (double)(fp16_to_f32(k[i]) * q[i]);
    return (float)sum;
}

INLINE float dot_f16(const uint16_t *k, const float *q, uint32_t n) {
    uint32_t np = n & ~31u;
    v128 acc[8];
    for (int i = 0; i < 8; i++) acc[i] = wasm_f32x4_splat(0.0f);
    volatile v128 sink;
    for (uint32_t i = 0; i < np; i += 32) {
        v128 h[4] = { ld(k + i), ld(k + i + 8), ld(k + i + 16), ld(k + i + 24) }, f[8];
        fp16x32_to_f32(h, f);
        for (int j = 0; j < 8; j++) acc[j] = wasm_f32x4_add(acc[j], wasm_f32x4_mul(f[j], ld(q + i + 4 * j)));
        PIN(1, sink, acc[7]);
    }
    v128 lo = wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[4]), wasm_f32x4_add(acc[2], acc[6]));
    v128 hi = wasm_f32x4_add(wasm_f32x4_add(acc[1], acc[5]), wasm_f32x4_add(acc[3], acc[7]));
    v128 t = wasm_f32x4_add(lo, hi);
    double sum = (double)((wasm_f32x4_extract_lane(t, 0) + wasm_f32x4_extract_lane(t, 1)) +
                          (wasm_f32x4_extract_lane(t, 2) + wasm_f32x4_extract_lane(t, 3)));
    /* the leftovers (all of a head under 32 wide) still add one by one in double, but their f16 products (exact in
     * f32) are formed 4 at a time: the scalar conversion was most of a small head's attention */
    uint32_t i = np;
    for (; i + 4 <= n; i += 4) {
        v128 p = wasm_f32x4_mul(fp16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero(k + i))), ld(q + i));
        sum += (double)wasm_f32x4_extract_lane(p, 0);
        sum += (double)wasm_f32x4_extract_lane(p, 1);
        sum += (double)wasm_f32x4_extract_lane(p, 2);
        sum += (double)wasm_f32x4_extract_lane(p, 3);
    }
    for (; i < n; i++) sum += (double)(fp16_to_f32(k[i]) * q[i]);
    return (float)sum;
}

/* tinyBLAS's order (llama.cpp's batched F16 mul_mat, see matmul_tinyblas.c): 8 lanes over i mod 8, then hsum.
 * n is a multiple of 8 (the caller checks). */
INLINE float dot_f16_tiled_ref(const uint16_t *k, const float *q, uint32_t n) {
    float l[8] = { 0 };
    for (uint32_t i = 0; i < n; i++) l[i % 8] = l[i % 8] + fp16_to_f32(k[i]) * q[i];
    return f32x8_hsum_ref(l);
}

INLINE float dot_f16_tiled(const uint16_t *k, const float *q, uint32_t n) {
    v128 lo = wasm_f32x4_splat(0.0f), hi = lo;
    for (uint32_t i = 0; i < n; i += 8) {
        v128 a, b;
        fp16x8_to_f32x4x2(ld(k + i), &a, &b);
        lo = wasm_f32x4_add(lo, wasm_f32x4_mul(a, ld(q + i)));
        hi = wasm_f32x4_add(hi, wasm_f32x4_mul(b, ld(q + i + 4)));
    }
    return f32x8_hsum(lo, hi);
}

INLINE float dot_any(const uint16_t *k, const float *q, uint32_t n, int ref, int tiled) {
    if (tiled) return ref ? dot_f16_tiled_ref(k, q, n) : dot_f16_tiled(k, q, n);
    return ref ? dot_f16_ref(k, q, n) : dot_f16(k, q, n);
}

/* Scores of a head narrower than 32 (dk % 4 == 0), 4 cells at a time: ggml_vec_dot_f16 has no 32-element step
 * there, so each cell's dot is its dk products (exact in f32) added one by one in double, a chain of dk dependent
 * adds per cell (a 4-cycle latency each). Here the cells are the lanes: 4 cells' keys are transposed (lane j: cell
 * c + j) and widened to f64 once, so each dim takes 2 f64x2 multiplies (exact: an f16 times an f16-rounded value)
 * and 2 adds for 4 cells, every lane still adding its products in dim order from +0.0: the same double sums. Cells
 * past the last multiple of 4 are left to the caller. */
INLINE void narrow_head_dots(const uint16_t *kc, size_t cell_stride, const float *qf, uint32_t dk, uint32_t n, float *out) {
    for (uint32_t c = 0; c + 4 <= n; c += 4) {
        const uint16_t *k0 = kc + (size_t)c * cell_stride;
        v128 s01 = wasm_f64x2_splat(0.0), s23 = s01;
        for (uint32_t i = 0; i < dk; i += 4) {
            v128 r[4];
            for (uint32_t j = 0; j < 4; j++)
                r[j] = fp16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero(k0 + j * cell_stride + i)));
            v128 a = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5), b = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5);
            v128 e = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7), f = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
            v128 t[4] = { wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7),
                          wasm_i32x4_shuffle(e, f, 0, 1, 4, 5), wasm_i32x4_shuffle(e, f, 2, 3, 6, 7) };
            for (uint32_t d = 0; d < 4; d++) {
                v128 q = wasm_f64x2_splat((double)qf[i + d]);
                s01 = wasm_f64x2_add(s01, wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(t[d]), q));
                s23 = wasm_f64x2_add(s23, wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(t[d], t[d], 2, 3, 2, 3)), q));
            }
        }
        st(out + c, wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(s01), wasm_f32x4_demote_f64x2_zero(s23), 0, 1, 4, 5));
    }
}

static void attend(const struct args_attention *a, uint32_t t, uint32_t h, float *scratch, int ref) {
    uint32_t n = a->n_cells, dk = a->head_dim_k, dv = a->head_dim_v;
    uint32_t g = h / (a->n_head / a->n_head_kv);
    float *p = scratch, *qf = scratch + round4(n);
    const float *q = (const float *)(uintptr_t)a->q + (size_t)t * a->q_stride + (size_t)h * dk;
    float *out = (float *)(uintptr_t)a->out + (size_t)t * a->out_stride + (size_t)h * dv;
    const uint16_t *kc = (const uint16_t *)(uintptr_t)a->k_cache;
    const uint16_t *vc = (const uint16_t *)(uintptr_t)a->v_cache + (size_t)g * dv * a->v_stride;
    const int32_t *cell_pos = (const int32_t *)(uintptr_t)a->cell_pos;
    int32_t qp = ((const int32_t *)(uintptr_t)a->q_pos)[t];
    int causal = !(a->flags & HEARTH_ATTN_NONCAUSAL);
    /* llama.cpp's tinyBLAS needs k % 8 == 0 and rows % 4 == 0, else it falls back to ggml_vec_dot_f16 */
    int tiled_k = (a->flags & HEARTH_ATTN_TILED) && dk % 8 == 0 && n % 4 == 0;
    int tiled_v = (a->flags & HEARTH_ATTN_TILED) && n % 8 == 0 && dv % 4 == 0;

    uint32_t i = 0;
    if (!ref) for (; i + 4 <= dk; i += 4) st(qf + i, f32x4_round_fp16(ld(q + i)));
    for (; i < dk; i++) qf[i] = round_fp16(q[i]);

    /* scores: K·q, softcap (scale by the reciprocal, tanh, scale back), times scale; masked cells -inf. A narrow
     * head's dots come 4 cells at a time first (masked cells too, then overwritten) */
    uint32_t narrow = !ref && !tiled_k && dk < 32 && dk % 4 == 0 ? n & ~3u : 0;
    if (narrow) narrow_head_dots(kc + (size_t)g * dk, (size_t)a->n_head_kv * dk, qf, dk, narrow, p);
    int any = 0;
    for (uint32_t c = 0; c < n; c++) {
        int32_t cp = cell_pos[c];
        if (cp < 0 || (causal && cp > qp) || (a->window > 0 && (int64_t)qp - cp >= a->window)) {
            p[c] = -__builtin_inff();
            continue;
        }
        const uint16_t *krow = kc + ((size_t)c * a->n_head_kv + g) * dk;
        float s = c < narrow ? p[c] : dot_any(krow, qf, dk, ref, tiled_k);
        if (a->softcap > 0.0f) s = tanhf_acc(s * (1.0f / a->softcap)) * a->softcap;
        p[c] = s * a->scale;
        any = 1;
    }
    if (!any) { /* nothing visible (ggml would produce NaN): a zero output */
        for (uint32_t d = 0; d < dv; d++) out[d] = 0.0f;
        return;
    }
    softmax_row(p, n, ref);

    /* probabilities rounded to f16, then each output dim is a dot over the cells of its transposed V row */
    i = 0;
    if (!ref) for (; i + 4 <= n; i += 4) st(p + i, f32x4_round_fp16(ld(p + i)));
    for (; i < n; i++) p[i] = round_fp16(p[i]);
    for (uint32_t d = 0; d < dv; d++) {
        const uint16_t *vrow = vc + (size_t)d * a->v_stride;
        out[d] = dot_any(vrow, p, n, ref, tiled_v);
    }
}

void attention(const struct args_attention *a, uint32_t ith, uint32_t nth, int ref) {
    if (a->n_head == 0 || a->n_head_kv == 0 || a->n_head % a->n_head_kv || a->n_cells == 0) return;
    uint32_t u0, u1;
    split_range(a->n_tokens * a->n_head, ith, nth, &u0, &u1);
    float *scratch = (float *)((uint8_t *)(uintptr_t)a->scratch +
                               (size_t)ith * hearth_attention_scratch_bytes(a->n_cells, a->head_dim_k, a->head_dim_v));
    for (uint32_t u = u0; u < u1; u++) attend(a, u / a->n_head, u % a->n_head, scratch, ref);
}
