/**
 * The thread pool changes nothing but speed: greedy tokens (and the logits behind them) are identical for the
 * inline executor and for pools of 2, 3 and 4 threads, on stories260K and on a synthetic model of every weight type.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { loadFile, sharedModel } from './helpers/models.ts';
import { syntheticLlamaFile } from './helpers/synthetic.ts';

async function greedyWith(path: string, threads: number, prompt: number[] | string, n: number) {
  const model = await loadFile(path, { threads });
  try {
    assert.is(model.kernels.threads, threads, 'the pool runs the threads asked for');
    const ids: number[] = [];
    for await (const ev of generate(model, prompt, { maxTokens: n, temperature: 0, contextSize: 128 })) {
      if (ev.type === 'token') ids.push(ev.id);
    }
    // the logits themselves, bit for bit, after the generated history
    const kv = model.arch.createKv(128);
    const tokens = typeof prompt === 'string' ? model.tokenizer.encode(prompt) : prompt;
    const [[logits]] = model.arch.forward([{ kv, tokens: [...tokens, ...ids], pos0: 0, logits: 'last' }]);
    return { ids, logits };
  } finally {
    await model.close();
  }
}

test('stories260K: inline and 2, 3, 4 threads give the same 48 greedy tokens and identical logits', async () => {
  const path = sharedModel('stories260K.gguf');
  const inline = await greedyWith(path, 1, 'Once upon a time', 48);
  for (const threads of [2, 3, 4]) {
    const pooled = await greedyWith(path, threads, 'Once upon a time', 48);
    assert.equal(pooled.ids, inline.ids, `${threads} threads`);
    assert.ok(pooled.logits.every((v, i) => Object.is(v, inline.logits[i])), `${threads} threads: logits bit-identical`);
  }
});

const types = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q4_K', 'Q5_K', 'Q6_K'] as const;
for (const name of types) {
  test(`${name}: inline and 2, 3 threads agree bit for bit`, async () => {
    const path = await syntheticLlamaFile({ embd: 256, layers: 2, heads: 4, kvHeads: 2, ff: 512, vocab: 512, ctx: 256, type: GGML_TYPE[name], seed: 5 });
    const prompt = [1, 300, 301, 302, 400];
    const inline = await greedyWith(path, 1, prompt, 12);
    for (const threads of [2, 3]) {
      const pooled = await greedyWith(path, threads, prompt, 12);
      assert.equal(pooled.ids, inline.ids, `${name}, ${threads} threads`);
      assert.ok(pooled.logits.every((v, i) => Object.is(v, inline.logits[i])), `${name}, ${threads} threads: logits bit-identical`);
    }
  });
}

test.run();
