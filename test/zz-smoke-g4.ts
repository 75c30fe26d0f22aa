import { makeSyntheticGemma4, gemma4Presets } from '../src/engine/gguf/synthetic-gemma4.ts';
import { writeGguf } from '../src/engine/gguf/writer.ts';
import { fileSink } from '../src/host/node/file-sink.ts';
import { llamacppGreedy, disposeOracle } from '../test/oracle/llamacpp.ts';
import { loadFile } from '../test/helpers/models.ts';
const which = (process.argv[2] ?? '12b-tiny') as keyof typeof gemma4Presets;
const path = `/tmp/g4/${which}.gguf`;
const sink = await fileSink(path);
await writeGguf(sink, makeSyntheticGemma4({ ...gemma4Presets[which] }));
await sink.close();
const prompt = [2, 300, 301, 302, 500, 700, 42, 900];
const N = 32;
const exp = await llamacppGreedy(path, prompt, N, { promptByToken: process.argv[3] === 'bytoken' });
console.log('llama.cpp', exp.tokens.join(' '));
const model = await loadFile(path, { maxBatch: 4 });
const kv = model.arch.createKv(128);
const ids: number[] = [];
let last: Float32Array | undefined;
let first: Float32Array | undefined;
let hist = [...prompt];
for (let i = 0; i < prompt.length; i += 4) {
  const chunk = prompt.slice(i, i + 4);
  const out = model.arch.forward([{ kv, tokens: chunk, pos0: i, logits: i + 4 >= prompt.length ? 'last' : 'none' }]);
  if (out[0][0]) last = out[0][0];
}
first = last;
for (let s = 0; s < N; s++) {
  let best = 0; for (let j = 1; j < last!.length; j++) if (last![j] > last![best]) best = j;
  ids.push(best);
  if (s === N - 1) break;
  last = model.arch.forward([{ kv, tokens: [best], pos0: prompt.length + s, logits: 'last' }])[0][0];
}
console.log('hearth   ', ids.join(' '));
let d0 = 0, d1 = 0;
for (let i = 0; i < first!.length; i++) { d0 = Math.max(d0, Math.abs(first![i] - exp.firstLogits[i])); d1 = Math.max(d1, Math.abs(last![i] - exp.lastLogits[i])); }
console.log('first diff', d0, 'last diff', d1, 'range', Math.min(...exp.lastLogits), Math.max(...exp.lastLogits));
await disposeOracle();
