/**
 * The scheduler as HTTP clients see it (Node server, real engine, stories260K): parallel streams decode together
 * yet each greedy output equals the same request run alone; a full queue answers 429 with Retry-After; a client
 * that hangs up mid-stream frees its slot at once.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import type { Engine } from '../src/engine/api.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { serveNode, type NodeServer } from '../src/host/node/serve.ts';
import { startEngine } from '../src/host/start.ts';
import { createApp } from '../src/http/app.ts';
import { sharedModel } from './helpers/models.ts';

const openings = [
  'Once upon a time',
  'The little dog',
  'Tom and Sue went to the park',
  'One day, a big bird',
  'Lily had a red ball',
  'The sun was hot and',
  'Ben wanted to play with',
  'In the forest there was',
];

/** One streaming chat request; returns the concatenated deltas. */
async function streamChat(url: string, content: string, maxTokens: number, signal?: AbortSignal): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    signal,
    body: JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: maxTokens, temperature: 0, stream: true }),
  });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  const body = await res.text();
  let text = '';
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    text += JSON.parse(line.slice(6)).choices[0]?.delta?.content ?? '';
  }
  assert.ok(body.trimEnd().endsWith('data: [DONE]'), 'stream ends with [DONE]');
  return text;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const path = () => sharedModel('stories260K.gguf');

const concurrency = suite('http concurrency, queue and abort');
const servers: { server: NodeServer; engine: Engine }[] = [];

async function serve(parallel: number, queueLimit: number, context: number): Promise<NodeServer> {
  const engine = await startEngine(await fileSource(path()), readNodeCoreModule(), { parallel, queueLimit, context, threads: 1 });
  const server = await serveNode(createApp(engine), { port: 0, hostname: '127.0.0.1' });
  servers.push({ server, engine });
  return server;
}

concurrency.after(async () => {
  for (const { server, engine } of servers) {
    await server.close();
    await engine.close();
  }
});

concurrency('8 simultaneous streams on 4 slots: each equals the same request alone', async () => {
  const { url } = await serve(4, 8, 512);
  const alone: string[] = [];
  for (const o of openings) alone.push(await streamChat(url, o, 40));
  assert.ok(new Set(alone).size > 4, 'the openings lead to different stories');

  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await metric(url, 'hearth_slots_active'));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const together = await Promise.all(openings.map((o) => streamChat(url, o, 40)));
  sampling = false;
  await sampler;
  for (let i = 0; i < openings.length; i++) assert.is(together[i], alone[i], `stream ${i} (${openings[i]})`);
  assert.ok(peak > 1, `slots decoded together (peak active ${peak})`);
  assert.ok(peak <= 4, `never more than 4 active (peak ${peak})`);
});

concurrency('a full queue answers 429 with Retry-After; the accepted requests still finish', async () => {
  const { url } = await serve(1, 1, 2048);
  const first = new AbortController();
  // the first request holds the only slot...
  const running = fetch(`${url}/v1/completions`, {
    method: 'POST',
    signal: first.signal,
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 1500, temperature: 0, stream: true }),
  });
  const firstRes = await running;
  assert.is(firstRes.status, 200);
  const reader = firstRes.body!.getReader();
  await reader.read();
  await until(async () => (await metric(url, 'hearth_slots_active')) === 1, 5000, 'the first request to take the slot');
  // ...the second waits in the queue (limit 1)...
  const queued = fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'The little dog', max_tokens: 4, temperature: 0 }),
  });
  await until(async () => (await metric(url, 'hearth_queue_depth')) === 1, 5000, 'the second request to queue');
  // ...and the third is turned away
  const rejected = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'Lily', max_tokens: 4 }),
  });
  assert.is(rejected.status, 429);
  const retryAfter = Number(rejected.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${rejected.headers.get('retry-after')}`);
  const err = (await rejected.json()).error;
  assert.is(err.type, 'rate_limit_error');
  assert.is(err.code, 'queue_full');

  await reader.cancel();
  first.abort();
  const queuedRes = await queued;
  assert.is(queuedRes.status, 200);
  assert.is((await queuedRes.json()).usage.completion_tokens, 4);
});

concurrency('a client that hangs up mid-stream frees its slot at once', async () => {
  const { url } = await serve(1, 4, 2048);
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    signal: controller.signal,
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 2000, temperature: 0, stream: true }),
  });
  const reader = res.body!.getReader();
  for (let i = 0; i < 5; i++) await reader.read();
  assert.is(await metric(url, 'hearth_slots_active'), 1);
  controller.abort();
  await reader.cancel().catch(() => {});
  await until(async () => (await metric(url, 'hearth_slots_active')) === 0, 2000, 'the slot to be freed');

  const t0 = Date.now();
  const next = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, temperature: 0 }),
  });
  assert.is(next.status, 200);
  assert.is((await next.json()).usage.completion_tokens, 8);
  assert.ok(Date.now() - t0 < 2000, `the next request was served at once (${Date.now() - t0} ms)`);
  assert.is(await metric(url, 'hearth_slots_active'), 0);
  const completed = await metric(url, 'hearth_completion_tokens_total');
  assert.ok(completed < 1000, `the aborted generation stopped early (${completed} tokens generated in all)`);
});

concurrency.run();
