/**
 * Gemma 4's encoder-free projectors run in the core, op for op as llama.cpp's clip graphs build them:
 *
 * gemma4uv (spec gemma4.md §8.4), per 48×48 patch (6912 values, CHW order):
 *   LayerNorm(eps 1e-5; patch_norm.1) → patch_embd · z + bias → LayerNorm(patch_norm.2) → + T_x[col] then + T_y[row]
 *   → LayerNorm(patch_norm.3) → weightless RMSNorm (clip eps) → mm.input_projection.
 * gemma4ua (§9.2), per 640-sample frame: weightless RMSNorm (eps 1e-6, hard-coded by llama.cpp) → mm.a.input_projection.
 *
 * Every step works on each row alone (the matmul kernels give a column the same numbers whatever the batch), so
 * rows go through in chunks of CHUNK: the scratch stays small whatever the image size, and the results do not
 * depend on the chunking.
 *
 * Matmul numerics: llama.cpp runs each image / audio clip as one graph, so a projection sees a batch of all its rows.
 * For F32/F16 weights with a batch of ≥ 2 (and rows % 4 == 0, k % 8 == 0) its CPU backend takes the tinyBLAS gemm,
 * whose lane order differs from the one-column dot product: matmulTiled reproduces it; a single row takes the
 * ordinary kernel (ggml_vec_dot). Quantized weights use the ordinary kernels (exact for Q4_1/Q5_K/Q6_K, whose batches
 * llama.cpp also computes column by column; Q8_0/Q4_0/BF16 batches go through tinyBLAS there: last-bit differences).
 */
import type { Kernels } from '../models/kernels.ts';
import type { Weight } from '../models/model.ts';
import { AUDIO_FRAME, type MmprojConfig, PATCH_VALUES } from './mmproj.ts';

const CHUNK = 32;
/** PyTorch LayerNorm's default, hard-coded in llama.cpp's gemma4uv graph. */
const LN_EPS = 1e-5;
/** llama.cpp's gemma4ua graph uses 1e-6 whatever the file says. */
const AUDIO_RMS_EPS = 1e-6;

export interface ProjectorWeights {
  ln1: [number, number];
  patchEmbd: Weight;
  patchBias: number;
  ln2: [number, number];
  /** The x and y position tables (F32 rows of embd). */
  posX: Weight;
  posY: Weight;
  ln3: [number, number];
  inputProj: Weight;
  audioProj: Weight;
}

/** y = W·x for m of a projection's `total` rows, as llama.cpp's CPU backend computes that batch (see above). */
function project(core: Kernels, w: Weight, x: number, m: number, y: number, total: number): void {
  const float = w.type === 0 || w.type === 1;
  if (float && total >= 2 && w.rows % 4 === 0 && w.cols % 8 === 0) core.matmulTiled(w, x, m, y);
  else core.matmul(w, x, m, y);
}

export class Gemma4Projector {
  private readonly s: { input: number; h: number; t: number; out: number; ids: number };

  constructor(
    private readonly core: Kernels,
    readonly config: MmprojConfig,
    private readonly group: number,
    private readonly w: Partial<ProjectorWeights>,
  ) {
    const E = (config.vision ?? config.audio)!.embd;
    const inWidth = config.vision ? PATCH_VALUES : AUDIO_FRAME;
    const a = (bytes: number) => core.alloc(Math.max(64, bytes));
    this.s = { input: a(CHUNK * inWidth * 4), h: a(CHUNK * E * 4), t: a(CHUNK * E * 4), out: a(CHUNK * E * 4), ids: a(CHUNK * 4) };
  }

  get embd(): number {
    return (this.config.vision ?? this.config.audio)!.embd;
  }

  /**
   * Image embeddings for `rows` patches (rows × 6912 values, patch k at grid column k % cols, row k / cols), one row
   * of embd per patch.
   */
  projectImage(patches: Float32Array, rows: number, cols: number): Float32Array {
    const v = this.config.vision;
    const w = this.w as ProjectorWeights;
    if (!v) throw new RangeError('this mmproj has no vision projector');
    if (patches.length !== rows * PATCH_VALUES) throw new RangeError(`image input has ${patches.length} values, expected ${rows} × ${PATCH_VALUES}`);
    if (!Number.isInteger(cols) || cols < 1 || rows % cols !== 0) throw new RangeError(`image grid: ${rows} patches do not make rows of ${cols}`);
    if (cols > v.posRows || rows / cols > v.posRows) throw new RangeError(`image grid ${cols}×${rows / cols} exceeds the position tables (${v.posRows})`);
    const { core, s } = this;
    const E = v.embd;
    const out = new Float32Array(rows * E);
    core.use(this.group);
    for (let r0 = 0; r0 < rows; r0 += CHUNK) {
      const m = Math.min(CHUNK, rows - r0);
      core.f32(s.input, m * PATCH_VALUES).set(patches.subarray(r0 * PATCH_VALUES, (r0 + m) * PATCH_VALUES));
      core.layerNorm(s.input, w.ln1[0], w.ln1[1], s.input, PATCH_VALUES, m, LN_EPS);
      project(core, w.patchEmbd, s.input, m, s.h, rows);
      for (let i = 0; i < m; i++) core.add(s.h + i * E * 4, w.patchBias, s.h + i * E * 4, E);
      core.layerNorm(s.h, w.ln2[0], w.ln2[1], s.h, E, m, LN_EPS);
      const ids = core.i32(s.ids, m);
      for (let i = 0; i < m; i++) ids[i] = (r0 + i) % cols;
      core.getRows(w.posX, s.ids, m, s.t);
      core.add(s.h, s.t, s.h, m * E);
      for (let i = 0; i < m; i++) ids[i] = Math.floor((r0 + i) / cols);
      core.getRows(w.posY, s.ids, m, s.t);
      core.add(s.h, s.t, s.h, m * E);
      core.layerNorm(s.h, w.ln3[0], w.ln3[1], s.h, E, m, LN_EPS);
      core.rmsNorm(s.h, 0, s.h, E, m, v.rmsEps);
      project(core, w.inputProj, s.h, m, s.out, rows);
      out.set(core.f32(s.out, m * E), r0 * E);
    }
    return out;
  }

  /** Audio embeddings for `rows` frames of 640 samples (16 kHz mono, the last zero-padded). */
  projectAudio(frames: Float32Array, rows: number): Float32Array {
    const a = this.config.audio;
    const w = this.w as ProjectorWeights;
    if (!a) throw new RangeError('this mmproj has no audio projector');
    if (frames.length !== rows * AUDIO_FRAME) throw new RangeError(`audio input has ${frames.length} values, expected ${rows} × ${AUDIO_FRAME}`);
    const { core, s } = this;
    const E = a.embd;
    const out = new Float32Array(rows * E);
    core.use(this.group);
    for (let r0 = 0; r0 < rows; r0 += CHUNK) {
      const m = Math.min(CHUNK, rows - r0);
      core.f32(s.input, m * AUDIO_FRAME).set(frames.subarray(r0 * AUDIO_FRAME, (r0 + m) * AUDIO_FRAME));
      core.rmsNorm(s.input, 0, s.input, AUDIO_FRAME, m, AUDIO_RMS_EPS);
      project(core, w.audioProj, s.input, m, s.out, rows);
      out.set(core.f32(s.out, m * E), r0 * E);
    }
    return out;
  }
}
