/**
 * npx tsx bench/multimodal.ts [--dir DIR] [--threads 1,2] [--what image,audio] [--image-tokens 1120] [--seconds 30]
 *
 * Time from request to first token for media prompts on the Gemma-4-12B-shaped synthetic model and a 12B-shaped
 * mmproj (bench/big-files.ts --which media writes both): a large image at the maximum soft-token budget (1920×1344:
 * a 40×28 grid, exactly 1120 soft tokens, no resize) and a 30 s audio clip (750 frames). The clock starts before
 * decoding the file (the HTTP route's work) and stops at the first generated token: decode + preprocessing +
 * projector + prefill of the whole block + the first token. Each thread count loads the model afresh.
 */
import { parseArgs } from 'node:util';
import { defaultSampling } from '../src/engine/api.ts';
import { createEngine } from '../src/engine/engine.ts';
import { encodePng, encodeWav, MEDIA_MARKER, testPicture, testSound } from '../test/fixtures/multimodal/inputs.ts';
import { layoutByHand } from '../test/helpers/media-model.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { loadFile } from '../test/helpers/models.ts';
import { bigDir, gemma4_12bMediaPath, mmproj12bPath } from './big-files.ts';
import { nodeCoreBuild } from '../src/core/node.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: bigDir },
    threads: { type: 'string', default: '1,2' },
    what: { type: 'string', default: 'image,audio' },
    'image-tokens': { type: 'string', default: '1120' },
    seconds: { type: 'string', default: '30' },
  },
});

const modelPath = await gemma4_12bMediaPath(values.dir);
const mmprojPath = await mmproj12bPath(values.dir);
const imageTokens = Number(values['image-tokens']);
// a grid of 40 columns: 1120 tokens = 40 × 28
const cols = 40, rows = Math.ceil(imageTokens / cols);
const png = encodePng(48 * cols, 48 * rows, testPicture(48 * cols, 48 * rows, 1));
const seconds = Number(values.seconds);
const wav = encodeWav(testSound(16000 * seconds, 1), 16000);
console.log(`model ${modelPath} (core ${nodeCoreBuild()} build)\nmmproj ${mmprojPath}\nimage ${48 * cols}×${48 * rows} PNG (${png.length} bytes), audio ${seconds} s WAV`);

for (const threads of values.threads.split(',').map(Number)) {
  const t0 = performance.now();
  const model = await loadFile(modelPath, { threads, mmproj: await fileSource(mmprojPath), kvReserve: { contextSize: 2048, sequences: 1 }, imageMaxTokens: Math.max(imageTokens, 70) });
  const engine = createEngine(model, { slots: 1, contextPerSlot: 2048 });
  console.log(`\n${threads} thread(s): loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (batch ${model.arch.maxBatch})`);
  for (const what of values.what.split(',')) {
    const start = performance.now();
    const { prompt, media } = layoutByHand(engine, `${MEDIA_MARKER}Describe this.`, [{ kind: what === 'image' ? 'image' : 'audio', bytes: what === 'image' ? png : wav }]);
    const prepared = performance.now();
    let first = 0;
    for await (const ev of engine.submit({ prompt, media, maxTokens: 1, sampling: { ...defaultSampling, temperature: 0 }, stopOnEog: false })) {
      if (ev.type === 'token' && !first) first = performance.now();
    }
    const ttft = (first - start) / 1000;
    console.log(
      `  ${what}: ${media[0].rows} soft tokens, ${prompt.length} prompt tokens: time to first token ${ttft.toFixed(1)} s ` +
        `(decode + preprocessing ${((prepared - start) / 1000).toFixed(2)} s; ${(prompt.length / ttft).toFixed(1)} prompt tok/s)`,
    );
  }
  await engine.close();
  await model.close();
}
