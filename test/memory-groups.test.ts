/**
 * Models bigger than one wasm32 memory are spread over several, whole layers each (DESIGN §3). Forcing a tiny
 * group size on small models exercises exactly that path: the tokens and logits must not change at all.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gemma4Presets, gemma4SyntheticIds, makeSyntheticGemma4 } from '../src/engine/gguf/synthetic-gemma4.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { encodeGguf } from '../src/engine/gguf/writer.ts';
import type { LoadOptions } from '../src/engine/load.ts';
import { loadFile, sharedModel } from './helpers/models.ts';
import { syntheticDir, syntheticLlamaFile } from './helpers/synthetic.ts';

/** The caches these tests make: the generation's slot and one for the logits check, of 128 positions each. */
const kvReserve = { contextSize: 128, sequences: 2 };

async function run(path: string, options: Partial<LoadOptions>, prompt: string | number[], n: number) {
  const model = await loadFile(path, options);
  try {
    const ids: number[] = [];
    for await (const ev of generate(model, prompt, { maxTokens: n, temperature: 0, contextSize: 128 })) {
      if (ev.type === 'token') ids.push(ev.id);
    }
    const kv = model.arch.createKv(128);
    const tokens = typeof prompt === 'string' ? model.tokenizer.encode(prompt) : prompt;
    const [[logits]] = model.arch.forward([{ kv, tokens: [...tokens, ...ids], pos0: 0, logits: 'last' }]);
    return { ids, logits, groups: model.kernels.groups, usage: model.kernels.usage() };
  } finally {
    await model.close();
  }
}

test('stories260K over 3+ memory groups: same 48 greedy tokens, bit-identical logits (inline and 2 threads)', async () => {
  const path = sharedModel('stories260K.gguf');
  const one = await run(path, {}, 'Once upon a time', 48);
  assert.is(one.groups, 1);
  for (const threads of [1, 2]) {
    const split = await run(path, { groupBytes: 400_000, threads, kvReserve }, 'Once upon a time', 48);
    assert.ok(split.groups >= 3, `${split.groups} groups`);
    assert.ok(split.usage.every((u) => u.usedBytes > 0));
    assert.equal(split.ids, one.ids, `${threads} thread(s)`);
    assert.ok(split.logits.every((v, i) => Object.is(v, one.logits[i])), 'logits bit-identical');
  }
});

test('a tied-head Q4_0 model split over groups matches the one-memory run', async () => {
  const path = await syntheticLlamaFile({ embd: 256, layers: 4, heads: 4, kvHeads: 2, ff: 512, vocab: 512, ctx: 256, type: GGML_TYPE.Q4_0, seed: 9, tiedOutput: true });
  const prompt = [1, 300, 301, 302];
  const one = await run(path, {}, prompt, 16);
  const split = await run(path, { groupBytes: 800_000, kvReserve }, prompt, 16);
  assert.ok(split.groups >= 2, `${split.groups} groups`);
  assert.equal(split.ids, one.ids);
  assert.ok(split.logits.every((v, i) => Object.is(v, one.logits[i])));
});

test('gemma4 (12B-like: sliding ring, K=V full layers, tied head) over several groups matches one memory', async () => {
  const spec = makeSyntheticGemma4({ ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q8_0 });
  const bytes = await encodeGguf(spec);
  const path = join(syntheticDir, 'gemma4-groups-test.gguf');
  mkdirSync(syntheticDir, { recursive: true });
  writeFileSync(path, bytes);
  const prompt = [gemma4SyntheticIds.bos, 300, 301, 302, 500];
  const one = await run(path, {}, prompt, 24);
  const layerBytes = Math.ceil(bytes.length / 6);
  const split = await run(path, { groupBytes: layerBytes * 2, kvReserve }, prompt, 24);
  assert.ok(split.groups >= 2, `${split.groups} groups`);
  assert.equal(split.ids, one.ids);
  assert.ok(split.logits.every((v, i) => Object.is(v, one.logits[i])), 'logits bit-identical');
});

test('a full batch fits its memories: groups leave room for maxBatch columns of activations and scratch', async () => {
  // the 12B image case in small: a batch as wide as a 1120-token image block needs activations and quantized inputs
  // beside each group's weights, and a memory must never be asked for more than it holds (4 GiB in wasm32)
  const spec = makeSyntheticGemma4({ ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q4_0 });
  const path = join(syntheticDir, 'gemma4-batch-room-test.gguf');
  mkdirSync(syntheticDir, { recursive: true });
  writeFileSync(path, await encodeGguf(spec));
  const prompt = [gemma4SyntheticIds.bos, ...Array.from({ length: 250 }, (_, i) => 300 + (i % 200))];
  const wide = { maxBatch: 256, kvReserve: { contextSize: 512, sequences: 2 } };
  const runWide = async (options: Partial<LoadOptions>) => {
    const model = await loadFile(path, { ...wide, ...options });
    try {
      const ids: number[] = [];
      for await (const ev of generate(model, prompt, { maxTokens: 8, temperature: 0, contextSize: 512 })) {
        if (ev.type === 'token') ids.push(ev.id);
      }
      return { ids, groups: model.kernels.groups, usage: model.kernels.usage() };
    } finally {
      await model.close();
    }
  };
  const one = await runWide({});
  assert.is(one.groups, 1);
  const memoryBytes = 6_000_000;
  assert.ok(one.usage[0].usedBytes > memoryBytes, `one memory holds ${one.usage[0].usedBytes} bytes: the cap must force a split`);
  const split = await runWide({ memoryBytes });
  assert.ok(split.groups >= 2, `${split.groups} groups`);
  for (const u of split.usage) assert.ok(u.usedBytes <= memoryBytes, `group ${u.group} holds ${u.usedBytes} bytes, more than ${memoryBytes}`);
  assert.equal(split.ids, one.ids);
});

test('a batch too wide for any memory is refused with a clear error', async () => {
  try {
    await loadFile(sharedModel('stories260K.gguf'), { maxBatch: 4096, memoryBytes: 4 << 20, kvReserve });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, Error);
    assert.match((err as Error).message, /a batch of 4096 columns needs \d+ bytes of activations and scratch/);
  }
});

test('a layer larger than a memory group is refused with a clear error', async () => {
  const path = sharedModel('stories260K.gguf');
  try {
    await loadFile(path, { groupBytes: 100_000, kvReserve });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, Error);
    assert.match((err as Error).message, /more than one memory group holds/);
  }
});

test.run();
