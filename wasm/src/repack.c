/* The loader's repack of Q4_0 matrices into HT_Q4_0_X4 (hearth.h): rows interleaved in groups of 4, in place. */
#include "internal.h"

/* one group (4 rows) at a time; the host calls this from one thread, before any op runs on the matrix */
static uint8_t group_copy[4 * (HEARTH_INTERLEAVE_MAX_K / 32) * 18];

EXPORT(hearth_interleave_q4_0)
uint32_t hearth_interleave_q4_0(uint32_t w, uint32_t k, uint32_t n_rows) {
    if (k == 0 || k % 32 || k > HEARTH_INTERLEAVE_MAX_K) return 0;
    uint32_t nb = k / 32;
    size_t rb = (size_t)nb * 18;
    uint8_t *p = (uint8_t *)(uintptr_t)w;
    for (uint32_t g = 0; g + 4 <= n_rows; g += 4) {
        __builtin_memcpy(group_copy, p + (size_t)g * rb, 4 * rb);
        for (uint32_t i = 0; i < 4; i++)
            for (uint32_t b = 0; b < nb; b++)
                __builtin_memcpy(p + grouped_block_offset(g + i, b, n_rows, 4, nb, 18), group_copy + i * rb + (size_t)b * 18, 18);
    }
    return 1;
}
