/**
 * The playground's server side, without a browser: `/` and its assets with their security headers, open while the
 * API wants a key, and the pieces of the page that need no DOM — its SSE reader against the server's real stream
 * (which now ends with llama.cpp-style `timings`), and its WAV encoder.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import type { Engine } from '../src/engine/api.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { startEngine } from '../src/host/start.ts';
import { createApp, type HearthApp } from '../src/http/app.ts';
import { playgroundCsp } from '../src/http/routes/playground.ts';
import { downmix, encodeWav, toBase64 } from '../src/playground/encoding.ts';
import { sseEvents } from '../src/playground/sse.ts';
import { sharedModel } from './helpers/models.ts';

const page = suite('playground: the page, its assets and headers');
let engine: Engine | null = null;
let started: Promise<HearthApp> | null = null;

/** Started by the tests that need it, not in before(): uvu passes a suite whose before() throws (exit code 0). */
function served(): Promise<HearthApp> {
  started ??= (async () => {
    engine = await startEngine(await fileSource(sharedModel('stories260K.gguf')), readNodeCoreModule(), {
      parallel: 1,
      queueLimit: 4,
      context: 512,
      threads: 1,
    });
    return createApp(engine);
  })();
  return started;
}

page.after(async () => {
  await engine?.close();
});

const get = (a: HearthApp, path: string, headers: Record<string, string> = {}) =>
  a.fetch(new Request(`http://hearth${path}`, { headers }));

/** The asset paths the HTML links (src= and href=). */
function linked(html: string): string[] {
  return [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
}

page('GET / is the page, with a strict CSP; it links only its own assets, nothing inline', async () => {
  const app = await served();
  const res = await get(app, '/');
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.is(res.headers.get('content-security-policy'), playgroundCsp);
  assert.match(playgroundCsp, /default-src 'none'/);
  assert.match(playgroundCsp, /script-src 'self';/);
  assert.not.match(playgroundCsp, /unsafe-inline|unsafe-eval|https?:/);
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
  assert.is(res.headers.get('cache-control'), 'no-cache');
  const html = await res.text();
  // every script has a src (no inline code), no inline styles or handlers
  assert.is([...html.matchAll(/<script\b/g)].length, [...html.matchAll(/<script\b[^>]*\ssrc="/g)].length);
  assert.not.match(html, /<style\b|\sstyle="|\son[a-z]+="/i);
  const links = linked(html);
  assert.ok(links.length >= 3, `links: ${links.join(', ')}`);
  for (const path of links) assert.match(path, /^\/playground\/[\w-]+\.(js|css|svg)$/);
});

page('each asset is served with its type, cached for good; unknown names are a 404', async () => {
  const app = await served();
  const html = await (await get(app, '/')).text();
  const types: Record<string, string> = { js: 'text/javascript', css: 'text/css', svg: 'image/svg+xml' };
  for (const path of new Set(linked(html))) {
    const res = await get(app, path);
    assert.is(res.status, 200, path);
    assert.ok(res.headers.get('content-type')!.startsWith(types[path.split('.').pop()!]), path);
    assert.is(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok((await res.text()).length > 100, path);
  }
  for (const path of ['/playground/app.js', '/playground/__proto__', '/playground/constructor', '/index.html']) {
    const res = await get(app, path);
    assert.is(res.status, 404, path);
    assert.is((await res.json()).error.code, 'unknown_url', path);
  }
});

page('with an API key set, the page and its assets stay open while the API asks for the key', async () => {
  await served();
  const locked = createApp(engine!, { apiKey: 'sesame' });
  const res = await get(locked, '/');
  assert.is(res.status, 200);
  for (const path of linked(await res.text())) assert.is((await get(locked, path)).status, 200, path);
  assert.is((await get(locked, '/v1/models')).status, 401);
  assert.is((await get(locked, '/metrics')).status, 401);
  assert.is((await get(locked, '/v1/models', { authorization: 'Bearer sesame' })).status, 200);
});

page("the page's SSE reader gets the server's chunks; the last carries timings that agree with usage", async () => {
  const app = await served();
  const body = { messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 24, temperature: 0 };
  const post = (extra: object) =>
    app.fetch(new Request('http://hearth/v1/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, ...extra }) }));
  const whole = await (await post({})).json();
  const res = await post({ stream: true, stream_options: { include_usage: true } });
  type Chunk = {
    choices: { delta: { content?: string } }[];
    usage?: { completion_tokens: number; prompt_tokens: number } | null;
    timings?: { predicted_n: number; prompt_n: number; predicted_per_second: number; prompt_per_second: number; predicted_ms: number };
  };
  const chunks: Chunk[] = [];
  for await (const c of sseEvents(res.body!)) chunks.push(c as Chunk);
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  assert.is(text, whole.choices[0].message.content);
  const last = chunks[chunks.length - 1];
  assert.is(last.choices.length, 0);
  assert.ok(last.timings, 'timings on the last chunk');
  assert.is(chunks.filter((c) => c.timings).length, 1, 'timings once');
  assert.is(last.timings!.predicted_n, last.usage!.completion_tokens);
  assert.is(last.timings!.prompt_n, last.usage!.prompt_tokens);
  assert.ok(last.timings!.predicted_per_second > 0 && last.timings!.prompt_per_second > 0);
  assert.ok(last.timings!.predicted_ms > 0);
  // whole responses carry them too, beside an unchanged OpenAI usage
  assert.is(whole.timings.predicted_n, whole.usage.completion_tokens);
  assert.equal(Object.keys(whole.usage).sort(), ['completion_tokens', 'prompt_tokens', 'total_tokens']);
});

page('SSE reader: events split across reads, CRLF framing, comments, [DONE] ends the stream', async () => {
  const text = ': keep-alive\r\n\r\ndata: {"a":1}\r\n\r\ndata: {"b":\ndata: 2}\n\ndata: [DONE]\n\ndata: {"late":true}\n\n';
  const bytes = new TextEncoder().encode(text);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      // one byte at a time: every boundary falls inside some read
      for (const b of bytes) controller.enqueue(new Uint8Array([b]));
      controller.close();
    },
  });
  const events: unknown[] = [];
  for await (const e of sseEvents(stream)) events.push(e);
  assert.equal(events, [{ a: 1 }, { b: 2 }]);
});

page('WAV encoder: RIFF header for 16-bit mono PCM, samples scaled and clipped; downmix averages', () => {
  const wav = encodeWav(new Float32Array([0, 1, -1, 0.5, -0.5, 2, -3]), 16000);
  const view = new DataView(wav.buffer);
  const ascii = (at: number, n: number) => String.fromCharCode(...wav.subarray(at, at + n));
  assert.is(ascii(0, 4), 'RIFF');
  assert.is(view.getUint32(4, true), wav.length - 8);
  assert.is(ascii(8, 8), 'WAVEfmt ');
  assert.is(view.getUint16(20, true), 1, 'PCM');
  assert.is(view.getUint16(22, true), 1, 'mono');
  assert.is(view.getUint32(24, true), 16000);
  assert.is(view.getUint32(28, true), 32000);
  assert.is(view.getUint16(34, true), 16);
  assert.is(ascii(36, 4), 'data');
  assert.is(view.getUint32(40, true), 14);
  const samples = Array.from({ length: 7 }, (_, i) => view.getInt16(44 + 2 * i, true));
  assert.equal(samples, [0, 32767, -32768, 16384, -16384, 32767, -32768]);
  assert.equal(Array.from(downmix([new Float32Array([1, 0.5]), new Float32Array([0, -0.5])])), [0.5, 0]);
  assert.is(toBase64(new Uint8Array([0, 255, 128])), Buffer.from([0, 255, 128]).toString('base64'));
  const big = new Uint8Array(100_000).map((_, i) => i * 7);
  assert.is(toBase64(big), Buffer.from(big).toString('base64'));
});

page.run();
