/**
 * Every weight type against llama.cpp native: a synthetic llama model (4 layers, dims multiples of 256, GQA, vocab
 * 1024) per type must give the same 32 greedy tokens as node-llama-cpp, and last-step logits within 1e-2.
 *
 * The oracle evaluates the prompt one token at a time: llama.cpp's batched path sums attention, float and Q4_K
 * weights differently (oracle/llamacpp.ts), while hearth gives the single-token numbers at any batch size, which the
 * last check exercises by recomputing the whole history in one pass. With that, every type except F32 matches llama.cpp's AVX2
 * build bit for bit; F32 differs by rounding only (ggml_vec_dot_f32 fuses its multiply-adds, ours does not).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { disposeOracle, llamacppCpuFeatures, llamacppGreedy } from './oracle/llamacpp.ts';
import { loadFile } from './helpers/models.ts';
import { syntheticLlamaFile } from './helpers/synthetic.ts';

const types = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q4_K', 'Q5_K', 'Q6_K'] as const;
const shape = { embd: 256, layers: 4, heads: 4, kvHeads: 2, ff: 768, vocab: 1024, ctx: 512 };
const prompt = [1, 300, 301, 302, 500, 700, 42, 900];
const N = 32;

test.after(async () => {
  await disposeOracle();
});

test('the oracle runs the AVX2 + FMA CPU kernels that hearth reproduces', async () => {
  const info = await llamacppCpuFeatures();
  assert.ok(/AVX2 = 1/.test(info) && /FMA = 1/.test(info) && !/AVX512/.test(info),
    `node-llama-cpp loaded a CPU backend with other kernels than the AVX2 one hearth matches bit for bit: ${info}`);
});

for (const name of types) {
  test(`${name}: 32 greedy tokens and last logits match llama.cpp`, async () => {
    const path = await syntheticLlamaFile({ ...shape, type: GGML_TYPE[name], seed: 11, ropeFreqs: name === 'Q8_0' });
    const expected = await llamacppGreedy(path, prompt, N, { promptByToken: true });
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
