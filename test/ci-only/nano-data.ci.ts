/**
 * hearth-nano's data generator (scripts/nano/data.py) end to end: needs /usr/bin/python3 with PIL and numpy, and
 * espeak-ng (apt: python3-pil python3-numpy espeak-ng). Not part of `npm test` (its name does not end in .test.ts);
 * CI runs it with `npx uvu -r tsx test/ci-only`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudio } from '../../src/media/audio.ts';
import { decodeImage } from '../../src/media/image.ts';
import type { NanoTokens } from '../../scripts/nano/layout.ts';
import { readExamples } from '../../scripts/nano/vocab.ts';

const PY = '/usr/bin/python3';
const fixture = 'test/fixtures/nano-eval';
const tmp = mkdtempSync(join(tmpdir(), 'nano-data-'));

function need(): void {
  if (!existsSync(PY)) throw new Error(`${PY} is missing (apt-get install python3 python3-pil python3-numpy)`);
  try {
    execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('espeak-ng is missing (apt-get install espeak-ng)');
  }
}

function dataPy(out: string, args: string[]): void {
  execFileSync(PY, ['scripts/nano/data.py', '--out', out, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const tiny = ['--seed', '7', '--n-text', '60', '--n-image', '6', '--n-audio', '4', '--heldout-text', '12', '--heldout-image', '3',
  '--heldout-audio', '2'];

test('the same seed gives byte-identical files; another seed does not', () => {
  need();
  const a = join(tmp, 'a'), b = join(tmp, 'b'), c = join(tmp, 'c');
  dataPy(a, tiny);
  dataPy(b, tiny);
  dataPy(c, tiny.map((x) => (x === '7' ? '8' : x)));
  for (const f of ['train.jsonl', 'heldout.jsonl']) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
  for (const sub of ['images', 'audio']) {
    const names = readdirSync(join(a, sub)).sort();
    assert.equal(names, readdirSync(join(b, sub)).sort());
    assert.is(names.length, sub === 'images' ? 9 : 6);
    for (const n of names) assert.ok(readFileSync(join(a, sub, n)).equals(readFileSync(join(b, sub, n))), `${sub}/${n}`);
  }
  assert.not.ok(readFileSync(join(a, 'train.jsonl')).equals(readFileSync(join(c, 'train.jsonl'))));
});

test('splits: no held-out example repeats a training one; media are 480×336 RGB and 16 kHz audio ≤ 1.5 s', () => {
  const a = join(tmp, 'a');
  const train = readExamples(join(a, 'train.jsonl'));
  const held = readExamples(join(a, 'heldout.jsonl'));
  assert.is(train.length, 70);
  assert.is(held.length, 17);
  const key = (e: { kind: string; prompt: string; answer: string }) => `${e.kind}\u0000${e.prompt}\u0000${e.answer}`;
  const trainText = new Set(train.filter((e) => e.kind === 'text').map(key));
  for (const e of held.filter((x) => x.kind === 'text')) assert.not.ok(trainText.has(key(e)), `${e.id} is also in training`);
  for (const e of [...train, ...held]) {
    if (!e.media) continue;
    const bytes = new Uint8Array(readFileSync(join(a, e.media)));
    if (e.kind === 'image') {
      const img = decodeImage(bytes);
      assert.equal([img.width, img.height], [480, 336], e.id);
    } else {
      const pcm = decodeAudio(bytes);
      assert.ok(pcm.length > 0.1 * 16000 && pcm.length <= 1.5 * 16000, `${e.id}: ${pcm.length} samples`);
      assert.ok(Math.max(...pcm.map(Math.abs)) > 0.3, `${e.id} is nearly silent`);
    }
  }
});

test('the committed fixed sample (test/fixtures/nano-eval) is what data.py --seed 1 still generates', () => {
  const fixed = readExamples(join(fixture, 'examples.jsonl'));
  const needed = (kind: string) => Math.max(...fixed.filter((e) => e.kind === kind).map((e) => Number(e.id.split('-').at(-1)))) + 1;
  const out = join(tmp, 'seed1');
  // held-out examples come first from their own random stream, so a small training set leaves them unchanged
  dataPy(out, ['--seed', '1', '--n-text', '10', '--n-image', '1', '--n-audio', '1', '--heldout-text', String(needed('text')),
    '--heldout-image', String(needed('image')), '--heldout-audio', String(needed('audio'))]);
  const byId = new Map(readExamples(join(out, 'heldout.jsonl')).map((e) => [e.id, e]));
  for (const e of fixed) {
    assert.equal(byId.get(e.id), e, e.id);
    if (!e.media) continue;
    const mine = new Uint8Array(readFileSync(join(out, e.media)));
    const theirs = new Uint8Array(readFileSync(join(fixture, e.media)));
    // PNG bytes depend on the zlib build; the pixels must not
    if (e.kind === 'image') assert.ok(Buffer.from(decodeImage(mine).data).equals(Buffer.from(decodeImage(theirs).data)), e.media);
    else assert.ok(Buffer.from(mine).equals(Buffer.from(theirs)), e.media);
  }
});

test('resampling 22050 → 16000 Hz keeps a 1 kHz tone and removes a 10 kHz one', () => {
  const script = `
import sys, numpy as np
sys.path.insert(0, 'scripts/nano')
from data import resample
t = np.arange(22050) / 22050
for f in (1000, 10000):
    y = resample(np.sin(2 * np.pi * f * t), 22050, 16000)
    ref = np.sin(2 * np.pi * f * np.arange(len(y)) / 16000)
    mid = slice(200, len(y) - 200)
    print(len(y), float(np.max(np.abs(y[mid] - ref[mid]))) if f == 1000 else float(np.max(np.abs(y[mid]))))
`;
  const lines = execFileSync(PY, ['-c', script], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' ').map(Number));
  assert.is(lines[0][0], 16000);
  assert.ok(lines[0][1] < 1e-3, `1 kHz tone error ${lines[0][1]}`);
  assert.ok(lines[1][1] < 1e-3, `10 kHz tone left at ${lines[1][1]} (should be filtered out)`);
});

test('vocab.ts and tokenize.ts on generated data: every example round-trips, loss starts at the answer', () => {
  const a = join(tmp, 'a');
  execFileSync('npx', ['tsx', 'scripts/nano/vocab.ts', '--data', a, '--size', '300'], { stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('npx', ['tsx', 'scripts/nano/tokenize.ts', '--data', a], { stdio: ['ignore', 'ignore', 'pipe'] });
  const vocab = JSON.parse(readFileSync(join(a, 'vocab.json'), 'utf8'));
  const turnEnd = vocab.tokens.indexOf('<turn|>');
  for (const split of ['train', 'heldout']) {
    const rows = readFileSync(join(a, `${split}.tokens.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as NanoTokens);
    assert.is(rows.length, split === 'train' ? 70 : 17);
    for (const r of rows) {
      assert.is(r.ids.at(-1), turnEnd);
      assert.ok(r.lossFrom > 5 && r.lossFrom < r.ids.length - 1, r.id);
      if (r.media?.kind === 'image') assert.is(r.media.rows, 70);
    }
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
