/**
 * Gemma 4 projectors (gemma4uv / gemma4ua) and the engine's media path against llama.cpp: the golden continuations of
 * test/fixtures/multimodal/*.json (scripts/mtmd-fixtures.ts, from llama-mtmd-cli) for image, resized image, audio
 * and several media in one prompt, with the media decoded and preprocessed by src/media. Plus loading errors, an
 * image larger than the batch, and speculative decoding after media.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import { defaultSampling, EngineError, type Engine, type MediaSpan } from '../src/engine/api.ts';
import { createEngine } from '../src/engine/engine.ts';
import { bufferSource } from '../src/engine/gguf/source.ts';
import { gemma4Presets, makeSyntheticGemma4, makeSyntheticGemma4Assistant } from '../src/engine/gguf/synthetic-gemma4.ts';
import { makeSyntheticMmproj, withMediaTokens } from '../src/engine/gguf/synthetic-mmproj.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { encodeGguf } from '../src/engine/gguf/writer.ts';
import { loadAssistant, loadModel, type Model } from '../src/engine/load.ts';
import { ModelError } from '../src/engine/models/model.ts';
import { imagePatches } from '../src/media/gemma4-image.ts';
import { decodeImage } from '../src/media/image.ts';
import { fixtureMmproj, fixtureMmprojOptions, fixtureTextModel, MEDIA_MARKER, mediaFile, testPicture, type MediaInput } from './fixtures/multimodal/inputs.ts';
import { layoutByHand } from './helpers/media-model.ts';
import { repoRoot } from './helpers/models.ts';

interface Fixture {
  name: string;
  mmproj: typeof fixtureMmprojOptions;
  prompt: string;
  media: MediaInput[];
  mediaRows: number[];
  nPredict: number;
  lastMediaEmbeddings: { rows: number; embd: number; sha256: string; head: number[] };
  continuation: string;
  continuationHex: string;
}

const fixtureDir = join(repoRoot, 'test/fixtures/multimodal');
const fixtures: Fixture[] = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(fixtureDir, f), 'utf8')) as Fixture);

const core = readNodeCoreModule();
const greedy = { ...defaultSampling, temperature: 0 };
let textBytes: Uint8Array;
let mmprojBytes: Uint8Array;
let model: Model;
let engine: Engine;

test.before(async () => {
  textBytes = await encodeGguf(fixtureTextModel());
  mmprojBytes = await encodeGguf(fixtureMmproj());
  model = await loadModel(bufferSource(textBytes, 'text.gguf'), { core, threads: 1, mmproj: bufferSource(mmprojBytes, 'mmproj.gguf') });
  engine = createEngine(model, { contextPerSlot: 2048 });
});

test.after(async () => {
  await engine.close();
  await model.close();
});

/** The prompt as llama.cpp mtmd lays it out: BOS, text pieces, and begin + rows × placeholder + end per media item. */
function buildPrompt(e: Engine, f: Fixture): { prompt: number[]; media: MediaSpan[] } {
  assert.is(f.prompt.split(MEDIA_MARKER).length - 1, f.media.length, `${f.name}: markers vs media`);
  return layoutByHand(e, f.prompt, f.media.map((item) => ({ kind: item.kind, bytes: mediaFile(item).bytes })));
}

async function run(e: Engine, request: Parameters<Engine['submit']>[0]): Promise<{ ids: number[]; usage: unknown }> {
  const ids: number[] = [];
  let usage: unknown;
  for await (const ev of e.submit(request)) {
    if (ev.type === 'token') ids.push(ev.id);
    else usage = ev.usage;
  }
  return { ids, usage };
}

const hex = (ids: number[]) => Buffer.concat(ids.map((id) => Buffer.from(model.tokenizer.tokenBytes(id, true)))).toString('hex');

test('fixtures exist and were made with the projector options the test builds', () => {
  assert.ok(fixtures.length >= 4, `expected the fixtures of scripts/mtmd-fixtures.ts in ${fixtureDir}`);
  for (const f of fixtures) assert.equal(f.mmproj, JSON.parse(JSON.stringify(fixtureMmprojOptions)), f.name);
});

test('engine.media: capability and the media token ids, looked up by text', () => {
  const m = engine.media!;
  assert.ok(m.image && m.audio);
  assert.equal(m.image.mean.map(Math.fround), fixtureMmprojOptions.imageMean!.map(Math.fround));
  assert.is(m.image.maxTokens, 1120);
  assert.is(m.image.minTokens, 70);
  for (const [key, text] of Object.entries({ imageBegin: '<|image>', imageEnd: '<image|>', imageSoft: '<|image|>', audioBegin: '<|audio>', audioEnd: '<audio|>', audioSoft: '<|audio|>' })) {
    assert.is(m.tokens[key as keyof typeof m.tokens], model.tokenizer.tokenId(text), key);
  }
  // an image block is decoded as one batch: the batch holds the largest image
  assert.ok(model.arch.maxBatch >= 1120);
});

for (const f of fixtures) {
  test(`${f.name}: greedy continuation equals llama-mtmd-cli's`, async () => {
    const { prompt, media } = buildPrompt(engine, f);
    assert.equal(media.map((m) => m.rows), f.mediaRows, 'soft tokens per media item (llama.cpp decoded these many rows)');
    const { ids, usage } = await run(engine, { prompt, media, maxTokens: f.nPredict, sampling: greedy });
    assert.is((usage as { promptTokens: number }).promptTokens, prompt.length, 'usage counts the soft tokens');
    assert.is(hex(ids), f.continuationHex, `hearth: ${JSON.stringify(engine.detokenize(ids))}\nllama: ${JSON.stringify(f.continuation)}`);
  });
}

for (const f of fixtures) {
  test(`${f.name}: the projector's rows equal llama.cpp's clip output bit for bit`, () => {
    const { media } = buildPrompt(engine, f);
    const span = media[media.length - 1];
    const rows = span.kind === 'image' ? model.projector!.projectImage(span.input, span.rows, span.cols!) : model.projector!.projectAudio(span.input, span.rows);
    const want = f.lastMediaEmbeddings;
    assert.is(rows.length, want.rows * want.embd);
    assert.equal(Array.from(rows.subarray(0, want.head.length)), want.head);
    assert.is(createHash('sha256').update(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength)).digest('hex'), want.sha256);
  });
}

test('the 480×336 image needs no resize: its patches are the raw pixels, CHW, normalized', () => {
  const f = fixtures.find((x) => x.name === 'image-480x336')!;
  const item = f.media[0] as Extract<MediaInput, { kind: 'image' }>;
  const p = imagePatches(decodeImage(mediaFile(item).bytes), engine.media!.image!.mean, engine.media!.image!.std);
  assert.is(p.cols, 10);
  assert.is(p.tokens, 70);
  const px = testPicture(480, 336, item.seed);
  const [mean, std] = [engine.media!.image!.mean, engine.media!.image!.std].map((a) => a.map(Math.fround));
  for (const [k, c, r, q] of [[0, 0, 0, 0], [13, 2, 47, 5], [69, 1, 20, 47]]) {
    const x = 48 * (k % 10) + q, y = 48 * Math.floor(k / 10) + r;
    const want = Math.fround(Math.fround(Math.fround(px[(y * 480 + x) * 3 + c] / 255) - mean[c]) / std[c]);
    assert.is(p.data[k * 6912 + c * 2304 + r * 48 + q], want);
  }
});

test('audio in chunks smaller than the span (audio-only mmproj, batch 8) gives the same continuation', async () => {
  const audioOnly = await encodeGguf(makeSyntheticMmproj({ ...fixtureMmprojOptions, vision: false }));
  const m = await loadModel(bufferSource(textBytes, 'text.gguf'), { core, threads: 1, maxBatch: 8, mmproj: bufferSource(audioOnly, 'a.gguf') });
  try {
    assert.is(m.arch.maxBatch, 8);
    assert.is(m.media!.image, null);
    const e = createEngine(m, { contextPerSlot: 2048 });
    const f = fixtures.find((x) => x.name === 'audio-1s')!;
    const { prompt, media } = buildPrompt(e, f);
    const { ids } = await run(e, { prompt, media, maxTokens: f.nPredict, sampling: greedy });
    assert.is(hex(ids), f.continuationHex);
    // the same model refuses images
    assert.throws(
      () => e.submit({ prompt: [...prompt.slice(0, 1), ...new Array(70).fill(m.media!.tokens.imageSoft)], maxTokens: 1, sampling: greedy, media: [{ start: 1, kind: 'image', rows: 70, input: new Float32Array(70 * 6912), cols: 10 }] }),
      (err: unknown) => err instanceof EngineError && err.code === 'invalid_request' && /takes no images/.test(err.message),
    );
    await e.close();
  } finally {
    await m.close();
  }
});

test('an image with more soft tokens than one batch holds is a clear invalid_request', async () => {
  const m = await loadModel(bufferSource(textBytes, 'text.gguf'), { core, threads: 1, imageMaxTokens: 80, mmproj: bufferSource(mmprojBytes, 'mmproj.gguf') });
  try {
    assert.is(m.arch.maxBatch, 80);
    const e = createEngine(m, { contextPerSlot: 2048 });
    const t = e.media!.tokens;
    const rows = 96;
    const prompt = [2, t.imageBegin, ...new Array(rows).fill(t.imageSoft), t.imageEnd];
    assert.throws(
      () => e.submit({ prompt, maxTokens: 1, sampling: greedy, media: [{ start: 2, kind: 'image', rows, input: new Float32Array(rows * 6912), cols: 12 }] }),
      (err: unknown) => err instanceof EngineError && err.code === 'invalid_request' && /does not fit one batch of 80/.test(err.message),
    );
    await e.close();
  } finally {
    await m.close();
  }
});

test('media spans are checked against the prompt', () => {
  const t = engine.media!.tokens;
  const prompt = [2, t.audioBegin, t.audioSoft, t.audioSoft, t.audioEnd, 30];
  const input = new Float32Array(2 * 640);
  const bad: [MediaSpan[], RegExp][] = [
    [[{ start: 1, kind: 'audio', rows: 2, input }], /not the audio placeholder/],
    [[{ start: 2, kind: 'audio', rows: 2, input: new Float32Array(5) }], /must hold 2 × 640/],
    [[{ start: 5, kind: 'audio', rows: 2, input }], /outside the prompt/],
    [[{ start: 2, kind: 'image', rows: 2, input: new Float32Array(2 * 6912), cols: 2 }], /image placeholder/],
    [[{ start: 2, kind: 'audio', rows: 2, input }, { start: 3, kind: 'audio', rows: 1, input: new Float32Array(640) }], /overlaps/],
  ];
  for (const [media, re] of bad) {
    assert.throws(() => engine.submit({ prompt, maxTokens: 1, sampling: greedy, media }), (err: unknown) => err instanceof EngineError && err.code === 'invalid_request' && re.test(err.message), String(re));
  }
});

test('media sent to a model without an mmproj is refused', async () => {
  const m = await loadModel(bufferSource(textBytes, 'text.gguf'), { core, threads: 1 });
  try {
    const e = createEngine(m, { contextPerSlot: 512 });
    assert.is(e.media, undefined);
    assert.throws(
      () => e.submit({ prompt: [2, 1020], maxTokens: 1, sampling: greedy, media: [{ start: 1, kind: 'image', rows: 1, input: new Float32Array(6912), cols: 1 }] }),
      (err: unknown) => err instanceof EngineError && err.code === 'invalid_request' && /no image or audio input/.test(err.message),
    );
    await e.close();
  } finally {
    await m.close();
  }
});

test('loading errors: wrong arch, unsupported projector, width mismatch, text model without media tokens', async () => {
  const load = (mm: Uint8Array, text = textBytes) => loadModel(bufferSource(text, 'text.gguf'), { core, threads: 1, mmproj: bufferSource(mm, 'mm.gguf') });
  const rejects = async (p: Promise<Model>, re: RegExp) => {
    try {
      const m = await p;
      await m.close();
    } catch (err) {
      assert.ok(err instanceof ModelError, String(err));
      assert.match((err as Error).message, re);
      return;
    }
    assert.unreachable(`expected ${re}`);
  };
  await rejects(load(textBytes), /general\.architecture is 'gemma4', expected 'clip'/);
  await rejects(loadModel(bufferSource(mmprojBytes, 'mm.gguf'), { core, threads: 1 }), /a clip file is a multimodal projector/);
  const spec = makeSyntheticMmproj({ ...fixtureMmprojOptions, audio: false });
  const gemma3 = { ...spec, metadata: [...spec.metadata].map(([k, v]) => [k, k === 'clip.vision.projector_type' ? { type: 8, value: 'gemma3' } : v] as const) };
  await rejects(load(await encodeGguf(gemma3)), /vision projector type 'gemma3' is not supported/);
  await rejects(load(await encodeGguf(makeSyntheticMmproj({ ...fixtureMmprojOptions, embd: 128, posRows: 16, projType: GGML_TYPE.F16 }))), /projection_dim is 128 but the text model's embedding_length is 256/);
  const plain = await encodeGguf(makeSyntheticGemma4({ ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q6_K }));
  await rejects(load(mmprojBytes, plain), /has no '<\|image>' token/);
});

test('speculative decoding (ngram) after an image gives the greedy continuation', async () => {
  const f = fixtures.find((x) => x.name === 'image-480x336')!;
  const { prompt, media } = buildPrompt(engine, f);
  const { ids, usage } = await run(engine, { prompt, media, maxTokens: f.nPredict, sampling: greedy, speculative: { type: 'ngram', nMax: 4 } });
  assert.is(hex(ids), f.continuationHex);
  assert.ok((usage as { speculative?: { draftedTokens: number } }).speculative!.draftedTokens > 0, 'it drafted');
});

test('MTP speculative decoding after an image and after audio gives the greedy continuation', async () => {
  const target = { ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q6_K };
  const assistantBytes = await encodeGguf(makeSyntheticGemma4Assistant({ target, embd: 128, layers: 4, ff: 256, type: GGML_TYPE.Q8_0 }));
  const m = await loadModel(bufferSource(textBytes, 'text.gguf'), { core, threads: 1, mmproj: bufferSource(mmprojBytes, 'mmproj.gguf') });
  try {
    const assistant = await loadAssistant(bufferSource(assistantBytes, 'assistant.gguf'), m);
    const e = createEngine(m, { contextPerSlot: 2048, assistant });
    for (const name of ['image-480x336', 'audio-1s']) {
      const f = fixtures.find((x) => x.name === name)!;
      const { ids, usage } = await run(e, { ...buildPrompt(e, f), maxTokens: f.nPredict, sampling: greedy, speculative: { type: 'mtp', nMax: 3 } });
      assert.is(hex(ids), f.continuationHex, name);
      assert.ok((usage as { speculative?: { draftedTokens: number } }).speculative!.draftedTokens > 0, `${name}: it drafted`);
    }
    await e.close();
  } finally {
    await m.close();
  }
});

test('two requests with media in two slots at once give each its own continuation', async () => {
  const e = createEngine(model, { contextPerSlot: 1024, slots: 2 });
  try {
    const [fa, fb] = [fixtures.find((x) => x.name === 'image-100x70')!, fixtures.find((x) => x.name === 'audio-1s')!];
    const [ra, rb] = await Promise.all([fa, fb].map((f) => run(e, { ...buildPrompt(e, f), maxTokens: f.nPredict, sampling: greedy })));
    assert.is(hex(ra.ids), fa.continuationHex);
    assert.is(hex(rb.ids), fb.continuationHex);
  } finally {
    await e.close();
  }
});

test.run();
