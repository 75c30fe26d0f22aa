import { makeSyntheticGemma4, gemma4Presets } from '../src/engine/gguf/synthetic-gemma4.ts';
import { writeGguf } from '../src/engine/gguf/writer.ts';
import { fileSink } from '../src/host/node/file-sink.ts';
import { llamacppGreedy, disposeOracle } from './oracle/llamacpp.ts';
import { loadFile } from './helpers/models.ts';
const which = (process.argv[2] ?? '12b-tiny') as keyof typeof gemma4Presets;
const over = JSON.parse(process.argv[3] ?? '{}');
const promptLen = Number(process.argv[4] ?? 8);
const N = Number(process.argv[5] ?? 4);
const path = `/tmp/g4/dbg.gguf`;
const sink = await fileSink(path);
await writeGguf(sink, makeSyntheticGemma4({ ...gemma4Presets[which], ...over }));
await sink.close();
const prompt = [2, 300, 301, 302, 500, 700, 42, 900, 333, 444, 555, 666, 777, 888, 999, 301].slice(0, promptLen);
const exp = await llamacppGreedy(path, prompt, N, { promptByToken: true });
const model = await loadFile(path, { maxBatch: 1 });
const kv = model.arch.createKv(128);
let last: Float32Array | undefined;
for (let i = 0; i < prompt.length; i++) last = model.arch.forward([{ kv, tokens: [prompt[i]], pos0: i, logits: 'last' }])[0][0];
const first = last!;
const ids: number[] = [];
for (let s = 0; s < N; s++) {
  let best = 0; for (let j = 1; j < last!.length; j++) if (last![j] > last![best]) best = j;
  ids.push(best);
  if (s === N - 1) break;
  last = model.arch.forward([{ kv, tokens: [best], pos0: prompt.length + s, logits: 'last' }])[0][0];
}
let d0 = 0, d1 = 0;
for (let i = 0; i < first.length; i++) { d0 = Math.max(d0, Math.abs(first[i] - exp.firstLogits[i])); d1 = Math.max(d1, Math.abs(last![i] - exp.lastLogits[i])); }
console.log(JSON.stringify(over), 'len', promptLen, 'first diff', d0, 'last diff', d1, 'tokens equal', ids.join() === exp.tokens.join(), ids.slice(0, 8).join(' '));
await disposeOracle();
