/**
 * The app on Node, end to end: the official `openai` client against a real server (@hono/node-server on a free
 * port) serving stories260K through the real engine. Greedy text must equal the library API's output for the same
 * prompt (and, for the plain completion, llama.cpp's own output recorded in ../shared/models/PROVENANCE.md).
 */
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import type { Engine } from '../src/engine/api.ts';
import { generate } from '../src/engine/generate.ts';
import type { Model } from '../src/engine/load.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { serveNode, type NodeServer } from '../src/host/node/serve.ts';
import { startEngine } from '../src/host/start.ts';
import { createApp } from '../src/http/app.ts';
import { ServedModel } from '../src/http/served-model.ts';
import { loadFile, sharedModel } from './helpers/models.ts';

/** llama.cpp's greedy 64 tokens after "Once upon a time" (PROVENANCE.md). */
const llamaCppStory =
  ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. ' +
  "She wanted to play with it, but it was too high.\nLily's mom said";

/** What the ChatML fallback renders for one user message (stories260K has no chat template). */
const chatml = (user: string) => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

const api = suite('http api on Node (openai client, stories260K)');
let engine: Engine;
let server: NodeServer;
let client: OpenAI;
let library: Model;

async function libraryText(prompt: string, maxTokens: number): Promise<{ text: string; tokens: number }> {
  let text = '';
  let tokens = 0;
  for await (const ev of generate(library, prompt, { temperature: 0, maxTokens })) {
    text += ev.text;
    if (ev.type === 'token') tokens++;
  }
  return { text, tokens };
}

// resolved at import: a missing shared folder fails the run plainly (uvu swallows errors thrown in before hooks)
const storiesPath = sharedModel('stories260K.gguf');

api.before(async () => {
  const path = storiesPath;
  engine = await startEngine(await fileSource(path), readNodeCoreModule(), {
    parallel: 2,
    queueLimit: 8,
    context: 512,
    threads: 1,
  });
  server = await serveNode(createApp(engine), { port: 0, hostname: '127.0.0.1' });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 60_000 });
  library = await loadFile(path);
});

api.after(async () => {
  await server?.close();
  await engine?.close();
});

api('GET /v1/models lists the model and says which chat template is used', async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  const card = list.data[0] as unknown as { id: string; object: string; hearth: { chat_template: { source: string } } };
  assert.is(card.id, 'stories260K');
  assert.is(card.object, 'model');
  assert.is(card.hearth.chat_template.source, 'chatml-fallback');
  const one = await client.models.retrieve('stories260K');
  assert.is(one.id, 'stories260K');
});

api('completion: greedy text equals the library and llama.cpp; usage is right', async () => {
  const res = await client.completions.create({
    model: 'stories260K',
    prompt: 'Once upon a time',
    max_tokens: 64,
    temperature: 0,
  });
  const expected = await libraryText('Once upon a time', 64);
  assert.is(res.choices[0].text, expected.text);
  assert.is(res.choices[0].text, llamaCppStory);
  assert.is(res.choices[0].finish_reason, 'length');
  const promptTokens = engine.tokenize('Once upon a time', { addSpecial: true }).length;
  assert.equal(res.usage, { prompt_tokens: promptTokens, completion_tokens: 64, total_tokens: promptTokens + 64 });
});

api('completion with n-gram speculation, adaptive and fixed: the same text, speculation reported in usage', async () => {
  for (const adaptive of [true, false]) {
    const res = (await client.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 64,
      temperature: 0,
      // @ts-expect-error hearth's extension
      speculative: { type: 'ngram', n_max: 8, adaptive },
    })) as unknown as { choices: { text: string }[]; usage: { speculative?: { type: string; drafted_tokens: number } } };
    assert.is(res.choices[0].text, llamaCppStory);
    assert.is(res.usage.speculative?.type, 'ngram');
    assert.ok((res.usage.speculative?.drafted_tokens ?? 0) > 0, JSON.stringify(res.usage));
  }
});

api('chat: non-streaming greedy equals the library on the rendered ChatML prompt', async () => {
  const res = await client.chat.completions.create({
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 48,
    temperature: 0,
  });
  const expected = await libraryText(chatml('Once upon a time'), 48);
  assert.ok(expected.text.length > 0);
  assert.is(res.choices[0].message.content, expected.text);
  assert.is(res.choices[0].message.role, 'assistant');
  assert.is(res.object, 'chat.completion');
  const promptTokens = engine.tokenize(chatml('Once upon a time'), { addSpecial: true, parseSpecial: true }).length;
  assert.is(res.usage?.prompt_tokens, promptTokens);
  assert.is(res.usage?.completion_tokens, expected.tokens);
  assert.is(res.usage?.total_tokens, promptTokens + expected.tokens);
});

api('chat: streaming deltas add up to the same text, usage arrives last', async () => {
  const stream = await client.chat.completions.create({
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 48,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.choices.length > 0) {
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    } else usage = chunk.usage;
  }
  const expected = await libraryText(chatml('Once upon a time'), 48);
  assert.is(text, expected.text);
  assert.ok(chunks > 10, `streamed in ${chunks} chunks`);
  assert.ok(finish === 'length' || finish === 'stop');
  assert.is(usage?.completion_tokens, expected.tokens);
});

api('completion: streaming and logprobs (greedy picks the most likely token)', async () => {
  const stream = await client.completions.create({
    model: 'stories260K',
    prompt: 'Once upon a time',
    max_tokens: 16,
    temperature: 0,
    stream: true,
    logprobs: 3,
  });
  let text = '';
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    text += choice.text;
    const lp = choice.logprobs;
    if (lp && lp.token_logprobs && lp.token_logprobs.length > 0) {
      const top = Object.values(lp.top_logprobs![0]);
      assert.ok(top.length === 3, 'three alternatives');
      assert.ok(lp.token_logprobs[0] >= Math.max(...top) - 1e-6, 'greedy token is the most likely');
    }
  }
  assert.is(text, llamaCppStory.slice(0, text.length));
  assert.ok(text.length > 10);
});

api('tokenize / detokenize round trip, /health and /metrics', async () => {
  const tok = await (
    await fetch(`${server.url}/tokenize`, { method: 'POST', body: JSON.stringify({ content: 'Once upon a time' }) })
  ).json();
  assert.equal(tok.tokens, engine.tokenize('Once upon a time', { addSpecial: false }));
  const detok = await (
    await fetch(`${server.url}/detokenize`, { method: 'POST', body: JSON.stringify({ tokens: tok.tokens }) })
  ).json();
  assert.is(detok.content.trim(), 'Once upon a time');
  const health = await fetch(`${server.url}/health`);
  assert.is(health.status, 200);
  assert.is((await health.json()).status, 'ready');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const completed = Number(/^hearth_completion_tokens_total (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(completed >= 64, `completion tokens counted: ${completed}`);
  assert.match(metrics, /^hearth_slots_active 0$/m);
  assert.match(metrics, /hearth_http_requests_total\{method="POST",route="\/v1\/chat\/completions",status="200"\} \d+/);
});

api('while the model loads: /health reports byte progress, API requests get 503 with Retry-After', async () => {
  const file = await fileSource(sharedModel('stories260K.gguf'));
  // a slow source (20 ms per tensor) makes the load long enough to watch
  const slow = {
    ...file,
    name: file.name,
    size: file.size,
    read: file.read.bind(file),
    readInto: async (offset: number, target: Uint8Array, onBytes?: (n: number) => void) => {
      await new Promise((r) => setTimeout(r, 20));
      return file.readInto(offset, target, onBytes);
    },
  };
  const model = ServedModel.load((onProgress) =>
    startEngine(slow, readNodeCoreModule(), { parallel: 1, queueLimit: 1, context: 256, threads: 1 }, { onProgress }),
  );
  const app = createApp(model, { loadWaitMs: 10 });
  const fractions: number[] = [];
  let busy: Response | null = null;
  for (;;) {
    const res = await app.request('/health');
    const body = await res.json();
    if (body.status === 'ready') break;
    assert.is(res.status, 503);
    assert.is(body.status, 'loading');
    assert.is(body.error.code, 'model_loading');
    fractions.push(body.progress.fraction);
    busy ??= await app.request('/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
    });
    await new Promise((r) => setTimeout(r, 30));
  }
  assert.ok(fractions.some((f) => f > 0 && f < 1), `progress seen: ${fractions.join(', ')}`);
  assert.ok(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]), 'progress only grows');
  assert.ok(busy, 'an API request was made while loading');
  assert.is(busy!.status, 503);
  assert.is(busy!.headers.get('retry-after'), '1');
  assert.is((await busy!.json()).error.code, 'model_loading');
  const ready = await app.request('/v1/completions', {
    method: 'POST',
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }),
  });
  assert.is(ready.status, 200);
  await (await model.whenReady()).close();
});

api.run();
