/* hearth core: the flat C ABI between the TypeScript engine and the wasm kernels.
 *
 * Every parallel operation is one entry of the op table below. The host writes the op's argument struct into wasm
 * memory and calls hearth_run(op, args, ith, nth) once per thread (ith = 0..nth-1); the kernel itself decides how
 * to split its work by ith/nth (rows for matmul, (token, head) pairs for attention, ...). Splits never change the
 * math of one output element, so results are bit-identical for every nth. Results for one output column are also
 * bit-identical whatever n_cols is: a token scored inside a prompt chunk or a speculative batch gets the same
 * numbers as when it is scored alone.
 *
 * hearth_run_ref(...) runs the plain scalar twin of every kernel with the same arguments (tests hold the two together).
 *
 * All argument fields are 4 bytes (pointers are wasm32 offsets into the shared memory), so the host fills them with
 * one Uint32Array/Int32Array/Float32Array view. Field order is the ABI: change it here and in src/core/ops.ts together.
 * Layouts: a "row" is contiguous; activations are token-major ([n_tokens][width]).
 */
#ifndef HEARTH_H
#define HEARTH_H

#include <stdint.h>
#include <stddef.h>

#define HEARTH_ABI_VERSION 1

/* ggml tensor type ids (spec gguf.md §2) */
enum hearth_type {
    HT_F32 = 0, HT_F16 = 1, HT_Q4_0 = 2, HT_Q4_1 = 3, HT_Q8_0 = 8,
    HT_Q4_K = 12, HT_Q5_K = 13, HT_Q6_K = 14, HT_BF16 = 30,
};

enum hearth_op {
    OP_QUANTIZE_ACT = 1, /* split: columns */
    OP_MATMUL       = 2, /* split: output rows */
    OP_GET_ROWS     = 3, /* split: ids */
    OP_RMS_NORM     = 4, /* split: rows */
    OP_ROPE         = 5, /* split: (token, head) pairs */
    OP_KV_STORE     = 6, /* split: tokens */
    OP_ATTENTION    = 7, /* split: (token, head) pairs */
    OP_SILU_MUL     = 8, /* split: element chunks */
    OP_GELU_MUL     = 9, /* split: element chunks */
    OP_ADD          = 10,
    OP_MUL          = 11,
    OP_SCALE        = 12,
    OP_SOFTMAX      = 13, /* split: rows */
    OP_SOFTCAP      = 14, /* split: element chunks */
};

/* Convert n_cols activation columns (f32, x + j*k) into the format the weight type's dot product wants, written at
 * xq + j*hearth_act_row_bytes(wtype, k): Q8_0 blocks for Q4_0/Q8_0, Q8_1 blocks for Q4_1, Q8_K for the K-quants,
 * f16 for F16, bf16 for BF16, a copy for F32. Rounding follows llama.cpp's x86 CPU backend exactly. */
struct args_quantize_act { uint32_t wtype, x, xq, k, n_cols; };

/* y[j*y_stride + r] = dot(W row r, activation column j) for r < n_rows, j < n_cols.
 * W has n_rows rows of k elements of wtype (k a multiple of the block size); xq as produced by OP_QUANTIZE_ACT. */
struct args_matmul { uint32_t wtype, w, k, n_rows, xq, n_cols, y, y_stride; };

/* out[j*k ...] = row ids[j] of W, dequantized to f32 (embedding lookup). */
struct args_get_rows { uint32_t wtype, w, k, ids, n, out; };

/* out row = (x row * 1/sqrtf(mean(x^2) + eps)) * w, the sum of squares in double, as ggml does; w may be 0 (none).
 * x and out rows are k floats apart; out may equal x. */
struct args_rms_norm { uint32_t x, w, out, k, n_rows; float eps; };

/* Rotate, in place, the first n_rot dims of each head of x ([n_tokens] rows of x_stride floats, n_heads heads of
 * head_dim each). cos_sin holds [n_tokens][n_rot/2] (cos, sin) pairs computed by the host. mode 0 = NORM (pairs 2i,
 * 2i+1), mode 2 = NEOX (pairs i, i + n_rot/2). */
struct args_rope { uint32_t x, n_tokens, n_heads, head_dim, n_rot, x_stride, cos_sin, mode; };

/* Store n_tokens f32 rows (width floats each, src + t*src_stride) into the f16 cache rows dst + cells[t]*width
 * (round to nearest even, as ggml's f32 -> f16 copy). */
struct args_kv_store { uint32_t src, src_stride, dst, width, n_tokens, cells; };

/* Causal attention over an f16 KV cache, as llama.cpp's non-flash CPU path computes it:
 *   q (f32, token t head h at q + t*q_stride + h*head_dim_k) is rounded to f16; s_c = dot(q, K_c);
 *   if softcap > 0: s = softcap * tanh(s / softcap); then s = s * scale; cells with cell_pos[c] < 0, cell_pos[c] > q_pos[t], or
 *   (window > 0 and q_pos[t] - cell_pos[c] >= window) are masked; p = softmax(s) (max-subtracted, double sum);
 *   p is rounded to f16; out[t*out_stride + h*head_dim_v + d] = sum_c p_c * V_c[d].
 * K cell c, kv head g at k_cache + (c*n_head_kv + g)*head_dim_k halves; V likewise with head_dim_v.
 * Query head h reads kv head h / (n_head / n_head_kv). scratch: n_cells floats per thread at scratch + ith*n_cells*4. */
struct args_attention {
    uint32_t q, q_stride, k_cache, v_cache, out, out_stride;
    uint32_t n_tokens, n_head, n_head_kv, head_dim_k, head_dim_v;
    uint32_t n_cells, cell_pos, q_pos;
    float scale; int32_t window; float softcap;
    uint32_t scratch;
};

/* Elementwise on n floats: out = silu(a) * b;  out = gelu_tanh(a) * b;  a + b;  a * b;  a * s (s in field b as f32
 * bits);  x = cap * tanh(x / cap) (cap in field b). out may alias a. */
struct args_elementwise { uint32_t a, b, out, n; };

/* In-place softmax of n_rows rows of n floats. */
struct args_softmax { uint32_t x, n, n_rows; };

uint32_t hearth_abi_version(void);
uint32_t hearth_act_row_bytes(uint32_t wtype, uint32_t k);
void hearth_run(uint32_t op, const void *args, uint32_t ith, uint32_t nth);
void hearth_run_ref(uint32_t op, const void *args, uint32_t ith, uint32_t nth);

#endif
