/**
 * A model larger than one wasm32 memory (4 GiB): a ~4.5 GiB Q8_0 llama loads into two memories and generates, inline
 * and with the thread pool, with the same tokens. The file is written once into the synthetic cache (fast random
 * Q8_0 blocks: the test is about placement, not about what the weights say).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { makeSyntheticLlama } from '../src/engine/gguf/synthetic.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { loadFile } from './helpers/models.ts';
import { withFastWeights, writeOnce } from './helpers/fast-weights.ts';
import { syntheticDir } from './helpers/synthetic.ts';

const shape = { embd: 4096, layers: 24, heads: 32, kvHeads: 8, ff: 11008, vocab: 32000, ctx: 256, type: GGML_TYPE.Q8_0, seed: 4 };
const path = join(syntheticDir, 'llama-4.5gib-q8_0.gguf');

async function ensureFile(): Promise<void> {
  await writeOnce(path, withFastWeights(makeSyntheticLlama(shape)));
}

async function greedy(threads: number) {
  const model = await loadFile(path, { threads });
  try {
    const ids: number[] = [];
    for await (const ev of generate(model, [1, 300, 301], { maxTokens: 3, temperature: 0, contextSize: 64 })) {
      if (ev.type === 'token') ids.push(ev.id);
    }
    return { ids, groups: model.kernels.groups, usage: model.kernels.usage(), threads: model.kernels.threads };
  } finally {
    await model.close();
  }
}

test('a 4.5 GiB Q8_0 model spans two memories and generates the same tokens inline and with 2 threads', async () => {
  await ensureFile();
  assert.ok(statSync(path).size > 4.3 * 2 ** 30, 'the file is larger than one wasm32 memory can hold');
  const inline = await greedy(1);
  assert.is(inline.groups, 2, 'two memory groups');
  assert.ok(inline.usage.every((u) => u.usedBytes < 4 * 2 ** 30), 'each memory stays under 4 GiB');
  assert.is(inline.ids.length, 3);
  const pooled = await greedy(2);
  assert.is(pooled.threads, 2);
  assert.equal(pooled.ids, inline.ids);
});

test.run();
