/* The one table that drives every weight type (STYLE.md "ggml: one table drives every weight type"): block layout,
 * the activation format its dot product wants, and its kernels. Adding a type means adding a row here. */
#include "internal.h"

static const struct weight_traits table_f32 = { 1, 4, 1, ACT_F32, matmul_f32, matmul_f32_ref, dequant_f32, dequant_f32 };
static const struct weight_traits table_f16 = { 1, 2, 1, ACT_F16, matmul_f16, matmul_f16_ref, dequant_f16, dequant_f16_ref };
static const struct weight_traits table_bf16 = { 1, 2, 1, ACT_BF16, matmul_bf16, matmul_bf16_ref, dequant_bf16, dequant_bf16_ref };
static const struct weight_traits table_q4_0 = { 32, 18, 1, ACT_Q8_0, matmul_q4_0, matmul_q4_0_ref, dequant_q4_0, dequant_q4_0_ref };
static const struct weight_traits table_q4_0x4 = { 32, 18, 4, ACT_Q8_0, matmul_q4_0x4, matmul_q4_0x4_ref, dequant_q4_0, dequant_q4_0_ref };
static const struct weight_traits table_q4_1 = { 32, 20, 1, ACT_Q8_1, matmul_q4_1, matmul_q4_1_ref, dequant_q4_1, dequant_q4_1_ref };
static const struct weight_traits table_q8_0 = { 32, 34, 1, ACT_Q8_0W, matmul_q8_0, matmul_q8_0_ref, dequant_q8_0, dequant_q8_0_ref };
static const struct weight_traits table_q4_k = { 256, 144, 1, ACT_Q8_K, matmul_q4_k, matmul_q4_k_ref, dequant_q4_k, dequant_q4_k_ref };
static const struct weight_traits table_q5_k = { 256, 176, 1, ACT_Q8_K, matmul_q5_k, matmul_q5_k_ref, dequant_q5_k, dequant_q5_k_ref };
static const struct weight_traits table_q6_k = { 256, 210, 1, ACT_Q8_K, matmul_q6_k, matmul_q6_k_ref, dequant_q6_k, dequant_q6_k_ref };

const struct weight_traits *weight_traits_of(uint32_t wtype) {
    switch (wtype) {
    case HT_F32: return &table_f32;
    case HT_F16: return &table_f16;
    case HT_BF16: return &table_bf16;
    case HT_Q4_0: return &table_q4_0;
    case HT_Q4_0_X4: return &table_q4_0x4;
    case HT_Q4_1: return &table_q4_1;
    case HT_Q8_0: return &table_q8_0;
    case HT_Q4_K: return &table_q4_k;
    case HT_Q5_K: return &table_q5_k;
    case HT_Q6_K: return &table_q6_k;
    default: return 0;
    }
}

uint32_t act_row_bytes(enum act_format act, uint32_t k) {
    switch (act) {
    case ACT_F32: case ACT_F16: case ACT_BF16: return (k * 4 + 15) & ~15u;
    case ACT_Q8_0: return k * (uint32_t)sizeof(act_t) + 8 * round4(k / 32);
    case ACT_Q8_0W: return k * (uint32_t)sizeof(act_t) + 8 * round4(k / 32) + (RELAXED ? 2 * k : 0);
    case ACT_Q8_1: return k * (uint32_t)sizeof(act_t) + 8 * round4(k / 32);
    case ACT_Q8_K: return k * (uint32_t)sizeof(act_t) + 4 * round4(k / 256) + k / 8 + k / 16;
    default: return 0;
    }
}

quantize_fn act_quantizer(enum act_format act, int ref) {
    switch (act) {
    case ACT_F32: return quantize_f32;
    case ACT_F16: return ref ? quantize_f16_ref : quantize_f16;
    case ACT_BF16: return ref ? quantize_bf16_ref : quantize_bf16;
    case ACT_Q8_0: return ref ? quantize_q8_0_ref : quantize_q8_0;
    case ACT_Q8_0W: return ref ? quantize_q8_0w_ref : quantize_q8_0w;
    case ACT_Q8_1: return ref ? quantize_q8_1_ref : quantize_q8_1;
    case ACT_Q8_K: return ref ? quantize_q8_k_ref : quantize_q8_k;
    default: return 0;
    }
}

EXPORT(hearth_abi_version) uint32_t hearth_abi_version(void) { return HEARTH_ABI_VERSION; }

EXPORT(hearth_act_row_bytes) uint32_t hearth_act_row_bytes(uint32_t wtype, uint32_t k) {
    const struct weight_traits *t = weight_traits_of(wtype);
    if (!t || k % t->block_size) return 0;
    return act_row_bytes(t->act, k);
}
