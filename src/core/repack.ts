/**
 * Weight layouts the core runs faster than the file's: a Q4_0 matrix of 4 rows or more is repacked at load into
 * Q4_0_X4 (wasm/hearth.h), its rows interleaved in groups of 4, so the 4-row tile streams one sequential run of
 * blocks instead of 4 interleaved ones. The CPU's prefetchers keep up with one: a matvec from DRAM runs ~1.8x
 * faster. Numerics are unchanged (the same blocks meet the same activations in the same order). The repack itself
 * is the core's (hearth_interleave_q4_0), which the loader runs through Kernels.interleaveQ4_0.
 */
import { INTERLEAVE_MAX_K, WeightType } from './types.ts';

/** The type a matrix (k columns, `rows` rows) runs as once loaded. */
export function loadedType(type: number, k: number, rows: number): number {
  return type === WeightType.Q4_0 && rows >= 4 && k % 32 === 0 && k <= INTERLEAVE_MAX_K ? WeightType.Q4_0_X4 : type;
}
