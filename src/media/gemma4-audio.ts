/**
 * Gemma 4 `gemma4ua` audio preprocessing (spec gemma4.md §9.2, llama.cpp `mtmd_audio_preprocessor_gemma4ua`):
 * the 16 kHz mono waveform cut into 640-sample (40 ms) frames, the last one zero-padded. No mel, no normalisation,
 * no 30 s chunking. Frames are laid out frame-major here (frame t = data[t·640 … t·640+639]); llama.cpp stores the
 * same values transposed and transposes them back in the graph.
 */
export const AUDIO_FRAME = 640;

export interface AudioFrames {
  frames: number;
  /** frames × 640, zero-padded at the end. */
  data: Float32Array;
}

export function audioFrames(pcm: Float32Array): AudioFrames {
  const frames = Math.ceil(pcm.length / AUDIO_FRAME);
  const data = new Float32Array(frames * AUDIO_FRAME);
  data.set(pcm);
  return { frames, data };
}
