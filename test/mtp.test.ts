/**
 * Gemma 4 MTP (multi-token prediction) with a `gemma4-assistant` drafter:
 * - parity with llama.cpp's own `draft-mtp`: the committed fixtures (scripts/mtp-fixtures.ts) hold, for synthetic
 *   target + assistant pairs re-created here byte for byte, every draft chain llama-speculative-simple computed,
 *   with how many drafts it verified and accepted and the target's token after them; hearth's drafter runs through
 *   the same greedy loop and must draft the same tokens at every step (12B-like target with a sliding window that
 *   the assistant's mask must honour, and an E2B-like target whose last layers read earlier layers' caches; random
 *   assistants, and "bigram" assistants whose drafts are often accepted);
 * - losslessness through the scheduler: greedy output with MTP speculation equals greedy output without, n_max 1–4,
 *   several prompts, with the acceptance figures in usage and the engine's totals;
 * - the assistant's weights in the memory group of the target's embedding and last layers (models over several
 *   wasm memories);
 * - clear errors for an assistant that does not fit its target, and for 'mtp' without an assistant.
 * The fixtures were taken with -ub 1 (llama.cpp evaluating every batch row by row, its one-token numbers, which our
 * kernels give at every batch size); the test needs no llama.cpp build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import { defaultSampling, EngineError, type GenerationEvent, type SpeculativeOptions } from '../src/engine/api.ts';
import { createEngine } from '../src/engine/engine.ts';
import { bufferSource } from '../src/engine/gguf/source.ts';
import { loadAssistant, loadModel, loadModelWithDraft, type Model } from '../src/engine/load.ts';
import type { Gemma4Assistant } from '../src/engine/models/gemma4-assistant.ts';
import { ModelError } from '../src/engine/models/model.ts';
import { argmax } from '../src/engine/sampler.ts';
import { MtpDrafter } from '../src/engine/speculative/mtp.ts';
import { repoRoot } from './helpers/models.ts';
import type { MtpFixture, MtpStep } from '../scripts/mtp-fixtures.ts';
import { mtpPair, type MtpPairBytes, type MtpPairSpec } from './helpers/mtp-pair.ts';

const fixtureDir = join(repoRoot, 'test/fixtures/mtp');
const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ name: f.replace(/\.json$/, ''), fixture: JSON.parse(readFileSync(join(fixtureDir, f), 'utf8')) as MtpFixture }));

const core = readNodeCoreModule();
const MAX_BATCH = 8;
/** Tokens per request in the scheduler test. */
const MAX_TOKENS = 32;

interface Loaded {
  model: Model;
  assistant: Gemma4Assistant;
}

/** The pairs, built once per spec (building one takes about a second). */
const built = new Map<string, Promise<MtpPairBytes>>();
function pairBytes(spec: MtpPairSpec): Promise<MtpPairBytes> {
  const key = JSON.stringify(spec);
  if (!built.has(key)) built.set(key, mtpPair(spec));
  return built.get(key)!;
}

async function loadPair(spec: MtpPairSpec, hashes?: { targetHash: string; assistantHash: string }): Promise<Loaded> {
  const pair = await pairBytes(spec);
  if (hashes) {
    // the fixture's files were written by this generator from this spec: a different file means the writer changed
    assert.is(pair.targetHash, hashes.targetHash, 'synthetic target differs from the fixture’s (writer changed? rerun scripts/mtp-fixtures.ts)');
    assert.is(pair.assistantHash, hashes.assistantHash, 'synthetic assistant differs from the fixture’s (rerun scripts/mtp-fixtures.ts)');
  }
  const model = await loadModel(bufferSource(pair.target, 'target.gguf'), { core, maxBatch: MAX_BATCH });
  const assistant = await loadAssistant(bufferSource(pair.assistant, 'assistant.gguf'), model);
  return { model, assistant };
}

/**
 * llama-speculative-simple's greedy loop (examples/speculative-simple): the prompt but its last token is decoded
 * (its last row's hidden state is the first pending h), then each step drafts from (id_last, pending h) at n_past,
 * verifies [id_last, draft…] in one target batch, keeps the agreeing prefix plus the target's token, drops the rest
 * of the cache and takes the hidden row of the last kept position. llama.cpp's quirks kept: the draft is truncated
 * to what -n still allows only while that is positive, and the loop stops once more than n_predict tokens came.
 */
function speculativeSimple({ model, assistant }: Loaded, promptIds: number[], nMax: number, nPredict: number, nCtx: number): MtpStep[] {
  const arch = model.arch;
  const kv = arch.createKv(nCtx);
  const drafter = new MtpDrafter(assistant, kv);
  const prefix = promptIds.slice(0, -1);
  for (let i = 0; i < prefix.length; i += MAX_BATCH) {
    const tokens = prefix.slice(i, i + MAX_BATCH);
    const last = i + tokens.length === prefix.length;
    const hidden: Float32Array[] = [];
    arch.forward([{ kv, tokens, pos0: i, logits: last ? 'last' : 'none', hidden }]);
    if (last) drafter.observeHidden(hidden[0]);
  }
  const history = [...promptIds];
  let nPast = prefix.length;
  let predicted = 0;
  const steps: MtpStep[] = [];
  for (;;) {
    const room = Math.max(0, Math.min(nCtx - nPast - 2, nPredict - predicted - 1));
    const chain = drafter.draft(history, nMax);
    const draft = room > 0 ? chain.slice(0, room) : chain;
    const idLast = history[history.length - 1];
    const hidden: Float32Array[] = [];
    const [rows] = arch.forward([{ kv, tokens: [idLast, ...draft], pos0: nPast, logits: 'all', hidden }]);
    const ids: number[] = [];
    for (let i = 0; i <= draft.length; i++) {
      ids.push(argmax(rows[i]));
      if (i === draft.length || ids[i] !== draft[i]) break;
    }
    const accepted = ids.length - 1;
    kv.used = nPast + ids.length;
    drafter.observeHidden(hidden[accepted]);
    nPast += ids.length;
    predicted += ids.length;
    let eog = false;
    for (const id of ids) {
      history.push(id);
      if (model.tokenizer.isEog(id)) {
        eog = true;
        break;
      }
    }
    steps.push({ draft: chain, used: draft.length, accepted, last: history[history.length - 1] });
    if (predicted > nPredict || eog) break;
  }
  return steps;
}

/**
 * The scheduler's own greedy MTP loop for one request alone in the engine, replayed: the whole prompt prefilled
 * (the first token from its last row), then per step a draft of min(n_max, tokens left − 1) from the last emitted
 * token and the hidden row that produced it. Returns every draft, and the totals usage must report.
 */
function schedulerReplay({ model, assistant }: Loaded, prompt: number[], nMax: number, maxTokens: number): { drafts: number[][]; drafted: number; accepted: number } {
  const arch = model.arch;
  const kv = arch.createKv(256);
  const drafter = new MtpDrafter(assistant, kv);
  let logits: Float32Array | undefined;
  for (let i = 0; i < prompt.length; i += MAX_BATCH) {
    const tokens = prompt.slice(i, i + MAX_BATCH);
    const last = i + tokens.length === prompt.length;
    const hidden: Float32Array[] = [];
    [[logits]] = arch.forward([{ kv, tokens, pos0: i, logits: last ? 'last' : 'none', hidden }]);
    if (last) drafter.observeHidden(hidden[0]);
  }
  const history = [...prompt, argmax(logits!)];
  const drafts: number[][] = [];
  let drafted = 0;
  let accepted = 0;
  while (history.length - prompt.length < maxTokens && !model.tokenizer.isEog(history[history.length - 1])) {
    const room = Math.min(nMax, maxTokens - (history.length - prompt.length) - 1);
    const draft = room > 0 ? drafter.draft(history, room) : [];
    if (room > 0) drafts.push(draft);
    const hidden: Float32Array[] = [];
    const pos0 = kv.used;
    const [rows] = arch.forward([{ kv, tokens: [history[history.length - 1], ...draft], pos0, logits: draft.length ? 'all' : 'last', hidden }]);
    const ids: number[] = [];
    for (let i = 0; i <= draft.length; i++) {
      ids.push(argmax(rows[i]));
      if (i === draft.length || ids[i] !== draft[i]) break;
    }
    kv.used = pos0 + ids.length;
    drafter.observeHidden(hidden[ids.length - 1]);
    drafted += draft.length;
    accepted += ids.length - 1;
    for (const id of ids) {
      history.push(id);
      if (model.tokenizer.isEog(id)) break;
    }
  }
  return { drafts, drafted, accepted };
}

function firstDifference(got: MtpStep[], want: MtpStep[]): string | null {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (JSON.stringify(got[i]) !== JSON.stringify(want[i])) return `step ${i}: hearth ${JSON.stringify(got[i])}, llama.cpp ${JSON.stringify(want[i])}`;
  }
  return null;
}

test('fixtures are present', () => {
  assert.ok(fixtures.length >= 2, `no MTP fixtures in ${fixtureDir} (scripts/mtp-fixtures.ts writes them)`);
});

for (const { name, fixture } of fixtures) {
  for (const pair of fixture.pairs) {
    test(`${name} ${pair.kind} assistant: every draft equals llama.cpp draft-mtp’s (n_max 1–4)`, async () => {
      const loaded = await loadPair(pair.spec, pair);
      let drafted = 0;
      let accepted = 0;
      let steps = 0;
      try {
        for (const run of pair.runs) {
          assert.equal(loaded.model.tokenizer.encode(run.prompt, { addSpecial: true, parseSpecial: true }), run.promptIds, 'prompt tokens');
          const got = speculativeSimple(loaded, run.promptIds, run.nMax, fixture.nPredict, fixture.contextSize);
          const diff = firstDifference(got, run.steps);
          assert.ok(diff === null, `${JSON.stringify(run.prompt)} n_max ${run.nMax}: ${diff}`);
          // llama.cpp's own totals agree with its steps (the log was read whole)
          assert.is(run.steps.reduce((a, s) => a + s.used, 0), run.totals.drafted, 'drafted total');
          assert.is(run.steps.reduce((a, s) => a + s.accepted, 0), run.totals.accepted, 'accepted total');
          drafted += run.totals.drafted;
          accepted += run.totals.accepted;
          steps += run.steps.length;
        }
      } finally {
        await loaded.model.close();
      }
      if (pair.kind === 'bigram') assert.ok(accepted > 0, 'the bigram assistant got drafts accepted');
      console.log(`    ${name} ${pair.kind}: ${pair.runs.length} runs, ${steps} steps, ${drafted} verified drafts (${accepted} accepted) equal`);
    });
  }
}

test('memory groups: the assistant lives with the target’s embedding and last layers; drafts are unchanged', async () => {
  const { fixture } = fixtures.find((f) => f.name.startsWith('12b'))!;
  const pair = fixture.pairs[0];
  const bytes = await pairBytes(pair.spec);
  const load = (groupBytes: number) =>
    loadModelWithDraft(bufferSource(bytes.target, 't.gguf'), bufferSource(bytes.assistant, 'a.gguf'), {
      core,
      maxBatch: MAX_BATCH,
      groupBytes,
      kvReserve: { contextSize: fixture.contextSize, sequences: 1 },
    });
  // 4 MB: the layers spread over two memories, the last group holding the embedding, the assistant and layers 4–5
  const { model, assistant } = await load(4e6);
  try {
    assert.ok(model.kernels.groups > 1, `${model.kernels.groups} memory group(s)`);
    const run = pair.runs.find((r) => r.nMax === 3)!;
    const got = speculativeSimple({ model, assistant: assistant! }, run.promptIds, run.nMax, fixture.nPredict, fixture.contextSize);
    assert.is(firstDifference(got, run.steps), null);
  } finally {
    await model.close();
  }
  // 3 MB: layer 4 (whose cache the assistant's sliding layers read) lands in another memory: refused at load
  try {
    await load(3e6);
    assert.unreachable('loaded an assistant away from the cache it reads');
  } catch (e) {
    assert.instance(e, ModelError);
    assert.match((e as Error).message, /layer 4 cache is in another memory group/);
  }
});

async function collect(it: AsyncIterable<GenerationEvent>) {
  const ids: number[] = [];
  let usage: Extract<GenerationEvent, { type: 'done' }>['usage'] | undefined;
  for await (const ev of it) {
    if (ev.type === 'token') ids.push(ev.id);
    else usage = ev.usage;
  }
  return { ids, usage: usage! };
}

test('scheduler: greedy with MTP speculation equals greedy without (n_max 1–4, several prompts); stats flow', async () => {
  const { fixture } = fixtures.find((f) => f.name.startsWith('12b'))!;
  const pair = fixture.pairs.find((p) => p.kind === 'bigram')!;
  const { model, assistant } = await loadPair(pair.spec);
  // the same assistant, its drafts recorded as the scheduler asks for them
  const drafts: number[][] = [];
  const recording = Object.create(assistant) as Gemma4Assistant;
  recording.draft = (...args) => {
    const d = assistant.draft(...args);
    drafts.push(d);
    return d;
  };
  const engine = createEngine(model, { slots: 2, contextPerSlot: 256, assistant: recording });
  const greedy = { ...defaultSampling, temperature: 0 };
  let drafted = 0;
  let accepted = 0;
  try {
    for (const text of ['the cat sat on the mat', 'Hello, world! 1 2 3', 'a new prompt']) {
      const prompt = engine.tokenize(text);
      const plain = await collect(engine.submit({ prompt, maxTokens: MAX_TOKENS, sampling: greedy }));
      assert.is(plain.usage.speculative, undefined);
      for (let nMax = 1; nMax <= 4; nMax++) {
        // fixed length: the replay drafts n_max every step the room allows
        const speculative: SpeculativeOptions = { type: 'mtp', nMax, adaptive: false };
        drafts.length = 0;
        const spec = await collect(engine.submit({ prompt, maxTokens: MAX_TOKENS, sampling: greedy, speculative }));
        assert.equal(spec.ids, plain.ids, `mtp n_max ${nMax}: ${JSON.stringify(text)}`);
        const s = spec.usage.speculative!;
        assert.is(s.type, 'mtp');
        // the drafts the scheduler made are those of its loop replayed here (hidden row of the last kept position)
        const replay = schedulerReplay({ model, assistant }, prompt, nMax, MAX_TOKENS);
        assert.equal(drafts, replay.drafts, `drafts, n_max ${nMax}`);
        assert.equal([s.draftedTokens, s.acceptedTokens], [replay.drafted, replay.accepted], `drafted / accepted, n_max ${nMax}`);
        assert.ok(s.draftedTokens > 0 && s.acceptedTokens <= s.draftedTokens);
        assert.is(s.acceptanceRate, s.acceptedTokens / s.draftedTokens);
        assert.ok(s.tokensPerStep >= 1);
        drafted += s.draftedTokens;
        accepted += s.acceptedTokens;
      }
    }
    // two requests at once, one speculating: slots do not disturb each other's drafts
    const prompt = engine.tokenize('Once upon a time, there was a little');
    const alone = await collect(engine.submit({ prompt, maxTokens: MAX_TOKENS, sampling: greedy }));
    const [a, b] = await Promise.all([
      collect(engine.submit({ prompt, maxTokens: MAX_TOKENS, sampling: greedy, speculative: { type: 'mtp', nMax: 3 } })),
      collect(engine.submit({ prompt: engine.tokenize('the cat'), maxTokens: MAX_TOKENS, sampling: greedy, speculative: { type: 'mtp', nMax: 2 } })),
    ]);
    assert.equal(a.ids, alone.ids, 'concurrent MTP request');
    assert.ok(b.ids.length > 0);
    drafted += a.usage.speculative!.draftedTokens + b.usage.speculative!.draftedTokens;
    accepted += a.usage.speculative!.acceptedTokens + b.usage.speculative!.acceptedTokens;
    const stats = engine.stats();
    assert.is(stats.draftedTokensTotal, drafted, 'engine drafted total (/metrics)');
    assert.is(stats.acceptedTokensTotal, accepted, 'engine accepted total (/metrics)');
    assert.ok(accepted > 0, 'some MTP drafts accepted');
    console.log(`    scheduler: ${accepted}/${drafted} MTP drafts accepted (${((100 * accepted) / drafted).toFixed(1)}%)`);
  } finally {
    await engine.close();
    await model.close();
  }
});

test('errors: an assistant that does not fit its target, a non-assistant file, mtp without an assistant', async () => {
  const twelve = fixtures.find((f) => f.name.startsWith('12b'))!.fixture.pairs[0].spec;
  const e2b = fixtures.find((f) => f.name.startsWith('e2b'))!.fixture.pairs[0].spec;
  const p12 = await pairBytes(twelve);
  const pE = await pairBytes(e2b);
  const target = await loadModel(bufferSource(pE.target, 'e2b.gguf'), { core, maxBatch: MAX_BATCH });
  try {
    // the 12B-like assistant's sliding layers have 2 KV heads; the E2B-like target's last sliding layer has 1
    try {
      await loadAssistant(bufferSource(p12.assistant, 'a.gguf'), target);
      assert.unreachable('loaded a mismatched assistant');
    } catch (e) {
      assert.instance(e, ModelError);
      assert.match((e as Error).message, /cannot read the target's layer 8/);
    }
    try {
      await loadAssistant(bufferSource(p12.target, 't.gguf'), target);
      assert.unreachable('loaded a target as an assistant');
    } catch (e) {
      assert.is((e as ModelError).code, 'unsupported_arch');
    }
    try {
      await loadModel(bufferSource(pE.assistant, 'a.gguf'), { core });
      assert.unreachable('loaded an assistant alone');
    } catch (e) {
      assert.is((e as ModelError).code, 'unsupported_arch');
      assert.match((e as Error).message, /MTP drafter/);
    }
    const engine = createEngine(target, { slots: 1, contextPerSlot: 64 });
    assert.throws(
      () => engine.submit({ prompt: [2, 300], maxTokens: 4, sampling: defaultSampling, speculative: { type: 'mtp', nMax: 2 } }),
      (e: unknown) => e instanceof EngineError && /needs a Gemma 4 MTP assistant/.test(e.message),
    );
    await engine.close();
  } finally {
    await target.close();
  }
});

test.run();
