/**
 * HTTP throughput: requests/s and generated tokens/s with 1, 4 and 8 concurrent streaming clients, against the Node
 * server (`hearth serve`, run from source) and self-hosted workerd (scripts/workerd.capnp, the built bundle). Each
 * host runs in its own process; this process is only the client.
 *
 *   npx tsx bench/http.ts [--model FILE] [--hosts node,workerd] [--streams 1,4,8] [--parallel 8]
 *                         [--requests-per-stream 4] [--max-tokens 128]
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bin, buildIntoTemp, freePort, startChild, waitForHttp, type Child } from '../test/helpers/hosts.ts';
import { repoRoot } from '../test/helpers/models.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: resolve(repoRoot, '../shared/models/stories260K.gguf') },
    hosts: { type: 'string', default: 'node,workerd' },
    streams: { type: 'string', default: '1,4,8' },
    parallel: { type: 'string', default: '8' },
    'requests-per-stream': { type: 'string', default: '4' },
    'max-tokens': { type: 'string', default: '128' },
  },
});

const modelPath = resolve(a.model!);
const streams = a.streams!.split(',').map(Number);
const perStream = Number(a['requests-per-stream']);
const maxTokens = Number(a['max-tokens']);
const prompts = ['Once upon a time', 'The little dog', 'Lily had a red ball', 'One day, a big bird'];

interface Run {
  host: string;
  streams: number;
  requests: number;
  seconds: number;
  tokens: number;
  ttftMs: number;
}

/** One streaming completion; resolves with its generated token count and time to first token. */
async function one(url: string, prompt: string): Promise<{ tokens: number; ttftMs: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({
      prompt,
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let ttft = -1;
  let buffer = '';
  let tokens = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (ttft < 0 && chunk.choices?.[0]?.text) ttft = performance.now() - t0;
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  return { tokens, ttftMs: ttft };
}

async function measure(host: string, url: string): Promise<Run[]> {
  await one(url, 'warm up');
  const runs: Run[] = [];
  for (const n of streams) {
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: n }, async (_, s) => {
        const mine = [];
        for (let i = 0; i < perStream; i++) mine.push(await one(url, prompts[(s + i) % prompts.length]));
        return mine;
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const flat = results.flat();
    runs.push({
      host,
      streams: n,
      requests: flat.length,
      seconds,
      tokens: flat.reduce((s, r) => s + r.tokens, 0),
      ttftMs: flat.reduce((s, r) => s + r.ttftMs, 0) / flat.length,
    });
  }
  return runs;
}

async function nodeHost(): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const child = startChild(process.execPath, [
    '--import',
    'tsx',
    'src/cli/index.ts',
    'serve',
    '--model',
    modelPath,
    '--port',
    String(port),
    '--parallel',
    a.parallel!,
    '--threads',
    '1',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child, 60_000);
  return { url, child };
}

async function workerdHost(root: string): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const dir = modelPath.replace(/\/[^/]*$/, '');
  const child = startChild(
    bin('workerd'),
    ['serve', join(root, 'scripts/workerd.capnp'), '--directory-path', `models=${dir}`, '--socket-addr', `http=127.0.0.1:${port}`],
    { env: { HEARTH_MODEL: modelPath.replace(/^.*\//, ''), HEARTH_PARALLEL: a.parallel! } },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child, 60_000);
  return { url, child };
}

const runs: Run[] = [];
const hosts = a.hosts!.split(',');
let root = '';
try {
  for (const host of hosts) {
    if (host === 'workerd' && !root) root = await buildIntoTemp();
    const { url, child } = host === 'node' ? await nodeHost() : await workerdHost(root);
    try {
      runs.push(...(await measure(host, url)));
    } finally {
      await child.stop();
    }
  }
} finally {
  if (root) rmSync(root, { recursive: true, force: true });
}

console.log(`model ${modelPath.replace(/^.*\//, '')}, ${a.parallel} slots, ${maxTokens} max tokens, ${perStream} requests per stream`);
console.log('host     streams  requests  seconds   req/s   tok/s  ttft ms');
for (const r of runs) {
  console.log(
    [
      r.host.padEnd(8),
      String(r.streams).padStart(7),
      String(r.requests).padStart(9),
      r.seconds.toFixed(2).padStart(8),
      (r.requests / r.seconds).toFixed(2).padStart(7),
      (r.tokens / r.seconds).toFixed(0).padStart(7),
      r.ttftMs.toFixed(0).padStart(8),
    ].join(' '),
  );
}
