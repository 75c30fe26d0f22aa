/**
 * Speculative decoding is lossless: for every drafter, greedy output with speculation equals greedy output without
 * it (several prompts, n_max 1–4); with temperature > 0 the verified tokens follow the target's distribution
 * (chi-square against plain sampling, fixed seeds).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { GenerationEvent, SpeculativeOptions } from '../src/engine/api.ts';
import { defaultSampling } from '../src/engine/api.ts';
import { createEngine } from '../src/engine/engine.ts';
import type { Model } from '../src/engine/load.ts';
import { Sampler } from '../src/engine/sampler.ts';
import { DraftLength } from '../src/engine/speculative/draft-length.ts';
import { speculativeFromText } from '../src/http/config.ts';
import { NgramDrafter } from '../src/engine/speculative/ngram.ts';
import { loadFile, sharedModel } from './helpers/models.ts';

let model: Model;
let draft: Model;

const prompts = [
  'Once upon a time',
  'The cat sat on the mat. The cat sat on the mat. The cat',
  'Lily and Ben went to the park. Lily and Ben',
  'One day, a little bird',
];

async function collect(it: AsyncIterable<GenerationEvent>) {
  const ids: number[] = [];
  let usage: Extract<GenerationEvent, { type: 'done' }>['usage'] | undefined;
  for await (const ev of it) {
    if (ev.type === 'token') ids.push(ev.id);
    else usage = ev.usage;
  }
  return { ids, usage: usage! };
}

// resolved at import: a missing shared folder fails the run plainly (uvu swallows errors thrown in before hooks)
const storiesPath = sharedModel('stories260K.gguf');

test.before(async () => {
  model = await loadFile(storiesPath);
  // the same model as its own drafter: a real second model instance with its own weights and caches
  draft = await loadFile(storiesPath);
});

test('n-gram drafter proposes the continuation of the latest earlier match', () => {
  const d = new NgramDrafter(3, 1);
  assert.equal(d.draft([5, 6, 7, 8, 5, 6, 7], 2), [8, 5]);
  assert.equal(d.draft([1, 2, 3], 4), []);
  assert.equal(d.draft([9, 1, 2, 9, 3, 4, 9], 3), [3, 4, 9]);
});

test('verify: greedy keeps the longest agreeing prefix and adds the target token', () => {
  const rows = [0, 1, 2].map((best) => {
    const r = new Float32Array(8);
    r[best + 3] = 5;
    return r;
  });
  const s = new Sampler({ ...defaultSampling, temperature: 0 });
  // target wants 3, 4, 5: draft [3, 7] → accept 3, reject 7, emit the target's 4
  assert.equal(s.verify(rows.map((r) => r.slice()), [3, 7]), [3, 4]);
  assert.equal(s.verify(rows.map((r) => r.slice()), [3, 4]), [3, 4, 5]);
  assert.equal(s.verify(rows.map((r) => r.slice()), [6]), [3]);
});

for (const type of ['ngram', 'draft'] as const) {
  test(`greedy with ${type} speculation equals greedy without, n_max 1–4`, async () => {
    const engine = createEngine(model, { slots: 2, contextPerSlot: 256, draftModel: draft });
    let drafted = 0;
    let accepted = 0;
    for (const prompt of prompts) {
      const ids = engine.tokenize(prompt);
      const plain = await collect(engine.submit({ prompt: ids, maxTokens: 48, sampling: { ...defaultSampling, temperature: 0 } }));
      for (let nMax = 1; nMax <= 4; nMax++) {
        const speculative: SpeculativeOptions = { type, nMax, adaptive: false };
        const spec = await collect(
          engine.submit({ prompt: ids, maxTokens: 48, sampling: { ...defaultSampling, temperature: 0 }, speculative }),
        );
        assert.equal(spec.ids, plain.ids, `${type} n_max ${nMax}: ${JSON.stringify(prompt)}`);
        const s = spec.usage.speculative!;
        assert.ok(s, 'usage reports speculation');
        assert.ok(s.acceptedTokens <= s.draftedTokens);
        drafted += s.draftedTokens;
        accepted += s.acceptedTokens;
        if (type === 'draft') {
          // a model drafting for itself is always right: every step emits n_max + 1 tokens until the end
          assert.is(s.acceptedTokens, s.draftedTokens, 'self-drafting accepts everything');
          assert.ok(s.tokensPerStep > 1, `tokens per step ${s.tokensPerStep}`);
        }
      }
    }
    assert.ok(drafted > 0, 'something was drafted');
    if (type === 'ngram') assert.ok(accepted > 0, 'the repetitive prompts got some n-gram drafts accepted');
    await engine.close();
  });
}

test('adaptive draft length: drafts long when drafts are accepted and verification is cheap, stops when not', () => {
  // cheap verification (a 1 + n forward costs 1 + 0.1 n), every drafted token accepted: the ceiling
  const good = new DraftLength(6);
  assert.is(good.choose(6), 6, 'nothing timed yet: draft to learn');
  for (let i = 0; i < 20; i++) {
    const n = good.choose(6);
    good.observe(n, n, 10 * (1 + 0.1 * n));
  }
  good.observe(0, 0, 10);
  assert.is(good.choose(6), 6);
  assert.is(good.choose(2), 2, 'never past the room left');
  assert.ok(good.acceptance > 0.9, `acceptance ${good.acceptance}`);

  // costly verification (1 + n tokens cost 1 + 0.9 n) and nothing accepted: plain steps, a 1-token probe every 8th
  const bad = new DraftLength(6);
  const lengths: number[] = [];
  bad.observe(0, 0, 10);
  for (let i = 0; i < 40; i++) {
    const n = bad.choose(6);
    lengths.push(n);
    bad.observe(n, 0, 10 * (1 + 0.9 * n));
  }
  const tail = lengths.slice(8);
  assert.ok(tail.filter((n) => n === 0).length >= 24, `mostly plain steps: ${lengths.join(',')}`);
  assert.ok(tail.some((n) => n === 1), `still probing: ${lengths.join(',')}`);
  assert.ok(tail.every((n) => n <= 1), `no long drafts once drafts fail: ${lengths.join(',')}`);

  // the drafter's own time counts: acceptance 0.5 pays for a free drafter, not for one as slow as the target
  const cheap = new DraftLength(4), slow = new DraftLength(4);
  for (const [d, draftMs] of [[cheap, 0], [slow, 10]] as const) {
    d.observe(0, 0, 10);
    for (let i = 0; i < 30; i++) d.observe(2, i % 2 ? 2 : 0, 10 * (1 + 0.2 * 2), draftMs * 2);
    d.observe(1, 1, 10 * 1.2, draftMs);
  }
  assert.ok(cheap.choose(4) >= 1, 'a free drafter with fair acceptance drafts');
  assert.is(slow.choose(4), 0, 'a drafter as slow as the target does not pay');
});

test('server default --speculative TYPE[:N][:fixed]: adaptive unless fixed', () => {
  assert.equal(speculativeFromText('ngram', 'X'), { type: 'ngram', nMax: 4 });
  assert.equal(speculativeFromText('mtp:2:fixed', 'X'), { type: 'mtp', nMax: 2, adaptive: false });
  assert.is(speculativeFromText('none', 'X'), null);
  assert.throws(() => speculativeFromText('ngram:4:sometimes', 'HEARTH_SPECULATIVE'), /HEARTH_SPECULATIVE must be TYPE, TYPE:N or TYPE:N:fixed/);
});

test('greedy with adaptive (the default) n-gram speculation equals greedy without', async () => {
  const engine = createEngine(model, { slots: 1, contextPerSlot: 256 });
  for (const prompt of prompts) {
    const ids = engine.tokenize(prompt);
    const plain = await collect(engine.submit({ prompt: ids, maxTokens: 48, sampling: { ...defaultSampling, temperature: 0 } }));
    const spec = await collect(
      engine.submit({ prompt: ids, maxTokens: 48, sampling: { ...defaultSampling, temperature: 0 }, speculative: { type: 'ngram', nMax: 8 } }),
    );
    assert.equal(spec.ids, plain.ids, JSON.stringify(prompt));
    assert.ok(spec.usage.speculative!.draftedTokens > 0, 'the first steps draft');
  }
  await engine.close();
});

/** Pearson chi-square of two samples over the same categories (pooled expected counts). */
function chiSquare(a: Map<number, number>, b: Map<number, number>, na: number, nb: number): { stat: number; dof: number } {
  const keys = new Set([...a.keys(), ...b.keys()]);
  // categories too rare for the approximation are pooled into one bin
  let stat = 0;
  let dof = -1;
  let poolA = 0;
  let poolB = 0;
  for (const k of keys) {
    const x = a.get(k) ?? 0;
    const y = b.get(k) ?? 0;
    if (x + y < 10) {
      poolA += x;
      poolB += y;
      continue;
    }
    const ea = ((x + y) * na) / (na + nb);
    const eb = ((x + y) * nb) / (na + nb);
    stat += (x - ea) ** 2 / ea + (y - eb) ** 2 / eb;
    dof++;
  }
  if (poolA + poolB > 0) {
    const ea = ((poolA + poolB) * na) / (na + nb);
    const eb = ((poolA + poolB) * nb) / (na + nb);
    stat += (poolA - ea) ** 2 / ea + (poolB - eb) ** 2 / eb;
    dof++;
  }
  return { stat, dof };
}

/** Upper 99.9% point of chi-square with k degrees of freedom (Wilson–Hilferty). */
function chiSquareCritical(k: number): number {
  const z = 3.09;
  return k * (1 - 2 / (9 * k) + z * Math.sqrt(2 / (9 * k))) ** 3;
}

test('temperature > 0: speculative sampling keeps the target distribution (chi-square, fixed seeds)', async () => {
  const engine = createEngine(model, { slots: 4, contextPerSlot: 64, draftModel: draft });
  const ids = engine.tokenize('Once upon a time');
  const sampling = { ...defaultSampling, temperature: 1.5, topK: 0, topP: 1, minP: 0 };
  const N = 1500;
  // the 2nd and 3rd generated tokens are the ones that go through draft verification
  const tally = async (speculative?: SpeculativeOptions) => {
    const counts = [new Map<number, number>(), new Map<number, number>()];
    for (let seed = 0; seed < N; seed++) {
      const { ids: out } = await collect(
        engine.submit({ prompt: ids, maxTokens: 3, sampling: { ...sampling, seed: seed + (speculative ? 1_000_000 : 0) }, speculative }),
      );
      for (let pos = 1; pos <= 2; pos++) counts[pos - 1].set(out[pos], (counts[pos - 1].get(out[pos]) ?? 0) + 1);
    }
    return counts;
  };
  const plain = await tally();
  const spec = await tally({ type: 'draft', nMax: 2 });
  for (let pos = 0; pos < 2; pos++) {
    const { stat, dof } = chiSquare(plain[pos], spec[pos], N, N);
    assert.ok(dof >= 3, `enough categories at position ${pos + 2} (${dof})`);
    assert.ok(stat < chiSquareCritical(dof), `position ${pos + 2}: chi-square ${stat.toFixed(1)} with ${dof} dof exceeds the 99.9% point`);
  }
  await engine.close();
});

test('a sampler that always rejects would be caught: the chi-square test has power', () => {
  // sanity of the statistic itself: two clearly different distributions must fail it
  const a = new Map([[1, 700], [2, 500], [3, 300]]);
  const b = new Map([[1, 500], [2, 500], [3, 500]]);
  const { stat, dof } = chiSquare(a, b, 1500, 1500);
  assert.ok(stat > chiSquareCritical(dof));
});

test.run();
