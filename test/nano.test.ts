/**
 * hearth-nano (models/, trained by scripts/nano/train.py) against its PyTorch reference and against llama.cpp:
 * - text, image and audio prompts: hearth's last-position logits are within 1e-3 relative (max |diff| / max |ref|)
 *   of test/fixtures/nano/reference.json (scripts/nano/reference.py: the PyTorch forward on the GGUF-rounded weights
 *   with llama.cpp's CPU rounding), and hearth's greedy answer equals the reference's. Image and audio go the engine's
 *   way: the fixture's PNG / WAV decoded by src/media, patches / frames, the mmproj's projector, embedding rows in the
 *   prompt (the image span one non-causal batch);
 * - one prompt longer than the sliding window;
 * - node-llama-cpp loads the text GGUF and its greedy tokens equal hearth's;
 * - the MTP assistant drafts the reference's tokens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultSampling } from '../src/engine/api.ts';
import { createEngine } from '../src/engine/engine.ts';
import { generate } from '../src/engine/generate.ts';
import type { Model } from '../src/engine/load.ts';
import { loadAssistant } from '../src/engine/load.ts';
import type { KvCache } from '../src/engine/models/model.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { decodeAudio } from '../src/media/audio.ts';
import { audioFrames } from '../src/media/gemma4-audio.ts';
import { imagePatches } from '../src/media/gemma4-image.ts';
import { decodeImage } from '../src/media/image.ts';
import { loadFile, repoRoot } from './helpers/models.ts';
import { disposeOracle, llamacppGreedy } from './oracle/llamacpp.ts';

const MODEL = join(repoRoot, 'models/hearth-nano.gguf');
const MMPROJ = join(repoRoot, 'models/hearth-nano-mmproj.gguf');
const ASSISTANT = join(repoRoot, 'models/hearth-nano-assistant.gguf');
const FIXTURES = join(repoRoot, 'test/fixtures/nano');
const MAX_BATCH = 128;
const CTX = 512;
const REL = 1e-3;

interface Prompt {
  name: string;
  ids: number[];
  logits: number[];
  greedy: number[];
  answer: number[] | null;
  media?: { kind: 'image' | 'audio'; file: string; start: number; rows: number };
}
interface Reference { prompts: Prompt[]; drafts?: { ids: number[]; drafts: number[] }[] }

function need(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: train and export hearth-nano (npm run train:nano) or restore models/`);
  return path;
}

const ref = JSON.parse(readFileSync(need(join(FIXTURES, 'reference.json')), 'utf8')) as Reference;
let model: Model | undefined;
async function nano(): Promise<Model> {
  if (!model) {
    const mmproj = await fileSource(need(MMPROJ));
    try {
      model = await loadFile(need(MODEL), { maxBatch: MAX_BATCH, mmproj });
    } finally {
      await mmproj.close?.();
    }
  }
  return model;
}

/** The prompt's embedding rows for its media span, made as the engine makes them from the file's bytes. */
function mediaRows(m: Model, media: NonNullable<Prompt['media']>): Float32Array {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, media.file)));
  if (!m.projector || !m.media) throw new Error('hearth-nano loaded without its projector');
  if (media.kind === 'image') {
    const img = m.media.image!;
    const p = imagePatches(decodeImage(bytes), img.mean, img.std, { minTokens: img.minTokens, maxTokens: img.maxTokens });
    assert.is(p.tokens, media.rows, `${media.file}: soft tokens`);
    return m.projector.projectImage(p.data, p.tokens, p.cols);
  }
  const f = audioFrames(decodeAudio(bytes));
  assert.is(f.frames, media.rows, `${media.file}: frames`);
  return m.projector.projectAudio(f.data, f.frames);
}

/** Prefill a prompt as the scheduler does (text in maxBatch chunks, a media span as one batch); last logits. */
function prefill(m: Model, p: Prompt, kv: KvCache, hidden?: Float32Array[]): Float32Array {
  const E = m.projector?.embd ?? 0;
  const spans: { from: number; to: number; rows?: Float32Array; nonCausal?: boolean }[] = [];
  if (p.media) {
    const rows = mediaRows(m, p.media);
    assert.is(rows.length, p.media.rows * E, 'projector rows');
    spans.push({ from: 0, to: p.media.start }, { from: p.media.start, to: p.media.start + p.media.rows, rows, nonCausal: p.media.kind === 'image' });
    spans.push({ from: p.media.start + p.media.rows, to: p.ids.length });
  } else spans.push({ from: 0, to: p.ids.length });
  let last: Float32Array | undefined;
  for (const s of spans) {
    const step = s.rows ? s.to - s.from : MAX_BATCH;
    for (let i = s.from; i < s.to; i += step) {
      const end = Math.min(s.to, i + step);
      const isLast = end === p.ids.length;
      const [rows] = m.arch.forward([{
        kv, tokens: p.ids.slice(i, end), pos0: i, logits: isLast ? 'last' : 'none', hidden: isLast ? hidden : undefined,
        ...(s.rows ? { embeddings: s.rows.subarray((i - s.from) * E, (end - s.from) * E), nonCausal: s.nonCausal } : {}),
      }]);
      if (isLast) last = rows[0];
    }
  }
  return last!;
}

function relDiff(got: Float32Array, want: number[]): number {
  assert.is(got.length, want.length, 'vocabulary size');
  let d = 0;
  let top = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    top = Math.max(top, Math.abs(want[i]));
  }
  return d / top;
}

const argmax = (x: Float32Array) => x.reduce((b, v, i) => (v > x[b] ? i : b), 0);

test.after(async () => {
  await disposeOracle();
  model?.close();
});

for (const p of ref.prompts) {
  test(`${p.name}: logits within ${REL} relative of the PyTorch reference, same greedy answer`, async () => {
    const m = await nano();
    const kv = m.arch.createKv(CTX);
    const logits = prefill(m, p, kv);
    const rel = relDiff(logits, p.logits);
    assert.ok(rel < REL, `${p.name}: max |logit diff| / max |logit| = ${rel.toExponential(2)} ≥ ${REL}`);
    // greedy continuation on the same cache, one token at a time (the engine's decode path)
    const out = [argmax(logits)];
    while (out.length < p.greedy.length && !m.tokenizer.isEog(out[out.length - 1])) {
      const [[row]] = m.arch.forward([{ kv, tokens: [out[out.length - 1]], pos0: p.ids.length + out.length - 1, logits: 'last' }]);
      out.push(argmax(row));
    }
    assert.equal(out, p.greedy, `${p.name}: greedy answer`);
    console.log(`    ${p.name}: rel ${rel.toExponential(2)}, greedy ${m.tokenizer.decode(out.filter((t) => !m.tokenizer.isEog(t)))}${p.answer ? ` (${out.length === p.answer.length && out.every((t, i) => t === p.answer![i]) ? 'right' : 'wrong'})` : ''}`);
  });
}

test('image and audio prompts through the engine (GenerateRequest.media): the reference\'s greedy answers', async () => {
  const m = await nano();
  const withMedia = ref.prompts.filter((p) => p.media);
  assert.ok(withMedia.some((p) => p.media!.kind === 'image') && withMedia.some((p) => p.media!.kind === 'audio'), 'fixtures with image and audio');
  const engine = createEngine(m, { slots: 1, contextPerSlot: CTX });
  try {
    for (const p of withMedia) {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, p.media!.file)));
      const img = m.media!.image!;
      const input = p.media!.kind === 'image'
        ? imagePatches(decodeImage(bytes), img.mean, img.std, { minTokens: img.minTokens, maxTokens: img.maxTokens })
        : undefined;
      const span = input
        ? { start: p.media!.start, kind: 'image' as const, rows: input.tokens, input: input.data, cols: input.cols }
        : { start: p.media!.start, kind: 'audio' as const, rows: p.media!.rows, input: audioFrames(decodeAudio(bytes)).data };
      const ids: number[] = [];
      for await (const ev of engine.submit({ prompt: p.ids, media: [span], maxTokens: p.greedy.length, sampling: { ...defaultSampling, temperature: 0 } })) {
        if (ev.type === 'token') ids.push(ev.id);
      }
      const want = p.greedy.filter((t) => !m.tokenizer.isEog(t));
      assert.equal(ids, want, `${p.name}: engine greedy answer`);
    }
  } finally {
    await engine.close();
  }
});

test('node-llama-cpp loads hearth-nano.gguf and its greedy text equals hearth\'s', async () => {
  const m = await nano();
  const texts = ref.prompts.filter((p) => !p.media);
  assert.ok(texts.length >= 2, 'the fixtures hold text prompts');
  for (const p of texts) {
    const n = 8;
    const ours: number[] = [];
    for await (const ev of generate(m, p.ids, { maxTokens: n, temperature: 0, contextSize: CTX })) {
      if (ev.type === 'token') ours.push(ev.id);
    }
    const theirs = await llamacppGreedy(MODEL, p.ids, ours.length, { promptByToken: true, contextSize: CTX });
    assert.equal(theirs.tokens, ours, `${p.name}: llama.cpp greedy`);
  }
});

test('the MTP assistant drafts the reference\'s tokens', async () => {
  assert.ok(ref.drafts && ref.drafts.length > 0, 'reference.json has no drafts (train with --assistant-steps)');
  const m = await nano();
  const source = await fileSource(need(ASSISTANT));
  const assistant = await loadAssistant(source, m).finally(() => source.close?.());
  for (const d of ref.drafts!) {
    const kv = m.arch.createKv(CTX);
    const hidden: Float32Array[] = [];
    prefill(m, { name: 'draft', ids: d.ids.slice(0, -1), logits: [], greedy: [], answer: null }, kv, hidden);
    const got = assistant.draft(kv, d.ids[d.ids.length - 1], hidden[0], d.drafts.length);
    assert.equal(got, d.drafts, 'draft tokens');
  }
});

test.run();
