/**
 * The bundle on real workerd (npm `workerd`), with the committed configs: scripts/workerd-pipeline.capnp serves
 * hearth's HTTP API and a second worker (scripts/pipeline-worker.js) that calls hearth over RPC through a service
 * binding. stories260K comes from a read-only disk-directory binding (ranged reads). The official `openai` client
 * drives the HTTP side; greedy text must equal the library API's, over HTTP and over RPC alike.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import type { Model } from '../src/engine/load.ts';
import { bin, buildIntoTemp, freePort, startChild, waitForHttp, type Child } from './helpers/hosts.ts';
import { loadFile, sharedModel, sharedModels } from './helpers/models.ts';

const chatml = (user: string) => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

async function libraryText(model: Model, prompt: string, maxTokens: number): Promise<string> {
  let text = '';
  for await (const ev of generate(model, prompt, { temperature: 0, maxTokens })) text += ev.text;
  return text;
}

/** Concatenated text of an SSE body in either OpenAI chunk shape. */
function sseText(body: string): string {
  let text = '';
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const choice = JSON.parse(line.slice(6)).choices[0];
    text += choice?.delta?.content ?? choice?.text ?? '';
  }
  return text;
}

const workerd = suite('workerd: HTTP API and RPC from a pipeline worker');
let root = '';
let child: Child | null = null;
let http = '';
let pipeline = '';
let library: Model;

// resolved at import: a missing shared folder fails the run plainly (uvu swallows errors thrown in before hooks)
const storiesPath = sharedModel('stories260K.gguf');

workerd.before(async () => {
  root = await buildIntoTemp();
  const [p1, p2] = [await freePort(), await freePort()];
  http = `http://127.0.0.1:${p1}`;
  pipeline = `http://127.0.0.1:${p2}`;
  child = startChild(
    bin('workerd'),
    [
      'serve',
      join(root, 'scripts/workerd-pipeline.capnp'),
      '--directory-path',
      `models=${sharedModels}`,
      '--socket-addr',
      `http=127.0.0.1:${p1}`,
      '--socket-addr',
      `pipeline=127.0.0.1:${p2}`,
    ],
    { env: { HEARTH_MODEL: 'stories260K.gguf', HEARTH_PARALLEL: '2', HEARTH_CONTEXT: '512' } },
  );
  // the first request starts the load (workerd hands bindings to requests); /health turns 200 when it is done
  await waitForHttp(`${http}/health`, child, 30_000);
  library = await loadFile(storiesPath);
});

workerd.after(async () => {
  await child?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

workerd('openai client: models, completion, chat (whole and streamed) equal the library', async () => {
  const client = new OpenAI({ baseURL: `${http}/v1`, apiKey: 'none', maxRetries: 0, timeout: 60_000 });
  const models = await client.models.list();
  assert.equal(
    models.data.map((m) => m.id),
    ['stories260K'],
  );

  const completion = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 48, temperature: 0 });
  assert.is(completion.choices[0].text, await libraryText(library, 'Once upon a time', 48));
  assert.is(completion.usage?.completion_tokens, 48);
  assert.is(completion.usage?.prompt_tokens, library.tokenizer.encode('Once upon a time', { addSpecial: true, parseSpecial: false }).length);

  const expected = await libraryText(library, chatml('Tell me a story'), 40);
  const chat = await client.chat.completions.create({
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 40,
    temperature: 0,
  });
  assert.is(chat.choices[0].message.content, expected);

  const stream = await client.chat.completions.create({
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 40,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let chunks = 0;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
    else usage = chunk.usage;
  }
  assert.is(text, expected);
  assert.ok(chunks > 10, `streamed in ${chunks} chunks`);
  assert.is(usage?.total_tokens, (chat.usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? -1));
});

workerd('the pipeline worker gets the same greedy text over RPC (whole and as a stream)', async () => {
  const body = { messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 40, temperature: 0 };
  const overHttp = await (await fetch(`${http}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(body) })).json();
  const overRpc = await fetch(`${pipeline}/chat`, { method: 'POST', body: JSON.stringify(body) });
  assert.is(overRpc.status, 200);
  const rpcJson = await overRpc.json();
  assert.is(rpcJson.choices[0].message.content, overHttp.choices[0].message.content);
  assert.equal(rpcJson.usage, overHttp.usage);

  const streamed = await fetch(`${pipeline}/complete`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 32, temperature: 0, stream: true }),
  });
  assert.is(streamed.headers.get('content-type'), 'text/event-stream');
  assert.is(sseText(await streamed.text()), await libraryText(library, 'Once upon a time', 32));

  const tokens = await (await fetch(`${pipeline}/tokenize`, { method: 'POST', body: JSON.stringify({ content: 'Once upon a time' }) })).json();
  assert.equal(tokens.tokens, library.tokenizer.encode('Once upon a time', { addSpecial: false, parseSpecial: true }));

  // errors cross RPC with their status
  const bad = await fetch(`${pipeline}/chat`, { method: 'POST', body: JSON.stringify({ messages: [] }) });
  assert.is(bad.status, 400);
});

workerd('a client that hangs up mid-stream frees its slot; metrics show 0 active', async () => {
  const controller = new AbortController();
  const res = await fetch(`${http}/v1/completions`, {
    method: 'POST',
    signal: controller.signal,
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true }),
  });
  const reader = res.body!.getReader();
  for (let i = 0; i < 3; i++) await reader.read();
  controller.abort();
  await reader.cancel().catch(() => {});
  const deadline = Date.now() + 3000;
  let active = -1;
  while (Date.now() < deadline) {
    const metrics = await (await fetch(`${http}/metrics`)).text();
    active = Number(/^hearth_slots_active (\d+)$/m.exec(metrics)?.[1]);
    if (active === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.is(active, 0);
  const next = await fetch(`${http}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0 }),
  });
  assert.is(next.status, 200);
});

workerd.run();
