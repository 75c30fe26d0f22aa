/**
 * Every weight type against llama.cpp native: a synthetic llama model (4 layers, dims multiples of 256, GQA, vocab
 * 1024) per type must give the same 32 greedy tokens as node-llama-cpp, and last-step logits within 1e-2.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { disposeOracle, llamacppGreedy } from './oracle/llamacpp.ts';
import { loadFile } from './helpers/models.ts';
import { syntheticLlamaFile } from './helpers/synthetic.ts';

const types = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q4_K', 'Q5_K', 'Q6_K'] as const;
const shape = { embd: 256, layers: 4, heads: 4, kvHeads: 2, ff: 768, vocab: 1024, ctx: 512 };
const prompt = [1, 300, 301, 302, 500, 700, 42, 900];
const N = 32;

test.after(async () => {
  await disposeOracle();
});

for (const name of types) {
  test(`${name}: 32 greedy tokens and last logits match llama.cpp`, async () => {
    const path = await syntheticLlamaFile({ ...shape, type: GGML_TYPE[name], seed: 11, ropeFreqs: name === 'Q8_0' });
    const expected = await llamacppGreedy(path, prompt, N);
    const model = await loadFile(path);
    const ids: number[] = [];
    for await (const ev of generate(model, prompt, { maxTokens: N, temperature: 0, contextSize: 128 })) {
      if (ev.type === 'token') ids.push(ev.id);
    }
    assert.equal(ids, expected.tokens, `${name} greedy tokens`);

    // the distribution that chose the last token, recomputed in one batched pass over the whole history
    const kv = model.arch.createKv(128);
    const history = [...prompt, ...ids.slice(0, -1)];
    const [[logits]] = model.arch.forward([{ kv, tokens: history, pos0: 0, logits: 'last' }]);
    let maxDiff = 0;
    for (let i = 0; i < logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i] - expected.lastLogits[i]));
    assert.ok(maxDiff < 1e-2, `${name}: max |logit diff| ${maxDiff} ≥ 1e-2`);
  });
}

test.run();
