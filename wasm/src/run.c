/* hearth_run / hearth_run_ref: decode the op, hand this thread its slice. Invalid arguments (unknown op or type,
 * k not a multiple of the block size) do nothing rather than trap: the TypeScript side validates and reports. */
#include "internal.h"

#if RELAXED
/* 0: not yet tested, 1: relaxed_madd is fused here, 2: it is not. Every thread computes the same answer on the
 * same machine, so racing first calls only store the same value twice. */
static int fma_state;

/* Lanes where a multiply-then-add rounds differently from the fused result (e.g. (1 + 2^-12)^2 - 1, whose exact
 * product has a 2^-24 term that separate rounding drops), checked bit for bit against the exact emulation. Inputs
 * are volatile so the compiler cannot fold the probe. */
static int fma_probe(void) {
    static volatile float in[3][8] = {
        { 1.000244140625f, 0.1f, 3.0f, -1.0000001f, 16777215.0f, 1.5f, 0.3333333f, 1e-3f },
        { 1.000244140625f, 10.0f, 0.33333334f, 1.0000001f, 1.0000001f, 1.0000001f, 3.0f, 1e3f },
        { -1.0f, -1.0f, -1.0f, 1.0f, -16777215.0f, -1.5f, -1.0f, -1.0f },
    };
    for (int h = 0; h < 8; h += 4) {
        v128 a = wasm_f32x4_make(in[0][h], in[0][h + 1], in[0][h + 2], in[0][h + 3]);
        v128 b = wasm_f32x4_make(in[1][h], in[1][h + 1], in[1][h + 2], in[1][h + 3]);
        v128 c = wasm_f32x4_make(in[2][h], in[2][h + 1], in[2][h + 2], in[2][h + 3]);
        v128 diff = wasm_v128_xor(wasm_f32x4_relaxed_madd(a, b, c), f32x4_fma(a, b, c));
        if (wasm_v128_any_true(diff)) return 0;
    }
    return 1;
}

int fma_fused(void) {
    int s = __atomic_load_n(&fma_state, __ATOMIC_RELAXED);
    if (s == 0) {
        s = fma_probe() ? 1 : 2;
        __atomic_store_n(&fma_state, s, __ATOMIC_RELAXED);
    }
    return s == 1;
}
#else
int fma_fused(void) { return 0; }
#endif

/* 1 when the relaxed integer dot the kernels use (dot_i8_u7) gives exact sums here, on the extremes of its operand
 * ranges and mixed signs; 0 in the baseline build. The host runs it before choosing the relaxed build where relaxed
 * SIMD is an experimental flag (Node 20). */
EXPORT(hearth_relaxed_selftest) uint32_t hearth_relaxed_selftest(void) {
#if RELAXED
    static volatile int8_t a[64];
    static volatile uint8_t b[64];
    for (int i = 0; i < 64; i++) {
        a[i] = (int8_t)(i < 16 ? -128 : i < 32 ? 127 : (i * 37) % 256 - 128);
        b[i] = (uint8_t)(i < 32 ? 127 : (i * 53) % 128);
    }
    for (int v = 0; v < 4; v++) {
        int8_t av[16];
        uint8_t bv[16];
        for (int i = 0; i < 16; i++) { av[i] = a[16 * v + i]; bv[i] = b[16 * v + i]; }
        int32_t got[4];
        wasm_v128_store(got, dot_i8_u7(wasm_v128_load(av), wasm_v128_load(bv)));
        for (int l = 0; l < 4; l++) {
            int32_t want = 0;
            for (int k = 0; k < 4; k++) want += av[4 * l + k] * bv[4 * l + k];
            if (got[l] != want) return 0;
        }
    }
    return 1;
#else
    return 0;
#endif
}

uint32_t hearth_tune_flags;
EXPORT(hearth_tune) void hearth_tune(uint32_t flags) { hearth_tune_flags = flags; }

/* 1 when this core's kernels use a hardware fused multiply-add (relaxed build on an FMA3 CPU), for the host to log. */
EXPORT(hearth_fma_fused) uint32_t hearth_fma_fused(void) { return (uint32_t)fma_fused(); }

static void quantize_act(const struct args_quantize_act *a, uint32_t ith, uint32_t nth, int ref) {
    const struct weight_traits *t = weight_traits_of(a->wtype);
    if (!t || a->k == 0 || a->k % t->block_size) return;
    quantize_fn q = act_quantizer(t->act, ref);
    uint32_t col_bytes = act_row_bytes(t->act, a->k), j0, j1;
    split_range(a->n_cols, ith, nth, &j0, &j1);
    for (uint32_t j = j0; j < j1; j++)
        q((const float *)(uintptr_t)a->x + (size_t)j * a->k, (uint8_t *)(uintptr_t)a->xq + (size_t)j * col_bytes, a->k);
}

/* Rows handed out per take: about 8 takes per thread, a multiple of 16 (whole 4-row tiles, and cache lines of y)
 * and at least 64 rows, so the atomic add and a chunk's start-up stay small against its work. On a shared VM one
 * core can run SIMD code 1.5x slower than the other for minutes (measured here); an even split leaves the faster
 * thread waiting for that long. */
static uint32_t matmul_chunk_rows(uint32_t n_rows, uint32_t nth) {
    uint32_t c = (n_rows / (nth * 8) + 15) & ~15u;
    return c < 64 ? 64 : c;
}

static void matmul(const struct args_matmul *a, uint32_t ith, uint32_t nth, int ref) {
    const struct weight_traits *t = weight_traits_of(a->wtype);
    if (!t || a->k == 0 || a->k % t->block_size || a->n_cols == 0) return;
    matmul_fn f = ref ? t->matmul_ref : t->matmul;
    if (nth == 1) {
        if (a->n_rows) f(a, 0, a->n_rows);
        return;
    }
    (void)ith;
    uint32_t chunk = matmul_chunk_rows(a->n_rows, nth), n_chunks = (a->n_rows + chunk - 1) / chunk;
    uint32_t *next = (uint32_t *)(uintptr_t)&a->next;
    for (uint32_t c; (c = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED)) < n_chunks;)
        f(a, c * chunk, min_u32(a->n_rows, (c + 1) * chunk));
}

static void get_rows(const struct args_get_rows *a, uint32_t ith, uint32_t nth, int ref) {
    const struct weight_traits *t = weight_traits_of(a->wtype);
    if (!t || a->k == 0 || a->k % t->block_size) return;
    dequant_row_fn f = ref ? t->dequant_ref : t->dequant;
    uint32_t row_bytes = a->k / t->block_size * t->block_bytes, i0, i1;
    const int32_t *ids = (const int32_t *)(uintptr_t)a->ids;
    split_range(a->n, ith, nth, &i0, &i1);
    uint32_t nb = a->k / t->block_size, g = t->group_rows;
    const uint8_t *w = (const uint8_t *)(uintptr_t)a->w;
    for (uint32_t i = i0; i < i1; i++) {
        float *out = (float *)(uintptr_t)a->out + (size_t)i * a->k;
        uint32_t id = (uint32_t)ids[i];
        if (id >= a->n_rows) {
            __builtin_memset(out, 0, (size_t)a->k * 4);
        } else if (g > 1 && id < a->n_rows / g * g) { /* an interleaved row (HT_Q4_0_X4): block by block */
            for (uint32_t b = 0; b < nb; b++)
                f(w + grouped_block_offset(id, b, a->n_rows, g, nb, t->block_bytes), out + (size_t)b * t->block_size, t->block_size);
        } else {
            f(w + (size_t)id * row_bytes, out, a->k);
        }
    }
}

static void run(uint32_t op, const void *args, uint32_t ith, uint32_t nth, int ref) {
    if (nth == 0 || ith >= nth) return;
    switch (op) {
    case OP_QUANTIZE_ACT: quantize_act(args, ith, nth, ref); break;
    case OP_MATMUL: matmul(args, ith, nth, ref); break;
    case OP_GET_ROWS: get_rows(args, ith, nth, ref); break;
    case OP_RMS_NORM: rms_norm(args, ith, nth, ref); break;
    case OP_LAYER_NORM: layer_norm(args, ith, nth, ref); break;
    case OP_MATMUL_TILED: matmul_tiled(args, ith, nth, ref); break;
    case OP_ROPE: rope(args, ith, nth, ref); break;
    case OP_KV_STORE: kv_store(args, ith, nth, ref); break;
    case OP_ATTENTION: attention(args, ith, nth, ref); break;
    case OP_SILU_MUL: case OP_GELU_MUL: case OP_ADD: case OP_MUL: case OP_SCALE: case OP_SOFTCAP: case OP_EXP:
    case OP_TANH: elementwise(op, args, ith, nth, ref); break;
    case OP_SOFTMAX: softmax_rows(args, ith, nth, ref); break;
    default: break;
    }
}

EXPORT(hearth_run) void hearth_run(uint32_t op, const void *args, uint32_t ith, uint32_t nth) { run(op, args, ith, nth, 0); }
EXPORT(hearth_run_ref) void hearth_run_ref(uint32_t op, const void *args, uint32_t ith, uint32_t nth) { run(op, args, ith, nth, 1); }
