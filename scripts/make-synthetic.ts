/**
 * Write a synthetic llama-architecture GGUF (src/engine/gguf/synthetic.ts) to a file, streaming:
 *
 *   npx tsx scripts/make-synthetic.ts --arch llama --type q4_0 --embd 256 --layers 4 --heads 4 --kv-heads 2 \
 *     --ff 768 --vocab 1024 --ctx 512 --seed 1 --out /tmp/x.gguf [--embd-type q8_0] [--tied] [--rope-freqs] [--f32-twin]
 *
 * or a synthetic gemma4 model (src/engine/gguf/synthetic-gemma4.ts) from a preset, optionally with other weight types,
 * or the gemma4-assistant (MTP drafter) shaped for that preset's target:
 *
 *   npx tsx scripts/make-synthetic.ts --arch gemma4 --preset 12b-tiny|e2b-tiny|12b-full [--type q8_0] [--embd-type q8_0] --out x.gguf
 *   npx tsx scripts/make-synthetic.ts --arch gemma4-assistant --preset 12b-full --out assistant.gguf
 *
 * A gemma4 text model with Gemma 4's six media tokens (--media-tokens; needed beside an mmproj), and the multimodal
 * projector for a preset (src/engine/gguf/synthetic-mmproj.ts: gemma4uv + gemma4ua, projection_dim = the preset's
 * width; --type sets the input projections' type, default f16; --patch-type f16|f32; --no-vision / --no-audio):
 *
 *   npx tsx scripts/make-synthetic.ts --arch gemma4 --preset 12b-full --media-tokens --out text.gguf
 *   npx tsx scripts/make-synthetic.ts --arch mmproj --preset 12b-full --out mmproj.gguf
 */
import { parseArgs } from 'node:util';
import { rename } from 'node:fs/promises';
import { makeSyntheticLlama } from '../src/engine/gguf/synthetic.ts';
import { gemma4Presets, makeSyntheticGemma4, makeSyntheticGemma4Assistant } from '../src/engine/gguf/synthetic-gemma4.ts';
import { makeSyntheticMmproj, withMediaTokens } from '../src/engine/gguf/synthetic-mmproj.ts';
import { ggmlTypes } from '../src/engine/gguf/types.ts';
import { quantizableTypes } from '../src/engine/gguf/quantize.ts';
import { layoutGguf, writeGguf } from '../src/engine/gguf/writer.ts';
import { fileSink } from '../src/host/node/file-sink.ts';

const { values: a } = parseArgs({
  options: {
    arch: { type: 'string', default: 'llama' },
    type: { type: 'string' },
    preset: { type: 'string' },
    'embd-type': { type: 'string' },
    embd: { type: 'string', default: '256' },
    layers: { type: 'string', default: '4' },
    heads: { type: 'string', default: '4' },
    'kv-heads': { type: 'string' },
    ff: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '1024' },
    ctx: { type: 'string', default: '512' },
    seed: { type: 'string', default: '1' },
    tied: { type: 'boolean', default: false },
    'rope-freqs': { type: 'boolean', default: false },
    'f32-twin': { type: 'boolean', default: false },
    'media-tokens': { type: 'boolean', default: false },
    'patch-type': { type: 'string', default: 'f16' },
    'no-vision': { type: 'boolean', default: false },
    'no-audio': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`make-synthetic: ${message}`);
  process.exit(2);
}

function typeId(name: string): number {
  const t = ggmlTypes.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!t || !quantizableTypes.includes(t.id)) {
    const names = quantizableTypes.map((id) => ggmlTypes.find((x) => x.id === id)!.name).join(', ');
    fail(`unknown or unsupported type '${name}' (one of: ${names})`);
  }
  return t.id;
}

function int(name: keyof typeof a): number {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v <= 0) fail(`--${name} must be a positive integer`);
  return v;
}

if (!['llama', 'gemma4', 'gemma4-assistant', 'mmproj'].includes(a.arch!)) fail(`--arch must be llama, gemma4, gemma4-assistant or mmproj`);
if (!a.out) fail('--out PATH is required');

function gemma4Spec() {
  const names = Object.keys(gemma4Presets);
  if (!a.preset || !names.includes(a.preset)) fail(`--arch ${a.arch} needs --preset (one of: ${names.join(', ')})`);
  const preset = gemma4Presets[a.preset as keyof typeof gemma4Presets];
  const target = {
    ...preset,
    ...(a.type ? { type: typeId(a.type) } : {}),
    ...(a['embd-type'] ? { embdType: typeId(a['embd-type']) } : {}),
  };
  if (a.arch === 'gemma4') return a['media-tokens'] ? withMediaTokens(makeSyntheticGemma4(target)) : makeSyntheticGemma4(target);
  if (a.arch === 'mmproj') {
    const t = a.type ? typeId(a.type) : typeId('f16');
    return makeSyntheticMmproj({ embd: preset.embd, vision: !a['no-vision'], audio: !a['no-audio'], seed: Number(a.seed),
      patchType: typeId(a['patch-type']!), projType: t, audioProjType: t });
  }
  // the 12B's assistant is 4 layers of width 1024 (spec §10.1); the toy targets get a toy one
  const big = a.preset === '12b-full';
  return makeSyntheticGemma4Assistant({ target, embd: big ? 1024 : 128, layers: 4, ff: big ? 8192 : 256 });
}

let spec;
try {
  spec = a.arch === 'llama' ? makeSyntheticLlama({
    type: typeId(a.type ?? 'f32'),
    embdType: a['embd-type'] ? typeId(a['embd-type']) : undefined,
    embd: int('embd'),
    layers: int('layers'),
    heads: int('heads'),
    kvHeads: a['kv-heads'] ? int('kv-heads') : int('heads'),
    ff: int('ff'),
    vocab: int('vocab'),
    ctx: int('ctx'),
    seed: Number(a.seed),
    tiedOutput: a.tied,
    ropeFreqs: a['rope-freqs'],
    f32Twin: a['f32-twin'],
  }) : gemma4Spec();
} catch (e) {
  fail((e as Error).message);
}

const total = layoutGguf(spec).size;
const started = Date.now();
let lastReport = 0;
// write to a temporary name first, so an interrupted run never leaves a truncated file that looks finished
const partial = `${a.out}.partial`;
const sink = await fileSink(partial);
try {
  await writeGguf(sink, spec, (written) => {
    const now = Date.now();
    if (total > 64 << 20 && now - lastReport > 2000) {
      lastReport = now;
      const mb = written / 2 ** 20;
      process.stderr.write(`  ${mb.toFixed(0)} / ${(total / 2 ** 20).toFixed(0)} MiB (${(mb / ((now - started) / 1000)).toFixed(0)} MiB/s)\n`);
    }
  });
} finally {
  await sink.close();
}
await rename(partial, a.out);
console.log(`wrote ${a.out}: ${total} bytes, ${spec.tensors.length} tensors, ${((Date.now() - started) / 1000).toFixed(1)} s`);
