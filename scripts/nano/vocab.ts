/**
 * hearth-nano's vocabulary: a small SentencePiece-style BPE (`tokenizer.ggml.model = gemma4`) learned from the text of
 * the training data by our own trainer, with Gemma 4's special tokens and the chat template.
 *
 *   npx tsx scripts/nano/vocab.ts --data DIR [--size V]      → DIR/vocab.json
 *
 * Layout: the special tokens (ids 0–15, layout.ts SPECIAL_TOKENS), "\n", every single character of the data plus
 * printable ASCII (so any ASCII text a user types has tokens; there are no <0xXX> byte tokens, and llama.cpp's gemma4
 * tokenizer drops a character it cannot spell rather than failing), then one token per merge, in merge order.
 *
 * Training follows the tokenizer it must agree with (llama.cpp's gemma4: spaces → "▁", lines are the only
 * pre-split, merges applied by rank): words are counted with their leading "▁", so no merge spans two words and
 * the rank-ordered merging over a whole line gives the same pieces as over its words. Digits never merge (each digit
 * is a token: arithmetic and numbers stay learnable for a tiny model). Ties go to the lexically first pair, so the
 * result depends on the data alone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CHAT_TEMPLATE, layoutFor, type NanoExample, type NanoVocab, SPECIAL_TOKENS, TOKEN_CONTROL, TOKEN_NORMAL, TOKEN_UNKNOWN,
} from './layout.ts';

const SPACE = '\u2581';
/** Text of the prompt layout outside the examples (role names). */
const LAYOUT_TEXT = ['user', 'model', 'system'];

export function readExamples(path: string): NanoExample[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as NanoExample);
}

/** The texts the tokenizer will see, weighted by how often they occur. */
function corpus(examples: NanoExample[]): Map<string, number> {
  const words = new Map<string, number>();
  const add = (text: string) => {
    for (const line of text.replaceAll(' ', SPACE).split('\n')) {
      // words keep their leading "▁"; the first word of a line has none
      for (const w of line.match(/\u2581*[^\u2581]+|\u2581+$/gu) ?? []) words.set(w, (words.get(w) ?? 0) + 1);
    }
  };
  for (const ex of examples) {
    add(ex.prompt);
    add(ex.answer);
  }
  // every example carries the role names once
  for (const t of LAYOUT_TEXT) words.set(t, (words.get(t) ?? 0) + examples.length);
  return words;
}

const hasDigit = (s: string) => /[0-9]/.test(s);

/** Rank-ordered merges until `want` merges exist or no pair occurs twice. */
export function learnMerges(words: Map<string, number>, want: number): [string, string][] {
  const entries = [...words.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const seqs = entries.map(([w]) => Array.from(w));
  const counts = entries.map(([, c]) => c);
  const merges: [string, string][] = [];
  while (merges.length < want) {
    const pairs = new Map<string, number>();
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i];
      for (let j = 0; j + 1 < s.length; j++) {
        const a = s[j], b = s[j + 1];
        if (hasDigit(a) || hasDigit(b)) continue;
        if (b.startsWith(SPACE)) continue; // cannot happen within a word; kept as a guard
        const key = `${a} ${b}`;
        pairs.set(key, (pairs.get(key) ?? 0) + counts[i]);
      }
    }
    let best: string | null = null;
    let bestCount = 1;
    for (const [k, c] of pairs) if (c > bestCount || (c === bestCount && best !== null && k < best)) [best, bestCount] = [k, c];
    if (best === null) break;
    const [a, b] = best.split(' ');
    merges.push([a, b]);
    const ab = a + b;
    for (const s of seqs) {
      for (let j = 0; j + 1 < s.length; j++) {
        if (s[j] === a && s[j + 1] === b) s.splice(j, 2, ab);
      }
    }
  }
  return merges;
}

export function buildVocab(examples: NanoExample[], size: number): NanoVocab {
  const tokens: string[] = [...SPECIAL_TOKENS];
  const types: number[] = SPECIAL_TOKENS.map((t) => (t === '<unk>' ? TOKEN_UNKNOWN : TOKEN_CONTROL));
  const seen = new Set(tokens);
  const push = (t: string, type = TOKEN_NORMAL) => {
    if (seen.has(t)) return;
    seen.add(t);
    tokens.push(t);
    types.push(type);
  };
  push('\n');
  const chars = new Set<string>([SPACE]);
  for (let c = 0x21; c < 0x7f; c++) chars.add(String.fromCharCode(c));
  for (const ex of examples) for (const c of (ex.prompt + ex.answer).replaceAll(' ', SPACE).replaceAll('\n', '')) chars.add(c);
  for (const c of [...chars].sort()) push(c);
  const singles = tokens.length;
  const words = corpus(examples);
  const merges = learnMerges(words, Math.max(0, size - singles));
  for (const [a, b] of merges) {
    if (seen.has(a + b)) throw new Error(`merge ${a} ${b} makes a token that already exists`);
    push(a + b);
  }
  // BPE ranks come from the merges; scores only order pieces for tools that read them (higher = earlier merge)
  const scores = tokens.map((_, i) => (i < singles ? 0 : -(i - singles + 1)));
  const id = (t: string) => tokens.indexOf(t);
  return {
    tokens, scores, types, merges: merges.map(([a, b]) => `${a} ${b}`),
    bos: id('<bos>'), eos: id('<eos>'), pad: id('<pad>'), unk: id('<unk>'), mask: id('<mask>'),
    chatTemplate: CHAT_TEMPLATE,
  };
}

/** Every example's prompt and answer must tokenize without an unknown piece and decode back to itself. */
export function checkCoverage(v: NanoVocab, examples: NanoExample[]): void {
  const { tok } = layoutFor(v);
  for (const ex of examples) {
    for (const text of [ex.prompt, ex.answer]) {
      const ids = tok.encode(text, { addSpecial: false });
      const back = tok.decode(ids);
      if (back !== text) throw new Error(`${ex.id}: ${JSON.stringify(text)} decodes back as ${JSON.stringify(back)}`);
    }
  }
}

function main(): void {
  const { values } = parseArgs({
    options: { data: { type: 'string' }, size: { type: 'string', default: '1024' } },
  });
  if (!values.data) throw new Error('usage: vocab.ts --data DIR [--size V]');
  const size = Number(values.size);
  if (!Number.isInteger(size) || size < 200) throw new Error(`--size must be an integer >= 200, got ${values.size}`);
  const t0 = performance.now();
  const train = readExamples(join(values.data, 'train.jsonl'));
  const heldout = readExamples(join(values.data, 'heldout.jsonl'));
  const v = buildVocab(train, size);
  checkCoverage(v, [...train, ...heldout]);
  writeFileSync(join(values.data, 'vocab.json'), JSON.stringify(v));
  console.error(`vocab.ts: ${v.tokens.length} tokens (${v.merges.length} merges) in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${join(values.data, 'vocab.json')}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
