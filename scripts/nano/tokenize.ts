/**
 * hearth-nano's examples as token ids, in the layout hearth's chat route produces (layout.ts), for train.py.
 *
 *   npx tsx scripts/nano/tokenize.ts --data DIR      → DIR/train.tokens.jsonl, DIR/heldout.tokens.jsonl
 *
 * Each line: { id, ids, lossFrom, media: null | { kind, path, start, rows } }. Every example is checked: its prompt
 * and answer must decode back to themselves from the ids (no character lost), else the run fails naming it.
 */
import { openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  answerIds, layoutFor, mediaRows, promptIds, type Layout, type NanoExample, type NanoTokens, readVocab,
} from './layout.ts';
import { readExamples } from './vocab.ts';

function readHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Width and height from a PNG's IHDR. */
export function pngSize(path: string): { width: number; height: number } {
  const b = readHead(path, 24);
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length < 24 || sig.some((x, i) => b[i] !== x)) throw new Error(`${path}: not a PNG`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

/** Sample count of a 16 kHz mono s16 WAV (as data.py writes it). */
export function wavSamples(path: string): number {
  const b = readHead(path, 4096);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const tag = (o: number) => String.fromCharCode(...b.subarray(o, o + 4));
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error(`${path}: not a WAV file`);
  let fmtOk = false;
  for (let p = 12; p + 8 <= b.length;) {
    const size = dv.getUint32(p + 4, true);
    if (tag(p) === 'fmt ') {
      fmtOk = dv.getUint16(p + 8, true) === 1 && dv.getUint16(p + 10, true) === 1 && dv.getUint32(p + 12, true) === 16000 &&
        dv.getUint16(p + 22, true) === 16;
    } else if (tag(p) === 'data') {
      if (!fmtOk) throw new Error(`${path}: not 16 kHz mono s16 PCM`);
      return size / 2;
    }
    p += 8 + size + (size & 1);
  }
  throw new Error(`${path}: no data chunk in the first 4 KiB`);
}

export function rowsOf(dataDir: string, ex: NanoExample): number {
  if (!ex.media) return 0;
  const path = join(dataDir, ex.media);
  return ex.kind === 'image' ? mediaRows('image', pngSize(path), 0) : mediaRows('audio', null, wavSamples(path));
}

/** One example's ids; throws if the prompt or answer does not survive a round trip through the tokenizer. */
export function tokenizeExample(L: Layout, ex: NanoExample, rows: number): NanoTokens {
  const prompt = promptIdsChecked(L, ex, rows);
  const answer = answerIds(L, ex.answer);
  const back = L.tok.decode(answer.slice(0, -1));
  if (back !== ex.answer) throw new Error(`${ex.id}: answer ${JSON.stringify(ex.answer)} decodes as ${JSON.stringify(back)}`);
  return { id: ex.id, ids: [...prompt.ids, ...answer], lossFrom: prompt.ids.length, media: prompt.media };
}

function promptIdsChecked(L: Layout, ex: NanoExample, rows: number) {
  const p = promptIds(L, ex, rows);
  // the user text is what lies between "<|turn>user\n" (+ medium) and "<turn|>"
  const ids = p.ids;
  const userStart = ids.indexOf(L.ids['<|turn>']) + 1;
  const userEnd = ids.indexOf(L.ids['<turn|>']);
  let text = L.tok.decode(ids.slice(userStart, userEnd).filter((id) => !isMediaId(L, id)), { unparseSpecial: false });
  if (!text.startsWith('user\n')) throw new Error(`${ex.id}: prompt does not open with the user turn`);
  text = text.slice('user\n'.length);
  if (text !== ex.prompt) throw new Error(`${ex.id}: prompt ${JSON.stringify(ex.prompt)} decodes as ${JSON.stringify(text)}`);
  return p;
}

function isMediaId(L: Layout, id: number): boolean {
  const i = L.ids;
  return [i['<|image>'], i['<image|>'], i['<|image|>'], i['<|audio>'], i['<audio|>'], i['<|audio|>']].includes(id);
}

function main(): void {
  const { values } = parseArgs({ options: { data: { type: 'string' } } });
  if (!values.data) throw new Error('usage: tokenize.ts --data DIR');
  const dir = values.data;
  const t0 = performance.now();
  const L = layoutFor(readVocab(join(dir, 'vocab.json')));
  for (const split of ['train', 'heldout']) {
    const examples = readExamples(join(dir, `${split}.jsonl`));
    const lines: string[] = [];
    let tokens = 0, longest = 0;
    for (const ex of examples) {
      const t = tokenizeExample(L, ex, rowsOf(dir, ex));
      tokens += t.ids.length;
      longest = Math.max(longest, t.ids.length);
      lines.push(JSON.stringify(t));
    }
    writeFileSync(join(dir, `${split}.tokens.jsonl`), lines.join('\n') + '\n');
    console.error(`tokenize.ts: ${split}: ${examples.length} examples, ${tokens} tokens, longest ${longest}`);
  }
  console.error(`tokenize.ts: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
