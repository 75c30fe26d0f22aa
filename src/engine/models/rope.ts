/**
 * RoPE angles, computed on the host with llama.cpp's float arithmetic: theta starts at the position (as a float) and is
 * multiplied by theta_scale = powf(base, -2/n_rot) once per pair, in float, divided by the pair's frequency factor
 * (rope_freqs) if the model has one, then scaled by freq_scale. cos/sin are glibc's sincosf, bit for bit (sincosf.ts: not
 * correctly rounded, and llama.cpp's table comes from it). The kernel only rotates.
 */
import { sinCosF32 } from './sincosf.ts';

const f = Math.fround;

export interface RopeParams {
  nRot: number;
  base: number;
  /** 1 / linear scaling factor (1 = none). */
  freqScale: number;
  /** Per-pair divisors (llama3 `rope_freqs`, gemma4 proportional rope); length nRot/2. */
  freqFactors?: Float32Array;
}

/** Fill out[t * nRot + 2i], out[t * nRot + 2i + 1] with (cos, sin) of pair i at positions[t]. */
export function ropeCosSin(params: RopeParams, positions: ArrayLike<number>, out: Float32Array): void {
  const { nRot, freqFactors } = params;
  const half = nRot / 2;
  const thetaScale = f(Math.pow(params.base, f(-2 / nRot)));
  const freqScale = f(params.freqScale);
  for (let t = 0; t < positions.length; t++) {
    let theta = f(positions[t]);
    const row = t * nRot;
    for (let i = 0; i < half; i++) {
      const ff = freqFactors ? freqFactors[i] : 1;
      const angle = f(freqScale * f(theta / ff));
      sinCosF32(angle, out, row + 2 * i);
      theta = f(theta * thetaScale);
    }
  }
}
