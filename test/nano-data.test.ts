/**
 * hearth-nano's vocabulary and token layout (scripts/nano/vocab.ts, layout.ts, tokenize.ts), on the committed fixed
 * sample of held-out examples (test/fixtures/nano-eval). No Python here: data.py's determinism is checked by
 * test/ci-only/nano-data.ci.ts, which needs python3-pil and espeak-ng.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Engine } from '../src/engine/api.ts';
import { ChatTemplate } from '../src/http/chat-template.ts';
import { defaultMediaLimits, mediaMarker, mediaPrompt } from '../src/http/media.ts';
import { answerIds, layoutFor, promptIds, SPECIAL_TOKENS, TOKEN_CONTROL, TOKEN_UNKNOWN, type NanoVocab } from '../scripts/nano/layout.ts';
import { rowsOf, tokenizeExample } from '../scripts/nano/tokenize.ts';
import { buildVocab, checkCoverage, learnMerges, readExamples } from '../scripts/nano/vocab.ts';

const dir = 'test/fixtures/nano-eval';
const examples = readExamples(join(dir, 'examples.jsonl'));
const vocab: NanoVocab = buildVocab(examples, 400);
const L = layoutFor(vocab);

test('the fixed sample has every task of data.py, text, image and audio', () => {
  const tasks = new Set(examples.map((e) => e.task));
  for (const t of ['add', 'sub', 'mul', 'count_letters', 'count_items', 'spell', 'reverse', 'json', 'copy',
    'image_shape', 'image_colour', 'image_position', 'image_number', 'audio_digit', 'audio_word']) {
    assert.ok(tasks.has(t), `no ${t} example in ${dir}`);
  }
});

test('BPE merges stay inside words and never touch digits; the same words give the same merges', () => {
  const words = new Map([['\u2581abc12', 5], ['abab', 3], ['\u2581ab', 4], ['x9y', 2], ['\u2581b', 7]]);
  const merges = learnMerges(words, 50);
  assert.ok(merges.length > 0);
  for (const [a, b] of merges) {
    assert.not.ok(/[0-9]/.test(a + b), `merge ${a} ${b} holds a digit`);
    assert.not.ok(b.includes('\u2581'), `merge ${a} ${b} spans a word boundary`);
  }
  assert.equal(learnMerges(new Map([...words].reverse()), 50), merges);
});

test('the vocabulary holds Gemma 4 special tokens as control tokens, ids 0–4 as in Gemma 4', () => {
  SPECIAL_TOKENS.forEach((t, i) => {
    assert.is(vocab.tokens[i], t);
    assert.is(vocab.types[i], t === '<unk>' ? TOKEN_UNKNOWN : TOKEN_CONTROL, t);
  });
  assert.equal([vocab.pad, vocab.eos, vocab.bos, vocab.unk, vocab.mask], [0, 1, 2, 3, 4]);
  assert.is(new Set(vocab.tokens).size, vocab.tokens.length, 'token texts are unique');
  // one token per merge, in merge order, after the single characters
  assert.equal(vocab.tokens.slice(vocab.tokens.length - vocab.merges.length), vocab.merges.map((m) => m.replace(' ', '')));
  assert.ok(vocab.tokens.length <= 400 && vocab.merges.length > 50, `${vocab.tokens.length} tokens, ${vocab.merges.length} merges`);
});

test('every example round-trips through the tokenizer; printable ASCII is covered', () => {
  checkCoverage(vocab, examples);
  // (no space before punctuation: llama.cpp's gemma4 detokenizer cleans up " !" to "!", as Hugging Face does)
  const ascii = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('') + ' x y\nline two';
  assert.is(L.tok.decode(L.tok.encode(ascii, { addSpecial: false })), ascii);
});

test('token layout: <bos><|turn>user\\n [medium] prompt <turn|>\\n<|turn>model\\n answer <turn|>', () => {
  const id = L.ids;
  for (const ex of examples) {
    const rows = rowsOf(dir, ex);
    const t = tokenizeExample(L, ex, rows);
    assert.is(t.ids[0], vocab.bos);
    assert.is(t.ids[1], id['<|turn>']);
    assert.is(t.ids.at(-1), id['<turn|>']);
    const tail = L.tok.encode('<turn|>\n<|turn>model\n', { addSpecial: false, parseSpecial: true });
    assert.equal(t.ids.slice(t.lossFrom - tail.length, t.lossFrom), tail, `${ex.id}: the answer follows the model turn`);
    assert.is(L.tok.decode(t.ids.slice(t.lossFrom, -1)), ex.answer);
    if (!ex.media) {
      assert.is(t.media, null);
      continue;
    }
    const m = t.media!;
    assert.is(m.rows, ex.kind === 'image' ? 70 : rows);
    assert.ok(ex.kind === 'image' || (rows >= 1 && rows <= 38), `${ex.id}: ${rows} audio frames`);
    const [begin, soft, end] = ex.kind === 'image'
      ? [id['<|image>'], id['<|image|>'], id['<image|>']]
      : [id['<|audio>'], id['<|audio|>'], id['<audio|>']];
    assert.is(t.ids[m.start - 1], begin);
    assert.ok(t.ids.slice(m.start, m.start + m.rows).every((x) => x === soft));
    assert.is(t.ids[m.start + m.rows], end);
    // media first: right after "<|turn>user\n"; else right before "<turn|>"
    if (ex.mediaFirst) assert.is(L.tok.decode(t.ids.slice(2, m.start - 1)), 'user\n');
    else assert.is(t.ids[m.start + m.rows + 1], id['<turn|>']);
  }
});

test('the training layout is the one the HTTP chat and transcription routes build', () => {
  const tok = L.tok;
  // the route's view of an engine: tokenization and media settings; prefill never runs here
  const engine = {
    info: { chatTemplate: vocab.chatTemplate, bosToken: '<bos>', eosToken: '<eos>' },
    tokenize: (text: string, o?: { addSpecial?: boolean; parseSpecial?: boolean }) => tok.encode(text, o),
    media: {
      image: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], minTokens: 70, maxTokens: 1120 },
      audio: { sampleRate: 16000, frameSamples: 640 },
      tokens: {
        imageBegin: L.ids['<|image>'], imageEnd: L.ids['<image|>'], imageSoft: L.ids['<|image|>'],
        audioBegin: L.ids['<|audio>'], audioEnd: L.ids['<audio|>'], audioSoft: L.ids['<|audio|>'],
      },
    },
  } as unknown as Engine;
  const template = new ChatTemplate(engine.info, true, false);
  let checked = 0;
  for (const ex of examples) {
    const ours = promptIds(L, ex, rowsOf(dir, ex)).ids;
    let served: number[];
    if (ex.media) {
      const content = ex.mediaFirst ? mediaMarker + ex.prompt : ex.prompt + mediaMarker;
      const text = template.render([{ role: 'user', content }]);
      const bytes = new Uint8Array(readFileSync(join(dir, ex.media)));
      served = mediaPrompt(engine, text, [{ kind: ex.kind as 'image' | 'audio', bytes, param: 'x' }], defaultMediaLimits).prompt;
    } else {
      served = tok.encode(template.render([{ role: 'user', content: ex.prompt }]), { addSpecial: true, parseSpecial: true });
    }
    assert.equal(ours, served, ex.id);
    checked++;
  }
  assert.is(checked, examples.length);
});

test('the chat template: roles, trimmed text, content parts as <|image|> / <|audio|>, the model turn to finish', () => {
  const render = (messages: unknown[]) =>
    L.template.render({ messages, add_generation_prompt: true, bos_token: '<bos>', eos_token: '<eos>' });
  // the same text llama.cpp's own Jinja engine (common_chat_templates_apply) gives for these messages (checked by hand)
  assert.is(
    render([{ role: 'user', content: '<__media__>What shape is this?' }, { role: 'assistant', content: 'circle' },
      { role: 'user', content: '  Spell cat.  ' }]),
    '<bos><|turn>user\n<__media__>What shape is this?<turn|>\n<|turn>model\ncircle<turn|>\n<|turn>user\nSpell cat.<turn|>\n<|turn>model\n',
  );
  assert.is(
    render([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What colour is the shape?' }, { type: 'audio' }] }]),
    '<bos><|turn>user\n<|image|>What colour is the shape?<|audio|><turn|>\n<|turn>model\n',
  );
});

test('an answer is its text then <turn|>, with no BOS', () => {
  const ids = answerIds(L, '{"age": "queen"}');
  assert.is(ids.at(-1), L.ids['<turn|>']);
  assert.not.ok(ids.includes(vocab.bos));
  assert.is(L.tok.decode(ids.slice(0, -1)), '{"age": "queen"}');
});

test.run();
