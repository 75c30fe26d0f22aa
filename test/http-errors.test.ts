/**
 * Bad input, over real HTTP (Node server, real engine on stories260K): every case gets its 4xx in OpenAI's error
 * shape, naming the parameter where there is one, and the server keeps serving afterwards.
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

const context = 256;
const maxBody = 64 * 1024;

interface Case {
  name: string;
  method?: string;
  path?: string;
  /** A raw string is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Send to the server that requires an API key. */
  keyed?: boolean;
  status: number;
  code?: string;
  param?: string;
}

const user = (content: unknown) => [{ role: 'user', content }];
const chat = (extra: Record<string, unknown>) => ({ model: 'stories260K', messages: user('hi'), ...extra });
const long = 'Once upon a time there was a little girl. '.repeat(60);

const cases: Case[] = [
  { name: 'invalid JSON', body: '{"messages": [', status: 400, code: 'invalid_json' },
  { name: 'empty body', body: '', status: 400 },
  { name: 'body is an array', body: [], status: 400 },
  { name: 'body is a string', body: '"hello"', status: 400 },
  { name: 'body is not UTF-8', body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), status: 400, code: 'invalid_json' },
  { name: 'messages missing', body: { model: 'stories260K' }, status: 400, code: 'missing_required_parameter', param: 'messages' },
  { name: 'messages empty', body: { messages: [] }, status: 400, param: 'messages' },
  { name: 'messages not an array', body: { messages: 'hi' }, status: 400, param: 'messages' },
  { name: 'unknown role', body: { messages: [{ role: 'robot', content: 'x' }] }, status: 400, param: 'messages[0].role' },
  { name: 'content is a number', body: { messages: user(42) }, status: 400, param: 'messages[0].content' },
  { name: 'user content null', body: { messages: user(null) }, status: 400, param: 'messages[0].content' },
  {
    name: 'image content part',
    body: { messages: user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }]) },
    status: 400,
    code: 'unsupported_content',
  },
  { name: 'tool role', body: { messages: [{ role: 'tool', content: 'x', tool_call_id: 'a' }] }, status: 400, code: 'unsupported_parameter' },
  { name: 'unknown model', body: chat({ model: 'gpt-4o' }), status: 404, code: 'model_not_found', param: 'model' },
  { name: 'model given as a path', body: chat({ model: '../../etc/passwd' }), status: 404, code: 'model_not_found' },
  { name: 'unknown parameter', body: chat({ frobnicate: true }), status: 400, code: 'unknown_parameter', param: 'frobnicate' },
  { name: 'speculative.adaptive not a boolean', body: chat({ speculative: { type: 'ngram', adaptive: 'yes' } }), status: 400, param: 'speculative.adaptive' },
  { name: 'negative max_tokens', body: chat({ max_tokens: -5 }), status: 400, param: 'max_tokens' },
  { name: 'zero max_tokens', body: chat({ max_tokens: 0 }), status: 400, param: 'max_tokens' },
  { name: 'fractional max_tokens', body: chat({ max_tokens: 1.5 }), status: 400, param: 'max_tokens' },
  { name: 'max_tokens as a string', body: chat({ max_tokens: '10' }), status: 400, param: 'max_tokens' },
  { name: 'huge max_tokens', body: chat({ max_tokens: 1e12 }), status: 400, code: 'context_length_exceeded' },
  {
    name: 'max_completion_tokens beyond the context',
    body: chat({ max_completion_tokens: context + 1 }),
    status: 400,
    code: 'context_length_exceeded',
    param: 'max_completion_tokens',
  },
  { name: 'prompt overflows the context', body: chat({ messages: user(long) }), status: 400, code: 'context_length_exceeded' },
  {
    name: 'prompt + max_tokens overflow the context',
    body: chat({ messages: user(long.slice(0, 400)), max_tokens: context - 20 }),
    status: 400,
    code: 'context_length_exceeded',
  },
  { name: 'temperature too high', body: chat({ temperature: 3 }), status: 400, param: 'temperature' },
  { name: 'temperature as a string', body: chat({ temperature: 'hot' }), status: 400, param: 'temperature' },
  { name: 'top_p above 1', body: chat({ top_p: 1.5 }), status: 400, param: 'top_p' },
  { name: 'presence_penalty out of range', body: chat({ presence_penalty: 5 }), status: 400, param: 'presence_penalty' },
  { name: 'fractional seed', body: chat({ seed: 1.25 }), status: 400, param: 'seed' },
  { name: 'n = 2', body: chat({ n: 2 }), status: 400, code: 'unsupported_parameter', param: 'n' },
  {
    name: 'tools',
    body: chat({ tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }),
    status: 400,
    code: 'unsupported_parameter',
    param: 'tools',
  },
  {
    name: 'json_schema response_format',
    body: chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }),
    status: 400,
    code: 'unsupported_parameter',
    param: 'response_format',
  },
  { name: 'stream_options without stream', body: chat({ stream_options: { include_usage: true } }), status: 400, param: 'stream_options' },
  {
    name: 'stream_options.include_usage not a boolean',
    body: chat({ stream: true, stream_options: { include_usage: 'yes' } }),
    status: 400,
    param: 'stream_options.include_usage',
  },
  {
    name: 'stream_options with an unknown key',
    body: chat({ stream: true, stream_options: { include_usage: true, chunk_size: 4 } }),
    status: 400,
    code: 'unknown_parameter',
  },
  { name: 'stream not a boolean', body: chat({ stream: 'yes' }), status: 400, param: 'stream' },
  { name: 'top_logprobs without logprobs', body: chat({ top_logprobs: 2 }), status: 400, param: 'top_logprobs' },
  { name: 'top_logprobs too many', body: chat({ logprobs: true, top_logprobs: 50 }), status: 400, param: 'top_logprobs' },
  { name: 'logit_bias key not a token id', body: chat({ logit_bias: { hello: 5 } }), status: 400, param: 'logit_bias' },
  { name: 'logit_bias token out of the vocabulary', body: chat({ logit_bias: { '99999': 5 } }), status: 400, param: 'logit_bias' },
  { name: 'logit_bias value out of range', body: chat({ logit_bias: { '5': 500 } }), status: 400 },
  { name: 'too many stop strings', body: chat({ stop: Array.from({ length: 20 }, (_, i) => `s${i}`) }), status: 400, param: 'stop' },
  { name: 'empty stop string', body: chat({ stop: [''] }), status: 400, param: 'stop' },
  { name: 'oversized body', body: chat({ messages: user('x'.repeat(maxBody)) }), status: 413, code: 'request_too_large' },
  { name: 'missing API key', keyed: true, body: chat({}), status: 401, code: 'missing_api_key' },
  { name: 'wrong API key', keyed: true, headers: { authorization: 'Bearer nope' }, body: chat({}), status: 401, code: 'invalid_api_key' },
  { name: 'API key on another scheme', keyed: true, headers: { authorization: 'Basic c2VjcmV0' }, body: chat({}), status: 401 },
  { name: 'completions: prompt missing', path: '/v1/completions', body: { max_tokens: 4 }, status: 400, code: 'missing_required_parameter', param: 'prompt' },
  { name: 'completions: prompt of the wrong type', path: '/v1/completions', body: { prompt: { text: 'x' } }, status: 400, param: 'prompt' },
  { name: 'completions: token id outside the vocabulary', path: '/v1/completions', body: { prompt: [1, 70000] }, status: 400, param: 'prompt' },
  { name: 'completions: batched prompts', path: '/v1/completions', body: { prompt: ['a', 'b'] }, status: 400, code: 'unsupported_parameter' },
  { name: 'completions: suffix', path: '/v1/completions', body: { prompt: 'a', suffix: 'b' }, status: 400, param: 'suffix' },
  { name: 'completions: echo with logprobs', path: '/v1/completions', body: { prompt: 'a', echo: true, logprobs: 2 }, status: 400 },
  { name: 'completions: best_of 3', path: '/v1/completions', body: { prompt: 'a', best_of: 3 }, status: 400, param: 'best_of' },
  { name: 'tokenize: content missing', path: '/tokenize', body: {}, status: 400, param: 'content' },
  { name: 'detokenize: negative id', path: '/detokenize', body: { tokens: [1, -3] }, status: 400, param: 'tokens[1]' },
  { name: 'detokenize: id outside the vocabulary', path: '/detokenize', body: { tokens: [1, 512] }, status: 400, param: 'tokens[1]' },
  { name: 'unknown route', method: 'GET', path: '/v1/engines', status: 404, code: 'unknown_url' },
  { name: 'GET on a POST route', method: 'GET', path: '/v1/chat/completions', status: 404 },
  { name: 'unknown model in /v1/models/:id', method: 'GET', path: '/v1/models/llama-70b', status: 404, code: 'model_not_found' },
];

const errors = suite('http bad input matrix');
let engine: Engine;
let open: NodeServer;
let keyed: NodeServer;

// resolved at import: a missing shared folder fails the run plainly (uvu swallows errors thrown in before hooks)
const storiesPath = sharedModel('stories260K.gguf');

errors.before(async () => {
  engine = await startEngine(await fileSource(storiesPath), readNodeCoreModule(), {
    parallel: 1,
    queueLimit: 4,
    context,
    threads: 1,
  });
  open = await serveNode(createApp(engine, { maxBodyBytes: maxBody }), { port: 0, hostname: '127.0.0.1' });
  keyed = await serveNode(createApp(engine, { apiKey: 'secret' }), { port: 0, hostname: '127.0.0.1' });
});

errors.after(async () => {
  await open?.close();
  await keyed?.close();
  await engine?.close();
});

errors(`${cases.length} bad requests, each its own 4xx in OpenAI's shape`, async () => {
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    const url = (c.keyed ? keyed : open).url + (c.path ?? '/v1/chat/completions');
    const method = c.method ?? 'POST';
    const body =
      method === 'GET' ? undefined : typeof c.body === 'string' || c.body instanceof Uint8Array ? c.body : JSON.stringify(c.body);
    const res = await fetch(url, { method, body: body as BodyInit | undefined, headers: { 'content-type': 'application/json', ...c.headers } });
    const text = await res.text();
    assert.is(res.status, c.status, `${c.name}: status ${res.status} ${text}`);
    let json: { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } };
    try {
      json = JSON.parse(text);
    } catch {
      throw new assert.Assertion({ message: `${c.name}: not JSON: ${text}`, operator: 'json', expects: 'json', actual: text });
    }
    const e = json.error;
    assert.ok(e && typeof e === 'object', `${c.name}: no error object: ${text}`);
    assert.type(e.message, 'string', `${c.name}: message`);
    assert.ok((e.message as string).length > 10, `${c.name}: message says what is wrong`);
    assert.type(e.type, 'string', `${c.name}: type`);
    assert.ok('param' in e && 'code' in e, `${c.name}: param and code present (null allowed)`);
    if (c.code) assert.is(e.code, c.code, `${c.name}: code (${text})`);
    if (c.param) assert.is(e.param, c.param, `${c.name}: param (${text})`);
    if (c.status === 401) assert.is(res.headers.get('www-authenticate'), 'Bearer', `${c.name}: WWW-Authenticate`);
  }
});

errors('the server keeps serving, and the keyed server accepts its key; /health needs none', async () => {
  const ok = await fetch(`${open.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify(chat({ max_tokens: 8, temperature: 0 })),
  });
  assert.is(ok.status, 200);
  assert.is((await ok.json()).usage.completion_tokens > 0, true);
  const withKey = await fetch(`${keyed.url}/v1/models`, { headers: { authorization: 'Bearer secret' } });
  assert.is(withKey.status, 200);
  assert.is((await fetch(`${keyed.url}/health`)).status, 200);
  const metrics = await (await fetch(`${open.url}/metrics`)).text();
  assert.match(metrics, /^hearth_slots_active 0$/m);
});

errors('CORS is off by default and answers only the configured origins when on', async () => {
  const off = await fetch(`${open.url}/v1/models`, { headers: { origin: 'https://example.com' } });
  assert.is(off.headers.get('access-control-allow-origin'), null);
  const app = createApp(engine, { corsOrigins: ['https://good.example'] });
  const pre = await app.request('/v1/chat/completions', {
    method: 'OPTIONS',
    headers: { origin: 'https://good.example', 'access-control-request-method': 'POST' },
  });
  assert.is(pre.status, 204);
  assert.is(pre.headers.get('access-control-allow-origin'), 'https://good.example');
  const bad = await app.request('/v1/models', { headers: { origin: 'https://evil.example' } });
  assert.is(bad.headers.get('access-control-allow-origin'), null);
});

errors.run();
