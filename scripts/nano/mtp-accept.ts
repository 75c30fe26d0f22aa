/**
 * MTP acceptance of hearth-nano's assistant on held-out text prompts, through hearth's engine (greedy, n_max 3),
 * and the decode speed with and without it (same prompts, same outputs: greedy speculation keeps the target's text).
 *
 *   npx tsx scripts/nano/mtp-accept.ts --data DIR [--models models/] [--n 60]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readNodeCoreModule } from '../../src/core/node.ts';
import { defaultSampling } from '../../src/engine/api.ts';
import { createEngine } from '../../src/engine/engine.ts';
import { loadModelWithDraft } from '../../src/engine/load.ts';
import { fileSource } from '../../src/host/node/file-source.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, models: { type: 'string', default: 'models' }, n: { type: 'string', default: '60' } } });
if (!values.data) throw new Error('usage: mtp-accept.ts --data DIR [--models DIR] [--n N]');
const held = readFileSync(join(values.data, 'heldout.tokens.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ids: number[]; lossFrom: number; media: unknown });
const prompts = held.filter((e) => !e.media).slice(0, Number(values.n)).map((e) => e.ids.slice(0, e.lossFrom));

const src = await fileSource(join(values.models!, 'hearth-nano.gguf'));
const draft = await fileSource(join(values.models!, 'hearth-nano-assistant.gguf'));
const { model, assistant } = await loadModelWithDraft(src, draft, { core: readNodeCoreModule(), maxBatch: 64 });
if (!assistant) throw new Error('no assistant loaded');

async function run(spec: boolean) {
  const engine = createEngine(model, { slots: 1, contextPerSlot: 512, assistant });
  let drafted = 0, accepted = 0, tokens = 0, decodeMs = 0;
  const outs: number[][] = [];
  for (const prompt of prompts) {
    const ids: number[] = [];
    for await (const ev of engine.submit({ prompt, maxTokens: 32, sampling: { ...defaultSampling, temperature: 0 }, speculative: spec ? { type: 'mtp', nMax: 3 } : undefined })) {
      if (ev.type === 'token') ids.push(ev.id);
      else {
        const s = ev.usage.speculative;
        if (s) {
          drafted += s.draftedTokens;
          accepted += s.acceptedTokens;
        }
        tokens += ev.usage.completionTokens;
        decodeMs += ev.timings.decodeMs;
      }
    }
    outs.push(ids);
  }
  await engine.close();
  return { drafted, accepted, tokens, decodeMs, outs };
}

const base = await run(false);
const mtp = await run(true);
const same = base.outs.every((o, i) => o.length === mtp.outs[i].length && o.every((t, j) => t === mtp.outs[i][j]));
console.log(`${prompts.length} held-out text prompts, ${base.tokens} tokens; outputs identical with MTP: ${same}`);
console.log(`MTP n_max 3: drafted ${mtp.drafted}, accepted ${mtp.accepted} (${((100 * mtp.accepted) / Math.max(1, mtp.drafted)).toFixed(1)}%)`);
console.log(`decode time: ${base.decodeMs.toFixed(0)} ms without, ${mtp.decodeMs.toFixed(0)} ms with MTP (×${(base.decodeMs / Math.max(1, mtp.decodeMs)).toFixed(2)})`);
model.close();
