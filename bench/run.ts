/**
 * npm run bench -- --model FILE [--threads N] [--prompt-tokens P] [--gen-tokens G] [--reps R]
 * npm run bench -- --synthetic q4_0|q8_0|... [--params 100m]
 *
 * Prefill and decode tok/s of hearth and of llama.cpp native (node-llama-cpp, same file, same thread count), side by
 * side in one run, medians of R repetitions, and the hearth ÷ llama.cpp ratios.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getLlama } from 'node-llama-cpp';
import { nodeCoreBuild, readNodeCoreModule } from '../src/core/node.ts';
import { defaultSampling } from '../src/engine/api.ts';
import { createEngine } from '../src/engine/engine.ts';
import { loadModel } from '../src/engine/load.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { syntheticBenchModel } from './synthetic.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    synthetic: { type: 'string' },
    params: { type: 'string', default: '100m' },
    threads: { type: 'string', default: '1' },
    'prompt-tokens': { type: 'string', default: '64' },
    'gen-tokens': { type: 'string', default: '64' },
    reps: { type: 'string', default: '3' },
    'skip-llamacpp': { type: 'boolean', default: false },
  },
});

const threads = Number(values.threads);
const P = Number(values['prompt-tokens']);
const G = Number(values['gen-tokens']);
const reps = Number(values.reps);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

let modelPath = values.model;
if (!modelPath && values.synthetic) {
  console.log(`writing synthetic ${values.synthetic} ${values.params} model (once; cached)...`);
  modelPath = await syntheticBenchModel(values.synthetic, values.params!);
}
if (!modelPath || !existsSync(modelPath)) {
  console.error('usage: npm run bench -- --model FILE | --synthetic TYPE [--params 100m] [--threads N]');
  process.exit(2);
}

/** Prompt: fixed pseudo-random non-special token ids, the same for both engines. */
function promptIds(nVocab: number, bos: number | null): number[] {
  const ids: number[] = bos === null ? [] : [bos];
  let x = 12345;
  while (ids.length < P) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids.push(259 + (x % Math.max(1, nVocab - 259)));
  }
  return ids;
}

async function benchHearth() {
  const source = await fileSource(modelPath!);
  const model = await loadModel(source, { core: readNodeCoreModule(), threads });
  await source.close?.();
  const engine = createEngine(model, { slots: 1, contextPerSlot: P + G + 8 });
  const prompt = promptIds(model.info.vocabSize, model.tokenizer.bos);
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let r = 0; r < reps; r++) {
    for await (const ev of engine.submit({
      prompt,
      maxTokens: G,
      sampling: { ...defaultSampling, temperature: 0 },
      stopOnEog: false,
    })) {
      if (ev.type === 'done') {
        prefill.push(ev.timings.prefillTokS);
        decode.push(ev.timings.decodeTokS);
      }
    }
  }
  await engine.close();
  return { loadMs: model.loadMs, prefill: median(prefill), decode: median(decode), nVocab: model.info.vocabSize, bos: model.tokenizer.bos };
}

async function benchLlamaCpp(prompt: number[]) {
  const llama = await getLlama({ build: 'never', gpu: false, maxThreads: 0 });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: modelPath!, gpuLayers: 0 });
  const loadMs = performance.now() - t0;
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let r = 0; r < reps; r++) {
    const context = await model.createContext({ contextSize: P + G + 64, threads, flashAttention: false, batchSize: 512 });
    const seq = context.getSequence();
    const p0 = performance.now();
    const first = await seq.controlledEvaluate([...prompt.slice(0, -1), [prompt[prompt.length - 1], { generateNext: { token: true } }]] as never);
    prefill.push((P / (performance.now() - p0)) * 1000);
    const next = (first[first.length - 1] as { next?: { token?: number } })?.next?.token ?? prompt[0];
    let n = 0;
    const d0 = performance.now();
    for await (const _ of seq.evaluate([next as never], { temperature: 0 })) {
      if (++n >= G - 1) break;
    }
    decode.push((n / (performance.now() - d0)) * 1000);
    await context.dispose();
  }
  await model.dispose();
  await llama.dispose();
  return { loadMs, prefill: median(prefill), decode: median(decode) };
}

console.log(`model ${modelPath}\ncore ${nodeCoreBuild()} build, threads ${threads}, prompt ${P} tokens, generate ${G}, medians of ${reps}`);
const h = await benchHearth();
console.log(`hearth      load ${h.loadMs.toFixed(0)} ms  prefill ${h.prefill.toFixed(1)} tok/s  decode ${h.decode.toFixed(1)} tok/s`);
if (!values['skip-llamacpp']) {
  const l = await benchLlamaCpp(promptIds(h.nVocab, h.bos));
  console.log(`llama.cpp   load ${l.loadMs.toFixed(0)} ms  prefill ${l.prefill.toFixed(1)} tok/s  decode ${l.decode.toFixed(1)} tok/s`);
  console.log(`ratio hearth/llama.cpp: prefill ${(h.prefill / l.prefill).toFixed(2)}  decode ${(h.decode / l.decode).toFixed(2)}`);
}
