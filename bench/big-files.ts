/**
 * npx tsx bench/big-files.ts [--dir DIR] [--which both|llama|gemma4|media]
 *
 * The 12B-class files the memory and speed benches use, written once with fast random Q4_0 blocks
 * (test/helpers/fast-weights.ts): a llama-architecture file with Gemma-4-12B-class dims (hidden 3840, 48 layers,
 * FFN 15360, 16 heads / 8 KV heads, vocab 262144) and a Gemma-4-12B-shaped file (spec gemma4.md §2, §4).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gemma4Presets, makeSyntheticGemma4 } from '../src/engine/gguf/synthetic-gemma4.ts';
import { makeSyntheticMmproj, withMediaTokens } from '../src/engine/gguf/synthetic-mmproj.ts';
import { makeSyntheticLlama } from '../src/engine/gguf/synthetic.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { withFastWeights, writeOnce } from '../test/helpers/fast-weights.ts';

export const bigDir = process.env.HEARTH_BIG_DIR ?? '/tmp/hearth-big';

export function llama12bPath(dir = bigDir): Promise<string> {
  return writeOnce(
    join(dir, 'llama-12b-class-q4_0.gguf'),
    withFastWeights(
      makeSyntheticLlama({ type: GGML_TYPE.Q4_0, embd: 3840, layers: 48, heads: 16, kvHeads: 8, ff: 15360, vocab: 262144, ctx: 4096, seed: 3 }),
    ),
  );
}

export function gemma4_12bPath(dir = bigDir): Promise<string> {
  return writeOnce(join(dir, 'gemma4-12b-q4_0.gguf'), withFastWeights(makeSyntheticGemma4(gemma4Presets['12b-full'])));
}

/** The same Gemma-4-12B-shaped model with Gemma 4's media tokens in its vocabulary (for the multimodal bench). */
export function gemma4_12bMediaPath(dir = bigDir): Promise<string> {
  return writeOnce(join(dir, 'gemma4-12b-media-q4_0.gguf'), withFastWeights(withMediaTokens(makeSyntheticGemma4(gemma4Presets['12b-full']))));
}

/** A 12B-shaped mmproj beside it: both projectors, F16 as the converter writes an F16 projector. */
export function mmproj12bPath(dir = bigDir): Promise<string> {
  return writeOnce(
    join(dir, 'gemma4-12b-media-q4_0-mmproj.gguf'),
    makeSyntheticMmproj({ embd: 3840, vision: true, audio: true, seed: 12, patchType: GGML_TYPE.F16, projType: GGML_TYPE.F16, audioProjType: GGML_TYPE.F16 }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { dir: { type: 'string', default: bigDir }, which: { type: 'string', default: 'both' } } });
  if (values.which !== 'gemma4') console.log(await llama12bPath(values.dir));
  if (values.which !== 'llama' && values.which !== 'media') console.log(await gemma4_12bPath(values.dir));
  if (values.which === 'media') console.log(await gemma4_12bMediaPath(values.dir), await mmproj12bPath(values.dir));
}
