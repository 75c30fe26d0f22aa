/* hearth core: the flat C ABI between the TypeScript engine and the wasm kernels.
 *
 * Every parallel operation is one entry of the op table below. The host writes the op's argument struct into wasm
 * memory and calls hearth_run(op, args, ith, nth) once per thread (ith = 0..nth-1); the kernel itself decides how
 * to split its work by ith/nth (rows for matmul, (token, head) pairs for attention, ...). Splits never change the
 * math of one output element, so results are bit-identical for every nth. Results for one output column are also
 * bit-identical whatever n_cols is: a token scored inside a prompt chunk or a speculative batch gets the same
 * numbers as when it is scored alone. The baseline (SIMD128) and relaxed-SIMD builds give bit-identical results.
 *
 * hearth_run_ref(...) runs the plain scalar twin of every kernel with the same arguments (tests hold the two
 * together, bit for bit).
 *
 * All argument fields are 4 bytes (pointers are wasm32 offsets into the shared memory), so the host fills them with
 * one Uint32Array/Int32Array/Float32Array view. Field order is the ABI: change it here and in src/core/ops.ts together.
 * Layouts: a "row" is contiguous; activations are token-major ([n_tokens][width]).
 *
 * Exports besides the functions below: `__heap_base` (first free byte above static data and the first instance's
 * stack) and `__stack_pointer` (mutable i32 global). Every extra instance over the same memory (one per pool worker)
 * must get its own stack: the host sets `__stack_pointer` to the top of a 16-byte aligned region of at least
 * HEARTH_STACK_BYTES before its first call. The core keeps no other per-thread state.
 */
#ifndef HEARTH_H
#define HEARTH_H

#include <stdint.h>
#include <stddef.h>

#define HEARTH_ABI_VERSION 4
#define HEARTH_STACK_BYTES 65536

/* hearth_tune(flags): code-shape choices the host makes for its JS engine's compiler. They never change a result,
 * only which of two equivalent loops runs. Set once, before any op (the flags live in the shared memory).
 * HEARTH_TUNE_Q4_0_ONE_BLOCK: the 1-column Q4_0 tile takes one block per iteration instead of two (faster on
 * Node 20's V8, slower on newer ones; matmul_q.c). */
#define HEARTH_TUNE_Q4_0_ONE_BLOCK 1u
/* HEARTH_TUNE_PIN: the Q8_0 / Q4_1 and Q4_K / Q5_K matvecs tie each block's arithmetic down with a store (PIN in
 * internal.h): Node 20's V8 runs them 13-17% faster so, newer ones 11-17% slower. */
#define HEARTH_TUNE_PIN 2u

/* ggml tensor type ids (spec gguf.md §2) */
enum hearth_type {
    HT_F32 = 0, HT_F16 = 1, HT_Q4_0 = 2, HT_Q4_1 = 3, HT_Q8_0 = 8,
    HT_Q4_K = 12, HT_Q5_K = 13, HT_Q6_K = 14, HT_BF16 = 30,
    /* hearth's own, not a ggml id: Q4_0 with its rows interleaved in groups of 4 (the loader repacks Q4_0 tensors so):
     * group g (rows 4g..4g+3) takes bytes [4g * rb, (4g + 4) * rb) of the tensor (rb = k / 32 * 18), and block b of
     * its row 4g + i sits at 72 * b + 18 * i there; the n_rows % 4 rows after the last group keep the plain layout.
     * The 4-row tile then reads one sequential stream instead of 4 interleaved ones, which this CPU's prefetchers
     * follow (1-column matvec from DRAM: 8.6 -> 16 GB/s on one thread). Same numerics as Q4_0. */
    HT_Q4_0_X4 = 64,
};
/* hearth_interleave_q4_0(w, k, n_rows): rewrite a Q4_0 matrix at w in place as HT_Q4_0_X4; 0 (nothing done) when k
 * is not a multiple of 32 or is over this (such a matrix stays Q4_0). */
#define HEARTH_INTERLEAVE_MAX_K 65536

enum hearth_op {
    OP_QUANTIZE_ACT = 1, /* split: columns */
    OP_MATMUL       = 2, /* split: output rows */
    OP_GET_ROWS     = 3, /* split: ids */
    OP_RMS_NORM     = 4, /* split: rows */
    OP_ROPE         = 5, /* split: (token, head) pairs */
    OP_KV_STORE     = 6, /* split: tokens */
    OP_ATTENTION    = 7, /* split: (token, head) pairs */
    OP_SILU_MUL     = 8, /* split: element chunks (all elementwise ops) */
    OP_GELU_MUL     = 9,
    OP_ADD          = 10,
    OP_MUL          = 11,
    OP_SCALE        = 12,
    OP_SOFTMAX      = 13, /* split: rows */
    OP_SOFTCAP      = 14,
    OP_EXP          = 15,
    OP_TANH         = 16,
    OP_LAYER_NORM   = 17, /* split: rows */
    OP_MATMUL_TILED = 18, /* split: output rows */
};

/* Convert n_cols activation columns (f32, x + j*k) into the format the weight type's dot product wants, written at
 * xq + j*hearth_act_row_bytes(wtype, k) (a multiple of 16): 8-bit blocks for the quantized types, the f16/bf16-rounded
 * values for F16/BF16, a copy for F32. The quants and scales are exactly those of llama.cpp's x86 CPU backend
 * (Q8_0: d = amax/127, q = round-half-even(x * (127/amax)), d stored as f16; Q8_1 for Q4_1: the same plus
 * s = f16(d * sum q); Q8_K for the K-quants: quantize_row_q8_K_ref). The byte layout is internal to the core (it
 * differs between the baseline and relaxed builds) and is only read by OP_MATMUL of the same build. */
struct args_quantize_act { uint32_t wtype, x, xq, k, n_cols; };

/* y[j*y_stride + r] = dot(W row r, activation column j) for r < n_rows, j < n_cols.
 * W has n_rows rows of k elements of wtype (k a multiple of the block size); xq as produced by OP_QUANTIZE_ACT.
 * Numerics: those of llama.cpp's AVX2 CPU backend (the haswell build node-llama-cpp runs on x86 without AVX-512),
 * with its FMAs emulated exactly. Quantized types take exact integer dots and accumulate them block after block:
 * Q8_0, Q4_1, Q5_K, Q6_K as ggml_vec_dot_* (8 int lanes of 4 consecutive products, 8 float lanes updated with
 * fma(lane, d_w * d_x, acc), hsum_float_8 at the end; Q4_1 adds fma-accumulated m_w * s_x, Q5_K its mins);
 * Q4_0 and Q4_K as the gemv of llama.cpp's repacked layout (one fma per block / super-block; Q4_K's mins in a second
 * sum subtracted at the end). Details in matmul_q.c / matmul_k.c. F32/F16/BF16 follow ggml_vec_dot_{f32,f16,bf16}
 * exactly (4x8 lanes, the same reductions, leftovers in double for F16/BF16), except that F32 products are rounded
 * before the add (no FMA). The result for a column never depends on n_cols: llama.cpp's own batched paths differ
 * for F32/F16/BF16 (tinyBLAS) and Q4_K (its gemm adds one fma per 64 values), we keep its single-token numbers.
 * next: the caller writes 0; the threads of a pool take chunks of rows from it (an atomic counter), so a thread on a
 * slower core takes fewer rows instead of holding the others at the barrier. A row's result never depends on which
 * thread or chunk computed it. */
struct args_matmul { uint32_t wtype, w, k, n_rows, xq, n_cols, y, y_stride, next; };

/* OP_MATMUL_TILED takes args_matmul too, for F32 and F16 weights with k a multiple of 8: the numerics of llama.cpp's
 * batched float gemm on x86 (llamafile tinyBLAS, 8 lanes of fma over k mod 8, then hsum_float_8), which it uses for
 * a batch of >= 2 columns when n_rows % 4 == 0. For reproducing llama.cpp's multimodal projector graphs, where
 * each image is one batch; details in matmul_tinyblas.c. */

/* out[j*k ...] = row ids[j] of W (n_rows rows), dequantized to f32 (embedding lookup) with the float math of
 * spec gguf.md §3. An id outside 0..n_rows-1 gives a row of zeros. */
struct args_get_rows { uint32_t wtype, w, k, ids, n, out, n_rows; };

/* out row = (x row * 1/sqrtf(mean(x^2) + eps)) * w, the sum of squares in double, as ggml does; w may be 0 (none).
 * x and out rows are k floats apart; out may equal x. */
struct args_rms_norm { uint32_t x, w, out, k, n_rows; float eps; };

/* out row = ((x - mean) * 1/sqrtf(var + eps)) * w + b (LayerNorm, as ggml_norm then ggml_mul, ggml_add on the AVX2
 * build: element sum in double; squares of the differences reduced 8 at a time in float as AVX2's horizontal add,
 * the group sums accumulated in double; details in layer_norm.c). w and b may be 0 (none); out may equal x. */
struct args_layer_norm { uint32_t x, w, b, out, k, n_rows; float eps; };

/* Rotate, in place, the first n_rot dims of each head of x ([n_tokens] rows of x_stride floats, n_heads heads of
 * head_dim each). cos_sin holds [n_tokens][n_rot/2] (cos, sin) pairs computed by the host. mode 0 = NORM (pairs 2i,
 * 2i+1), mode 2 = NEOX (pairs i, i + n_rot/2). Per pair, as the AVX2 build of llama.cpp computes it (gcc contracts
 * it into FMAs): x0' = fma(x0, cos, -(x1*sin)), x1' = fma(x0, sin, x1*cos). */
struct args_rope { uint32_t x, n_tokens, n_heads, head_dim, n_rot, x_stride, cos_sin, mode; };

/* Store n_tokens f32 rows (width floats each, src + t*src_stride) into an f16 cache at the int32 cells[t] (negative:
 * skipped), rounding to nearest even as ggml's f32 -> f16 copy. v_stride == 0: row layout, element i of cell c at
 * dst + c*width + i (the K cache). v_stride > 0: transposed, element i of cell c at dst + i*v_stride + c (the V
 * cache, as llama.cpp keeps it without flash attention; v_stride = the cache's cell capacity). */
struct args_kv_store { uint32_t src, src_stride, dst, width, n_tokens, cells, v_stride; };

#define HEARTH_ATTN_NONCAUSAL 1u /* flags bit: cells after the query position are visible (bidirectional blocks) */
/* flags bit: K·q and V·p summed in the order of llama.cpp's batched F16 gemm (tinyBLAS: 8 lanes over i mod 8, then
 * hsum_float_8) instead of ggml_vec_dot_f16's, where its shape conditions hold (head dim and n_cells multiples of 8).
 * llama.cpp computes every batch of >= 2 query rows that way; hearth uses it only where a block is always one batch
 * in llama.cpp too (an image), so token results never depend on how a prompt was chunked. */
#define HEARTH_ATTN_TILED 2u

/* Attention over an f16 KV cache, as llama.cpp's non-flash CPU path computes it (build_attn_mha, soft_max_ext):
 *   q (f32, token t head h at q + t*q_stride + h*head_dim_k) is rounded to f16; s_c = ggml_vec_dot_f16(K_c, q);
 *   if softcap > 0: s = tanhf(s * (1/softcap)) * softcap;  s = s * scale;
 *   a cell is masked (-inf) when cell_pos[c] < 0, when cell_pos[c] > q_pos[t] (unless flags has
 *   HEARTH_ATTN_NONCAUSAL), or when window > 0 and q_pos[t] - cell_pos[c] >= window;
 *   p = softmax(s) as OP_SOFTMAX (ggml_v_expf over groups of 8 cells summed in float then in double, expf for the
 *   last n_cells % 8, max-subtracted); p is rounded to f16;
 *   out[t*out_stride + h*head_dim_v + d] = ggml_vec_dot_f16 over the n_cells cells of (V[d], p).
 * K (row layout): cell c, kv head g at k_cache + (c*n_head_kv + g)*head_dim_k halves.
 * V (transposed, see OP_KV_STORE): kv head g, dim d, cell c at v_cache + (g*head_dim_v + d)*v_stride + c halves.
 * Query head h reads kv head h / (n_head / n_head_kv). cell_pos: int32[n_cells]; q_pos: int32[n_tokens].
 * Cells that are empty must hold finite values (zeros), as llama.cpp clears its cache: their p is 0.
 * scratch: hearth_attention_scratch_bytes(n_cells, head_dim_k, head_dim_v) bytes per thread, thread ith at
 * scratch + ith * that. */
struct args_attention {
    uint32_t q, q_stride, k_cache, v_cache, out, out_stride;
    uint32_t n_tokens, n_head, n_head_kv, head_dim_k, head_dim_v;
    uint32_t n_cells, cell_pos, q_pos;
    float scale; int32_t window; float softcap;
    uint32_t scratch, flags, v_stride;
};

/* Elementwise on n floats (out may alias a):
 *   SILU_MUL: out = silu(a) * b, silu as ggml_v_silu (ggml_v_expf); the last n % 8 elements use expf, as
 *             ggml_vec_swiglu_f32 does for a row of n;
 *   GELU_MUL: out = gelu_tanh(a) * b through ggml's f16 table semantics (GGML_GELU_FP16): a <= -10 -> 0,
 *             a >= 10 -> a * b, else f32(f16(gelu(f32(f16(a))))) * b;
 *   ADD, MUL: a + b, a * b;   SCALE: a * s (s in field b as f32 bits);
 *   SOFTCAP: out = tanhf(a * (1/cap)) * cap (cap in field b as f32 bits), as llama.cpp's scale/tanh/scale;
 *   EXP, TANH: expf(a), tanhf(a) (b unused; correctly rounded except in rare cases, always within 1 ulp). */
struct args_elementwise { uint32_t a, b, out, n; };

/* In-place softmax of n_rows rows of n floats (ggml_soft_max with scale 1 and no mask). */
struct args_softmax { uint32_t x, n, n_rows; };

uint32_t hearth_abi_version(void);
/* Bytes of one activation column after OP_QUANTIZE_ACT for wtype and k (0 for an unsupported type). */
uint32_t hearth_act_row_bytes(uint32_t wtype, uint32_t k);
uint32_t hearth_attention_scratch_bytes(uint32_t n_cells, uint32_t head_dim_k, uint32_t head_dim_v);
void hearth_run(uint32_t op, const void *args, uint32_t ith, uint32_t nth);
void hearth_run_ref(uint32_t op, const void *args, uint32_t ith, uint32_t nth);

#endif
