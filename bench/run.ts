/**
 * npm run bench -- --model FILE [--threads N[,N...]] [--prompt-tokens P] [--gen-tokens G] [--reps R]
 * npm run bench -- --synthetic q4_0|q8_0|... [--params 100m]
 *
 * Prefill and decode tok/s of hearth and of llama.cpp native (node-llama-cpp, same file, same thread count), side by
 * side in one run, medians of R repetitions, and the hearth ÷ llama.cpp ratios.
 *
 * Several thread counts (--threads 1,2) load the model once per count and take turns repetition by repetition, so
 * a slow spell of a shared machine falls on every count alike; the thread scaling against the first count is printed
 * from the medians and from the bests (the best of R is the uncontended speed).
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

const threadCounts = values.threads!.split(',').map(Number);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) {
  console.error(`--threads: positive integers separated by commas (got '${values.threads}')`);
  process.exit(2);
}
const P = Number(values['prompt-tokens']);
const G = Number(values['gen-tokens']);
const reps = Number(values.reps);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const best = (xs: number[]) => Math.max(...xs);

interface Speeds {
  prefill: number[];
  decode: number[];
}

let modelPath = values.model;
if (!modelPath && values.synthetic) {
  console.log(`writing synthetic ${values.synthetic} ${values.params} model (once; cached)...`);
  modelPath = await syntheticBenchModel(values.synthetic, values.params!);
}
if (!modelPath || !existsSync(modelPath)) {
  console.error('usage: npm run bench -- --model FILE | --synthetic TYPE [--params 100m] [--threads N[,N...]]');
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

/** One hearth model per thread count; repetitions alternate between them. */
async function benchHearth() {
  const runs: { threads: number; loadMs: number; engine: ReturnType<typeof createEngine>; speeds: Speeds }[] = [];
  let info = { nVocab: 0, bos: null as number | null };
  for (const threads of threadCounts) {
    const source = await fileSource(modelPath!);
    const model = await loadModel(source, { core: readNodeCoreModule(), threads });
    await source.close?.();
    info = { nVocab: model.info.vocabSize, bos: model.tokenizer.bos };
    runs.push({ threads, loadMs: model.loadMs, engine: createEngine(model, { slots: 1, contextPerSlot: P + G + 8 }), speeds: { prefill: [], decode: [] } });
  }
  const prompt = promptIds(info.nVocab, info.bos);
  for (let r = 0; r < reps; r++) {
    for (const run of runs) {
      for await (const ev of run.engine.submit({
        prompt,
        maxTokens: G,
        sampling: { ...defaultSampling, temperature: 0 },
        stopOnEog: false,
      })) {
        if (ev.type === 'done') {
          run.speeds.prefill.push(ev.timings.prefillTokS);
          run.speeds.decode.push(ev.timings.decodeTokS);
        }
      }
    }
  }
  for (const run of runs) await run.engine.close();
  return { runs, ...info };
}

/** llama.cpp: the model loaded once, a fresh context per repetition, thread counts taking turns as above. */
async function benchLlamaCpp(prompt: number[]) {
  const llama = await getLlama({ build: 'never', gpu: false, maxThreads: 0 });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: modelPath!, gpuLayers: 0 });
  const loadMs = performance.now() - t0;
  const runs = threadCounts.map((threads) => ({ threads, speeds: { prefill: [], decode: [] } as Speeds }));
  for (let r = 0; r < reps; r++) {
    for (const { threads, speeds } of runs) {
      const context = await model.createContext({ contextSize: P + G + 64, threads, flashAttention: false, batchSize: 512 });
      const seq = context.getSequence();
      const p0 = performance.now();
      const first = await seq.controlledEvaluate([...prompt.slice(0, -1), [prompt[prompt.length - 1], { generateNext: { token: true } }]] as never);
      speeds.prefill.push((P / (performance.now() - p0)) * 1000);
      const next = (first[first.length - 1] as { next?: { token?: number } })?.next?.token ?? prompt[0];
      let n = 0;
      const d0 = performance.now();
      for await (const _ of seq.evaluate([next as never], { temperature: 0 })) {
        if (++n >= G - 1) break;
      }
      speeds.decode.push((n / (performance.now() - d0)) * 1000);
      await context.dispose();
    }
  }
  await model.dispose();
  await llama.dispose();
  return { loadMs, runs };
}

const fmt = (s: Speeds) => `prefill ${median(s.prefill).toFixed(1)} tok/s (best ${best(s.prefill).toFixed(1)})  decode ${median(s.decode).toFixed(1)} tok/s (best ${best(s.decode).toFixed(1)})`;

/** Thread scaling of each count against the first, from the medians and from the bests. */
function scaling(name: string, runs: { threads: number; speeds: Speeds }[]) {
  const base = runs[0];
  for (const run of runs.slice(1)) {
    const ratio = (f: (xs: number[]) => number, key: keyof Speeds) => (f(run.speeds[key]) / f(base.speeds[key])).toFixed(2);
    console.log(
      `${name.padEnd(10)}  ${run.threads} vs ${base.threads} threads: prefill ${ratio(median, 'prefill')}x (bests ${ratio(best, 'prefill')}x)  decode ${ratio(median, 'decode')}x (bests ${ratio(best, 'decode')}x)`,
    );
  }
}

console.log(`model ${modelPath}\ncore ${nodeCoreBuild()} build, threads ${threadCounts.join(', ')}, prompt ${P} tokens, generate ${G}, medians of ${reps}`);
const h = await benchHearth();
for (const run of h.runs) console.log(`hearth     ${String(run.threads).padStart(2)}T  load ${run.loadMs.toFixed(0)} ms  ${fmt(run.speeds)}`);
if (!values['skip-llamacpp']) {
  const l = await benchLlamaCpp(promptIds(h.nVocab, h.bos));
  console.log(`llama.cpp  load ${l.loadMs.toFixed(0)} ms`);
  for (const run of l.runs) console.log(`llama.cpp  ${String(run.threads).padStart(2)}T  ${fmt(run.speeds)}`);
  for (let i = 0; i < h.runs.length; i++) {
    const a = h.runs[i].speeds, b = l.runs[i].speeds;
    console.log(
      `ratio hearth/llama.cpp ${h.runs[i].threads}T: prefill ${(median(a.prefill) / median(b.prefill)).toFixed(2)}  decode ${(median(a.decode) / median(b.decode)).toFixed(2)}`,
    );
  }
  scaling('llama.cpp', l.runs);
}
scaling('hearth', h.runs);
