/**
 * npx tsx bench/big-model.ts --model FILE [--threads 2] [--tokens 8] [--ctx 4096] [--engines hearth,llamacpp,workerd]
 *
 * Load time, peak RSS and decode tok/s of a big model (e.g. the 12B-class files of bench/big-files.ts), each engine
 * in its own process so peak RSS is its own: hearth on Node (the pool), llama.cpp native (node-llama-cpp), and
 * hearth on workerd (inline; the model through a disk-directory binding with ranged reads). Same file, same threads.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    threads: { type: 'string', default: '2' },
    tokens: { type: 'string', default: '8' },
    ctx: { type: 'string', default: '4096' },
    engines: { type: 'string', default: 'hearth,llamacpp,workerd' },
    child: { type: 'string' },
  },
});
const threads = Number(values.threads);
const nTokens = Number(values.tokens);
const ctx = Number(values.ctx);
const prompt = [2, 300, 301, 302, 303, 304, 305, 306];

interface Result {
  engine: string;
  loadMs: number;
  decodeTokS: number;
  peakRssMiB: number;
}

function peakRssMiB(pid: number | 'self' = 'self'): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function childHearth(): Promise<Result> {
  const { loadFile } = await import('../test/helpers/models.ts');
  const { defaultSampling } = await import('../src/engine/api.ts');
  const { createEngine } = await import('../src/engine/engine.ts');
  const t0 = performance.now();
  const model = await loadFile(values.model!, { threads });
  const loadMs = performance.now() - t0;
  const engine = createEngine(model, { slots: 1, contextPerSlot: ctx });
  let decodeTokS = 0;
  for await (const ev of engine.submit({ prompt, maxTokens: nTokens, sampling: { ...defaultSampling, temperature: 0 }, stopOnEog: false })) {
    if (ev.type === 'done') decodeTokS = ev.timings.decodeTokS;
  }
  await engine.close();
  await model.close();
  return { engine: `hearth Node (${threads} threads, ${model.kernels.groups} memories)`, loadMs, decodeTokS, peakRssMiB: peakRssMiB() };
}

async function childLlamaCpp(): Promise<Result> {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ build: 'never', gpu: false, maxThreads: 0 });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: values.model!, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: ctx, threads, flashAttention: false });
  const loadMs = performance.now() - t0;
  const seq = context.getSequence();
  const first = await seq.controlledEvaluate([...prompt.slice(0, -1), [prompt[prompt.length - 1], { generateNext: { token: true } }]] as never);
  const next = (first[first.length - 1] as { next?: { token?: number } })?.next?.token ?? 0;
  let n = 0;
  const d0 = performance.now();
  for await (const _ of seq.evaluate([next as never], { temperature: 0 })) if (++n >= nTokens - 1) break;
  const decodeTokS = (n / (performance.now() - d0)) * 1000;
  return { engine: `llama.cpp native (${threads} threads)`, loadMs, decodeTokS, peakRssMiB: peakRssMiB() };
}

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** workerd serving the built bundle, the model through the `models` disk binding (scripts/workerd.capnp). */
async function runWorkerd(): Promise<Result> {
  const port = await freePort();
  // the platform binary itself (node_modules/.bin/workerd is a node wrapper: its RSS would not be workerd's)
  const bin = join(root, 'node_modules/@cloudflare/workerd-linux-64/bin/workerd');
  const t0 = performance.now();
  const child = spawn(bin, ['serve', join(root, 'scripts/workerd.capnp'), '--socket-addr', `http=127.0.0.1:${port}`, '--directory-path', `models=${dirname(resolve(values.model!))}`], {
    env: { ...process.env, HEARTH_MODEL: basename(values.model!), HEARTH_CONTEXT: String(ctx), HEARTH_PARALLEL: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}`);
      const health = await fetch(`${base}/health`).then((r) => r.json() as Promise<{ status: string }>).catch(() => null);
      if (health?.status === 'ready') break;
      if (performance.now() - t0 > 600_000) throw new Error('workerd did not load the model in 10 minutes');
    }
    const loadMs = performance.now() - t0;
    const body = { prompt: 'x', max_tokens: nTokens, temperature: 0 };
    const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as { timings?: { predicted_per_second?: number } };
    const decodeTokS = json.timings?.predicted_per_second ?? NaN;
    return { engine: 'hearth workerd (inline, disk binding)', loadMs, decodeTokS, peakRssMiB: peakRssMiB(child.pid!) };
  } finally {
    child.kill('SIGKILL');
  }
}

function runChild(kind: string): Promise<Result> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, ...process.argv.slice(2), '--child', kind], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) res(JSON.parse(line));
      else rej(new Error(`${kind} child failed (${code}): ${out.slice(-500)}`));
    });
  });
}

if (values.child) {
  const r = values.child === 'hearth' ? await childHearth() : await childLlamaCpp();
  console.log(JSON.stringify(r));
  process.exit(0);
}
if (!values.model) {
  console.error('usage: npx tsx bench/big-model.ts --model FILE [--threads N] [--tokens N] [--ctx N]');
  process.exit(2);
}
console.log(`model ${values.model}, ${threads} threads, context ${ctx}, ${nTokens} tokens decoded (medians not taken: one run each)`);
const results: Result[] = [];
for (const e of values.engines!.split(',')) {
  try {
    results.push(e === 'workerd' ? await runWorkerd() : await runChild(e));
    const r = results[results.length - 1];
    console.log(`${r.engine.padEnd(44)} load ${(r.loadMs / 1000).toFixed(1)} s  peak RSS ${(r.peakRssMiB / 1024).toFixed(2)} GiB  decode ${r.decodeTokS.toFixed(3)} tok/s`);
  } catch (err) {
    console.log(`${e}: failed: ${(err as Error).message}`);
  }
}
const lc = results.find((r) => r.engine.startsWith('llama.cpp'));
if (lc) for (const r of results) if (r !== lc) console.log(`${r.engine}: decode ÷ llama.cpp = ${(r.decodeTokS / lc.decodeTokS).toFixed(2)}`);
