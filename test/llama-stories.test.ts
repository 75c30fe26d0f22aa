/**
 * stories260K (a trained llama2.c model): the golden greedy ids from shared/research/peers.md, and live agreement
 * with llama.cpp native on more prompts — tokenization and generation both.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import type { Model } from '../src/engine/load.ts';
import { disposeOracle, llamacppGreedy, llamacppTokenize } from './oracle/llamacpp.ts';
import { loadFile, sharedModel } from './helpers/models.ts';

const golden = {
  prompt: 'Once upon a time',
  ids: [
    432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265,
    282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335,
    312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310, 439, 419, 357, 336,
  ],
  text: ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said",
};

const prompts = [
  'The cat sat on the mat',
  'Tom and his dog went to the park',
  'One day, a little bird',
  'She was very happy because',
  'The sun was shining and',
  'Lily wanted to play with her friend Ben',
  'Once there was a big red truck',
  'The little boy was sad. He',
  'Mom said, "Be careful!"',
];

let model: Model;
let path: string;

async function greedy(prompt: number[], n: number): Promise<{ ids: number[]; text: string }> {
  const ids: number[] = [];
  let text = '';
  for await (const ev of generate(model, prompt, { maxTokens: n, temperature: 0 })) {
    if (ev.type === 'token') ids.push(ev.id);
    text += ev.text;
  }
  return { ids, text };
}

// resolved at import: a missing shared folder fails the run plainly (uvu swallows errors thrown in before hooks)
const storiesPath = sharedModel('stories260K.gguf');

test.before(async () => {
  path = storiesPath;
  model = await loadFile(path);
});

test.after(async () => {
  await disposeOracle();
});

test('golden: "Once upon a time" → the 64 greedy ids and text llama.cpp and wllama give', async () => {
  const prompt = model.tokenizer.encode(golden.prompt);
  assert.is(prompt.length, 5, 'BOS + 4 tokens');
  assert.is(prompt[0], 1);
  const out = await greedy(prompt, 64);
  assert.equal(out.ids, golden.ids);
  assert.is(out.text, golden.text);
});

test('live: 9 more prompts agree with llama.cpp native, token for token (64 tokens each)', async () => {
  for (const text of prompts) {
    const ours = model.tokenizer.encode(text);
    const theirs = await llamacppTokenize(path, text);
    // node-llama-cpp's tokenize() leaves BOS to evaluation; the GGUF asks for it (add_bos), as our encode adds it
    assert.equal(ours, [model.tokenizer.bos, ...theirs], `tokenization of ${JSON.stringify(text)}`);
    const expected = await llamacppGreedy(path, ours, 64);
    // llama.cpp keeps going past EOS in the oracle; ours stops there, so compare up to our length
    const got = await greedy(ours, 64);
    assert.ok(got.ids.length > 0);
    assert.equal(got.ids, expected.tokens.slice(0, got.ids.length), `greedy ids for ${JSON.stringify(text)}`);
    if (got.ids.length < 64) assert.ok(model.tokenizer.isEog(expected.tokens[got.ids.length]), 'we stop only at EOG');
  }
});

test.run();
