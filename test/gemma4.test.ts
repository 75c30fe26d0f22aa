/**
 * Gemma 4 against llama.cpp native (node-llama-cpp 3.22.1), on synthetic files at toy scale:
 * - "12b-tiny" (F16): sliding/full layers with their own head counts, head dims and RoPE bases, proportional RoPE
 *   through rope_freqs, K = V on full layers, Q/K norms and the weightless V norm, GELU-tanh FFN, post-norms,
 *   layer_output_scale, embedding scale, tied head, final soft-cap;
 * - "e2b-tiny" (BF16): per-layer embeddings, KV sharing (the last 5 of 10 layers), double-wide FFN array.
 * Both with a window of 8 and maxBatch 4, so the sliding layers' 32-cell ring wraps within the 40 positions a run
 * covers and the prompt goes through in chunks. 32 greedy tokens must equal llama.cpp's and the last step's logits
 * must be within 1e-2 (they agree to ~1e-6).
 *
 * The oracle evaluates the prompt token by token: llama.cpp's batched prompt path rounds F16/BF16 matmuls
 * differently from its one-token path (~1e-2 in the logits), and our kernels give the one-token numbers at every
 * batch size.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { bufferSource } from '../src/engine/gguf/source.ts';
import { readGguf } from '../src/engine/gguf/reader.ts';
import {
  gemma4Presets,
  gemma4SyntheticIds,
  makeSyntheticGemma4,
  makeSyntheticGemma4Assistant,
  type SyntheticGemma4Options,
} from '../src/engine/gguf/synthetic-gemma4.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { encodeGguf, writeGguf, type GgufWriteSpec } from '../src/engine/gguf/writer.ts';
import { Gemma4Model, readGemma4Config } from '../src/engine/models/gemma4.ts';
import { ModelError, type ArchModel, type KvCache } from '../src/engine/models/model.ts';
import { fileSink } from '../src/host/node/file-sink.ts';
import { loadFile } from './helpers/models.ts';
import { syntheticDir } from './helpers/synthetic.ts';
import { disposeOracle, llamacppGreedy, llamacppTokenize } from './oracle/llamacpp.ts';

const prompt = [gemma4SyntheticIds.bos, 300, 301, 302, 500, 700, 42, 900];
const N = 32;
const MAX_BATCH = 4;
const CTX = 256;

async function writeCached(kind: string, options: unknown, make: () => GgufWriteSpec): Promise<string> {
  mkdirSync(syntheticDir, { recursive: true });
  const key = createHash('sha256').update(JSON.stringify({ kind, options })).digest('hex').slice(0, 16);
  const path = join(syntheticDir, `${kind}-${key}.gguf`);
  if (existsSync(path)) return path;
  const sink = await fileSink(`${path}.partial`);
  await writeGguf(sink, make());
  await sink.close();
  await rename(`${path}.partial`, path);
  return path;
}

const gemma4File = (o: SyntheticGemma4Options) => writeCached('gemma4', o, () => makeSyntheticGemma4(o));

/** Feed tokens through a fresh cache in maxBatch chunks; the logits of the last position. */
function lastLogits(arch: ArchModel, kv: KvCache, tokens: number[]): Float32Array {
  let last: Float32Array | undefined;
  for (let i = 0; i < tokens.length; i += arch.maxBatch) {
    const chunk = tokens.slice(i, i + arch.maxBatch);
    const [rows] = arch.forward([{ kv, tokens: chunk, pos0: i, logits: i + chunk.length === tokens.length ? 'last' : 'none' }]);
    last = rows[0];
  }
  return last!;
}

async function greedy(path: string): Promise<{ ids: number[]; logits: Float32Array; kv: KvCache; arch: ArchModel }> {
  const model = await loadFile(path, { maxBatch: MAX_BATCH });
  const ids: number[] = [];
  for await (const ev of generate(model, prompt, { maxTokens: N, temperature: 0, contextSize: CTX })) {
    if (ev.type === 'token') ids.push(ev.id);
  }
  // the distribution that chose the last token, recomputed through a fresh cache over the whole history
  const kv = model.arch.createKv(CTX);
  const logits = lastLogits(model.arch, kv, [...prompt, ...ids.slice(0, -1)]);
  return { ids, logits, kv, arch: model.arch };
}

function maxDiff(a: Float32Array, b: Float32Array, skip: ReadonlySet<number> = new Set()): number {
  assert.is(a.length, b.length, 'logit vector lengths');
  let d = 0;
  for (let i = 0; i < a.length; i++) if (!skip.has(i)) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test.after(async () => {
  await disposeOracle();
});

// the two presets in their float types, and the 12B layout with quantized weights (Q8_0 as ggml-org's token_embd;
// Q4_0 as the QAT release; Q4_K with a Q6_K embedding as a Q4_K_M file)
const parityCases: [string, SyntheticGemma4Options][] = [
  ['12b-tiny', gemma4Presets['12b-tiny']],
  ['e2b-tiny', gemma4Presets['e2b-tiny']],
  ['12b-tiny Q8_0', { ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q8_0 }],
  ['12b-tiny Q4_0', { ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q4_0 }],
  ['12b-tiny Q4_K + Q6_K embd', { ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q4_K, embdType: GGML_TYPE.Q6_K }],
];

for (const [name, options] of parityCases) {
  test(`${name}: 32 greedy tokens and last logits match llama.cpp; the sliding ring wraps`, async () => {
    const path = await gemma4File(options);
    const expected = await llamacppGreedy(path, prompt, N, { promptByToken: true, contextSize: CTX });
    const { ids, logits, kv } = await greedy(path);
    assert.equal(ids, expected.tokens, `${name} greedy tokens`);
    assert.ok(new Set(ids).size >= 8, `${name}: only ${new Set(ids).size} distinct tokens: a degenerate test model`);
    const d = maxDiff(logits, expected.lastLogits);
    assert.ok(d < 1e-2, `${name}: max |logit diff| ${d} ≥ 1e-2`);
    // the run really went round the ring: more positions than sliding cells
    const ring = kv.layers.find((l) => l.cellPos !== undefined)!;
    assert.ok(ring.cells! < prompt.length + N - 1, `ring of ${ring.cells} cells did not wrap`);
    console.log(`    ${name}: ${N}/${N} tokens equal, max |logit diff| ${d.toExponential(2)} (ring ${ring.cells} cells, window 8)`);
  });
}

test('e2b-tiny: KV-shared layers read the cache of the last sliding / full layer that has one', async () => {
  const model = await loadFile(await gemma4File(gemma4Presets['e2b-tiny']), { maxBatch: MAX_BATCH });
  const kv = model.arch.createKv(64);
  // layers 0-4 own their caches (S S S S F); 5-8 (sliding) read layer 3, 9 (full) reads layer 4
  for (const l of [5, 6, 7, 8]) assert.is(kv.layers[l], kv.layers[3], `layer ${l}`);
  assert.is(kv.layers[9], kv.layers[4]);
  assert.is(new Set(kv.layers.map((l) => l.k)).size, 5);
  assert.is(kv.layers[4].cellPos, undefined, 'full layers keep every position');
  assert.is(kv.layers[4].cells, 64);
});

test('suppress_tokens: generation never picks them, as llama.cpp’s sampler; raw logits otherwise equal', async () => {
  const base = gemma4Presets['12b-tiny'];
  // a quarter of the ordinary ids: unsuppressed greedy decoding is all but sure to want one of them
  const suppress = Array.from({ length: base.vocab }, (_, i) => i).filter((i) => i >= 266 && i % 4 === 0);
  const path = await gemma4File({ ...base, suppressTokens: suppress });
  const banned = new Set(suppress);
  const free = await llamacppGreedy(path, prompt, N, { promptByToken: true, contextSize: CTX });
  assert.ok(free.tokens.some((t) => banned.has(t)), 'the unsuppressed run never picks a suppressed id: the test proves nothing');
  const expected = await llamacppGreedy(path, prompt, N, { promptByToken: true, contextSize: CTX, suppressTokens: suppress });
  const { ids, logits, arch } = await greedy(path);
  assert.equal(ids, expected.tokens);
  assert.ok(!ids.some((t) => banned.has(t)));
  assert.instance(arch, Gemma4Model);
  assert.equal([...(arch as Gemma4Model).suppressTokens], suppress);
  for (const id of suppress) assert.is(logits[id], -Infinity, `logit of suppressed id ${id}`);
  const d = maxDiff(logits, expected.lastLogits, banned);
  assert.ok(d < 1e-2, `max |logit diff| ${d} ≥ 1e-2`);
});

test('sliding ring: a roll-back within the slack recomputes identical logits; a deeper one is refused', async () => {
  const model = await loadFile(await gemma4File(gemma4Presets['12b-tiny']), { maxBatch: MAX_BATCH });
  const arch = model.arch;
  const tokens = Array.from({ length: 40 }, (_, i) => 300 + ((i * 37) % 700));
  const kv = arch.createKv(CTX);
  const rows: Float32Array[] = [];
  for (let i = 0; i < tokens.length; i += MAX_BATCH) {
    rows.push(...arch.forward([{ kv, tokens: tokens.slice(i, i + MAX_BATCH), pos0: i, logits: 'all' }])[0]);
  }
  // speculative-style: drop the last 3 positions and decode them again, one batch
  const again = arch.forward([{ kv, tokens: tokens.slice(37), pos0: 37, logits: 'all' }])[0];
  for (let i = 0; i < 3; i++) assert.is(maxDiff(again[i], rows[37 + i]), 0, `position ${37 + i}`);
  // one column at a time gives the same numbers as the batched pass (batch-invariant kernels)
  const single = arch.forward([{ kv, tokens: [tokens[39]], pos0: 39, logits: 'last' }])[0][0];
  assert.is(maxDiff(single, rows[39]), 0);
  // the ring holds 32 positions (8..39): going back to 10 would need 3..9
  assert.throws(() => arch.forward([{ kv, tokens: [1], pos0: 10, logits: 'last' }]), /not in the sliding-window cache/);
  // a cache reused from position 0 (a new request in the slot) starts clean
  const fresh = lastLogits(arch, arch.createKv(CTX), tokens.slice(0, 12));
  const reused = lastLogits(arch, kv, tokens.slice(0, 12));
  assert.is(maxDiff(fresh, reused), 0);
});

test('tokenizer: the synthetic gemma4 vocabulary tokenizes as in llama.cpp; <turn|> ends generation', async () => {
  const path = await gemma4File(gemma4Presets['12b-tiny']);
  const model = await loadFile(path, { maxBatch: MAX_BATCH });
  const tok = model.tokenizer;
  assert.is(tok.model, 'gemma4');
  assert.is(tok.bos, gemma4SyntheticIds.bos);
  assert.ok(tok.isEog(gemma4SyntheticIds.turnEnd) && tok.isEog(gemma4SyntheticIds.eos) && !tok.isEog(300));
  for (const text of ['the cat sat on the mat', 'Hello, world!\n\nnew lines\n', 'émoji 🙂 bytes']) {
    assert.equal(tok.encode(text, { addSpecial: false }), await llamacppTokenize(path, text), JSON.stringify(text));
  }
  assert.is(model.info.arch, 'gemma4');
});

test('MoE (26B-A4B shape) is refused with a clear ModelError', async () => {
  const path = await gemma4File({ ...gemma4Presets['12b-tiny'], layers: 3, experts: 4 });
  try {
    await loadFile(path);
    assert.unreachable('loaded an MoE file');
  } catch (e) {
    assert.instance(e, ModelError);
    assert.is((e as ModelError).code, 'unsupported_feature');
    assert.is((e as Error).message, 'gemma4 MoE (26B-A4B) is not supported yet');
  }
});

test('config: per-layer shapes, RoPE per layer type, and bad hyper-parameters named', async () => {
  const small = { ...gemma4Presets['12b-tiny'], vocab: 512, embd: 64, ff: 128, headDim: 32, headDimFull: 64, layers: 3 };
  const g = await readGguf(bufferSource(await encodeGguf(makeSyntheticGemma4(small)), 'x.gguf'));
  const c = readGemma4Config(g);
  assert.equal(c.layers.map((l) => l.sliding), [true, true, false]);
  assert.equal(c.layers.map((l) => [l.nHeadKv, l.headDim]), [[2, 32], [2, 32], [1, 64]]);
  assert.equal([c.ropeFull.nRot, c.ropeFull.base, c.ropeSwa.nRot, c.ropeSwa.base], [64, 1e6, 32, 1e4]);
  assert.equal([c.window, c.softcap, c.nEmbdPerLayer], [8, 30, 0]);
  const broken = (key: string, value: unknown, pattern: RegExp) => {
    const meta = new Map(g.metadata);
    meta.set(key, value as never);
    assert.throws(() => readGemma4Config({ ...g, metadata: meta }), pattern, key);
  };
  broken('gemma4.attention.head_count_kv', Int32Array.of(3, 3, 1), /3 KV heads/);
  broken('gemma4.attention.sliding_window_pattern', [true, false], /2 entries for 3 layers/);
  broken('gemma4.attention.value_length', 32, /value_length must equal key_length/);
  broken('gemma4.attention.shared_kv_layers', 2, /fewer than 2 layers/);
  // sharing from a 3-layer S S F model with 1 shared layer: layer 2 (full) would read layer 1 (sliding)
  broken('gemma4.attention.shared_kv_layers', 1, /attention type or KV shape differs/);
});

test('gemma4-assistant (MTP drafter) writer: llama.cpp loads the file; hearth says it cannot run it alone', async () => {
  const target = gemma4Presets['12b-tiny'];
  const opts = { target, embd: 128, layers: 4, ff: 256 };
  const path = await writeCached('gemma4-assistant', opts, () => makeSyntheticGemma4Assistant(opts));
  assert.ok((await llamacppTokenize(path, 'the cat')).length > 1, 'llama.cpp loaded the assistant');
  try {
    await loadFile(path);
    assert.unreachable();
  } catch (e) {
    assert.is((e as ModelError).code, 'unsupported_arch');
  }
});

test('12B-shaped Q4_0 writer: the full layout is planned without generating 7 GB', async () => {
  const spec = makeSyntheticGemma4(gemma4Presets['12b-full']);
  const names = new Set(spec.tensors.map((t) => t.name));
  assert.is(spec.tensors.length, 48 * 13 + 40 + 3, 'tensor count of the real 12B (spec §4)');
  assert.ok(!names.has('blk.5.attn_v.weight') && names.has('blk.4.attn_v.weight'), 'K = V on full layers');
  const q = spec.tensors.find((t) => t.name === 'blk.5.attn_q.weight')!;
  assert.equal([q.dims, q.type], [[3840, 8192], GGML_TYPE.Q4_0]);
});

test.run();
