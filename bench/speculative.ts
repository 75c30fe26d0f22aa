/**
 * npx tsx bench/speculative.ts [--model FILE] [--threads N] [--reps R] [--verify-only] [--no-llamacpp]  (verify-only:
 * the verification costs alone, for big models; threads: the loader's default, by model size, unless given)
 *
 * 1. Verification cost: one target forward over 1 + k tokens (a k-token draft) vs a 1-token step, k = 1..4 — the
 *    reason speculation pays: a step streams the weights once however many columns it scores. The same for
 *    llama.cpp native (node-llama-cpp, same file and thread count, every position's logits as a verification
 *    needs; with --verify-only after hearth's model is closed): where a step is compute-bound rather than
 *    memory-bound, a wider step costs more there as well.
 * 2. n-gram drafting on a repetitive prompt (stories260K by default): decode tok/s and tokens per step, with and
 *    without speculation, fixed and adaptive draft length, greedy (identical text either way).
 */
import { parseArgs } from 'node:util';
import { defaultSampling, type SpeculativeOptions } from '../src/engine/api.ts';
import { createEngine } from '../src/engine/engine.ts';
import { loadFile, sharedModel } from '../test/helpers/models.ts';
import { nodeCoreBuild } from '../src/core/node.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    threads: { type: 'string' },
    reps: { type: 'string', default: '5' },
    'verify-only': { type: 'boolean', default: false },
    'no-llamacpp': { type: 'boolean', default: false },
  },
});
const reps = Number(values.reps);
const path = values.model ?? sharedModel('stories260K.gguf');
const model = await loadFile(path, values.threads ? { threads: Number(values.threads) } : {});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

console.log(`model ${path} (core ${nodeCoreBuild()} build, ${model.kernels.threads} threads)`);
console.log('\nverification cost of a k-token draft (one forward of 1 + k tokens) vs a 1-token step');
const kv = model.arch.createKv(512);
const base = model.tokenizer.encode('Once upon a time there was a little girl');
model.arch.forward([{ kv, tokens: base, pos0: 0, logits: 'last' }]);
// The widths take turns, round after round, and each k is judged by the median over rounds of its time over that
// round's 1-token time: a slow spell of a shared machine then weighs on both sides of a ratio alike.
const rounds = reps * 20;
const times: number[][] = [[], [], [], [], []];
for (let r = 0; r < rounds + 1; r++) {
  for (let n = 1; n <= 5; n++) {
    const t0 = performance.now();
    model.arch.forward([{ kv, tokens: base.slice(0, n), pos0: base.length, logits: n > 1 ? 'all' : 'last' }]);
    if (r > 0) times[n - 1].push(performance.now() - t0); // round 0 warms up
  }
}
const ratios = (ts: number[][]) => [1, 2, 3, 4].map((k) => median(ts[k].map((t, r) => t / ts[0][r])));
const ours = ratios(times);
console.log(`  k=0 (1 token): ${median(times[0]).toFixed(3)} ms (median of ${rounds} rounds)`);
for (let k = 1; k <= 4; k++) {
  console.log(`  k=${k} (${1 + k} tokens): ${median(times[k]).toFixed(3)} ms = ${ours[k - 1].toFixed(2)}× a 1-token step (${k + 1}× if it were sequential)`);
}

const threads = model.kernels.threads;
// a big model's memory goes back before llama.cpp maps the same file
if (values['verify-only']) await model.close();
if (!values['no-llamacpp']) {
  const native = await llamaCppVerify(path, threads, base, rounds);
  const theirs = ratios(native);
  console.log(`llama.cpp native (${threads} threads): k=0 (1 token) ${median(native[0]).toFixed(3)} ms`);
  for (let k = 1; k <= 4; k++) {
    console.log(`  k=${k}: ${median(native[k]).toFixed(3)} ms = ${theirs[k - 1].toFixed(2)}× a 1-token step (hearth ${ours[k - 1].toFixed(2)}×)`);
  }
}
if (values['verify-only']) process.exit(0);
console.log('\nn-gram drafting on a repetitive prompt (greedy, 128 tokens)');
const engine = createEngine(model, { slots: 1, contextPerSlot: 512 });
const prompt = engine.tokenize(
  'Tom said, "I like the red ball. I like the red ball. I like the blue ball." Tom said, "I like the red ball. I like the',
);
const run = async (speculative?: SpeculativeOptions) => {
  const rates: number[] = [];
  let text = '';
  let perStep = 1;
  let acceptance = 0;
  for (let r = 0; r < reps; r++) {
    text = '';
    for await (const ev of engine.submit({
      prompt,
      maxTokens: 128,
      sampling: { ...defaultSampling, temperature: 0 },
      stopOnEog: false,
      speculative,
    })) {
      if (ev.type === 'token') text += ev.text;
      else {
        rates.push(ev.timings.decodeTokS);
        perStep = ev.usage.speculative?.tokensPerStep ?? 1;
        acceptance = ev.usage.speculative?.acceptanceRate ?? 0;
      }
    }
  }
  return { tokS: median(rates), text, perStep, acceptance };
};
// one untimed pass first: the engine path's first generations run slower (measured: 123 against 174 tok/s warm)
await run();
const plain = await run();
console.log(`  none:        ${plain.tokS.toFixed(0)} tok/s`);
for (const adaptive of [false, true]) {
  for (const nMax of [2, 4, 8]) {
    const spec = await run({ type: 'ngram', nMax, adaptive });
    console.log(
      `  ngram n_max=${nMax}${adaptive ? ' adaptive' : ''}: ${spec.tokS.toFixed(0)} tok/s (${(spec.tokS / plain.tokS).toFixed(2)}×), ` +
        `${spec.perStep.toFixed(2)} tokens/step, acceptance ${(100 * spec.acceptance).toFixed(0)}%, same text: ${spec.text === plain.text}`,
    );
  }
}
await engine.close();

/** llama.cpp's forward over 1..5 tokens at the same position, each with its logits (a verification's), timed the
 * same way as hearth's above; the cells are erased after each so that every width starts from the same cache. */
async function llamaCppVerify(file: string, threads: number, tokens: number[], rounds: number): Promise<number[][]> {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ build: 'never', gpu: false, maxThreads: 0 });
  const lm = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctx = await lm.createContext({ contextSize: 512, threads, flashAttention: false });
  const seq = ctx.getSequence();
  await seq.evaluateWithoutGeneratingNewTokens(tokens as never);
  const out: number[][] = [[], [], [], [], []];
  for (let r = 0; r < rounds + 1; r++) {
    for (let n = 1; n <= 5; n++) {
      const items = tokens.slice(0, n).map((t) => [t, { generateNext: { token: true } }]);
      const t0 = performance.now();
      await seq.controlledEvaluate(items as never);
      if (r > 0) out[n - 1].push(performance.now() - t0);
      await seq.eraseContextTokenRanges([{ start: tokens.length, end: tokens.length + n }]);
    }
  }
  await ctx.dispose();
  await lm.dispose();
  return out;
}
