/**
 * Images and audio over HTTP on Node, with the official `openai` client: chat with an image part, chat with an audio
 * part, several media in one message, `/v1/audio/transcriptions` in its three response formats. Answers must equal
 * the library API given the same prompt laid out by hand (and that prompt's continuation is llama-mtmd-cli's: see
 * test/multimodal.test.ts). Then the media errors: each a 400 in OpenAI's shape.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { toFile } from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import type { Engine } from '../src/engine/api.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { serveNode, type NodeServer } from '../src/host/node/serve.ts';
import { startEngine } from '../src/host/start.ts';
import { createApp } from '../src/http/app.ts';
import { defaultMediaLimits } from '../src/http/media.ts';
import { encodeWav, mediaFile, testSound } from './fixtures/multimodal/inputs.ts';
import { dataUrl, fixtureChat, libraryAnswer, mediaFixture, writeMediaModels } from './helpers/media-model.ts';

const media = suite('HTTP: images and audio (Node, openai client)');
let dir = '';
let engine: Engine;
let server: NodeServer;
let client: OpenAI;

media.before(async () => {
  const files = await writeMediaModels();
  dir = files.dir;
  engine = await startEngine(await fileSource(files.model), readNodeCoreModule(), { parallel: 2, queueLimit: 8, context: 2048, threads: 1 }, {
    mmproj: await fileSource(files.mmproj),
  });
  server = await serveNode(createApp(engine, { media: { ...defaultMediaLimits, maxAudioSeconds: 5, maxMediaItems: 4 } }), {
    port: 0,
    hostname: '127.0.0.1',
  });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 120_000 });
});

media.after(async () => {
  await server?.close();
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

media('chat with an image part equals the library (and llama.cpp); usage counts the soft tokens', async () => {
  const f = mediaFixture('image-100x70');
  const want = await libraryAnswer(engine, f.prompt, f.media, f.nPredict);
  const chat = await client.chat.completions.create(fixtureChat(f));
  assert.is(chat.choices[0].message.content, want.text);
  assert.is(chat.usage?.prompt_tokens, want.promptTokens);
  assert.ok(want.promptTokens > f.mediaRows[0] + 2, 'the 77 soft tokens are in the count');
});

media('chat with an input_audio part, streamed, equals the library', async () => {
  const f = mediaFixture('audio-1s');
  const want = await libraryAnswer(engine, f.prompt, f.media, f.nPredict);
  const stream = await client.chat.completions.create({ ...fixtureChat(f), stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.is(text, want.text);
});

media('several media in one message, in order, with text between', async () => {
  const f = mediaFixture('multi');
  const want = await libraryAnswer(engine, f.prompt, f.media, f.nPredict);
  // the fixture prompt "A<media>B<media>C" as parts: text and media alternate, no newline around media
  const texts = f.prompt.split('<__media__>');
  const content: OpenAI.Chat.ChatCompletionContentPart[] = [];
  texts.forEach((t, i) => {
    if (t) content.push({ type: 'text', text: t });
    const item = f.media[i];
    if (!item) return;
    if (item.kind === 'image') content.push({ type: 'image_url', image_url: { url: dataUrl(item) } });
    else content.push({ type: 'input_audio', input_audio: { data: Buffer.from(mediaFile(item).bytes).toString('base64'), format: 'wav' } });
  });
  const chat = await client.chat.completions.create({ model: 'media', messages: [{ role: 'user', content }], max_tokens: f.nPredict, temperature: 0 });
  assert.is(chat.choices[0].message.content, want.text);
  assert.is(chat.usage?.prompt_tokens, want.promptTokens);
});

media('/v1/audio/transcriptions: json, text and verbose_json, the prompt llama.cpp builds', async () => {
  const f = mediaFixture('audio-1s');
  assert.is(f.prompt, 'Transcribe audio to text<__media__>');
  const want = await libraryAnswer(engine, f.prompt, f.media, f.nPredict);
  const file = await toFile(Buffer.from(mediaFile(f.media[0]).bytes), 'clip.wav', { type: 'audio/wav' });
  const json = await client.audio.transcriptions.create({ model: 'media', file, max_tokens: f.nPredict } as never);
  assert.is((json as { text: string }).text, want.text.trim());

  const text = await client.audio.transcriptions.create({ model: 'media', file, response_format: 'text', max_tokens: f.nPredict } as never);
  assert.is(String(text).trim(), want.text.trim());

  const verbose = (await client.audio.transcriptions.create({
    model: 'media', file, response_format: 'verbose_json', language: 'en', max_tokens: 4,
  } as never)) as unknown as { duration: number; text: string; language: string; segments: unknown[] };
  assert.is(verbose.duration, 1);
  assert.is(verbose.language, 'en');
  assert.is(verbose.segments.length, 1);
  const withLanguage = await libraryAnswer(engine, 'Transcribe audio to text (language: en)<__media__>', f.media, 4);
  assert.is(verbose.text, withLanguage.text.trim());
});

media('remote image URLs: fetched only when the server allows them, with the same answer as a data: URL', async () => {
  const f = mediaFixture('image-100x70');
  const want = await libraryAnswer(engine, f.prompt, f.media, 4);
  const bytes = mediaFile(f.media[0]).bytes;
  const files = createServer((req, res) => {
    if (req.url === '/cat.png') res.writeHead(200, { 'content-type': 'image/png' }).end(bytes);
    else res.writeHead(404).end('no');
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  const open = await serveNode(createApp(engine, { media: { ...defaultMediaLimits, allowRemoteMedia: true } }), { port: 0, hostname: '127.0.0.1' });
  try {
    const ask = (url: string) =>
      fetch(`${open.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'describe it' }] }], max_tokens: 4, temperature: 0 }),
      });
    const ok = await ask(`${base}/cat.png`);
    assert.is(ok.status, 200);
    assert.is((await ok.json()).choices[0].message.content, want.text);
    const missing = await ask(`${base}/nothing.png`);
    assert.is(missing.status, 400);
    assert.is((await missing.json()).error.code, 'media_fetch_failed');
  } finally {
    await open.close();
    files.close();
  }
});

interface Bad {
  name: string;
  path?: string;
  body: unknown;
  form?: FormData;
  code: string;
  status?: number;
}

const png = mediaFile({ kind: 'image', width: 100, height: 70, seed: 2 }).bytes;
const wav = mediaFile({ kind: 'audio', samples: 16000, seed: 3 }).bytes;
const image = (url: string) => ({
  model: 'media',
  messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'hi' }] }],
  max_tokens: 2,
});
const audio = (data: string, format = 'wav') => ({
  model: 'media',
  messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data, format } }] }],
  max_tokens: 2,
});
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const form = (fields: Record<string, string | Blob>) => {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
};

const bad: Bad[] = [
  { name: 'corrupt PNG', body: image(`data:image/png;base64,${b64(png.subarray(0, 60))}`), code: 'invalid_image' },
  { name: 'not an image at all', body: image(`data:image/png;base64,${b64(new TextEncoder().encode('hello world, not a picture'))}`), code: 'unsupported_format' },
  { name: 'data URL without base64', body: image('data:image/png,abc'), code: 'invalid_value' },
  { name: 'invalid base64', body: image('data:image/png;base64,@@@@'), code: 'invalid_value' },
  { name: 'remote URL while disabled', body: image('https://example.com/cat.png'), code: 'remote_media_disabled' },
  { name: 'file:// URL', body: image('file:///etc/passwd'), code: 'invalid_value' },
  { name: 'missing url', body: { model: 'media', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, code: 'missing_required_parameter' },
  { name: 'mp3 audio', body: audio(b64(wav), 'mp3'), code: 'unsupported_format' },
  { name: 'corrupt WAV', body: audio(b64(wav.subarray(0, 30))), code: 'invalid_audio' },
  { name: 'audio too long (limit 5 s)', body: audio(b64(encodeWav(testSound(16000 * 6, 1), 16000))), code: 'media_too_large' },
  {
    name: 'too many media parts (limit 4)',
    body: { model: 'media', messages: [{ role: 'user', content: new Array(5).fill({ type: 'input_audio', input_audio: { data: b64(wav), format: 'wav' } }) }] },
    code: 'too_many_media',
  },
  {
    name: 'more soft tokens than the context (4 images of ≥ 1064 tokens in 2048)',
    body: { model: 'media', messages: [{ role: 'user', content: new Array(2).fill({ type: 'image_url', image_url: { url: `data:image/png;base64,${b64(mediaFile({ kind: 'image', width: 2000, height: 1500, seed: 1 }).bytes)}` } }) }] },
    code: 'context_length_exceeded',
  },
  { name: 'transcription without a file', path: '/v1/audio/transcriptions', body: null, form: form({ model: 'media' }), code: 'missing_required_parameter' },
  { name: 'transcription with srt', path: '/v1/audio/transcriptions', body: null, form: form({ file: new Blob([wav as BlobPart]), response_format: 'srt' }), code: 'unsupported_value' },
  { name: 'transcription with timestamps', path: '/v1/audio/transcriptions', body: null, form: form({ file: new Blob([wav as BlobPart]), 'timestamp_granularities[]': 'word' }), code: 'unsupported_parameter' },
  { name: 'transcription of a PNG', path: '/v1/audio/transcriptions', body: null, form: form({ file: new Blob([png as BlobPart]) }), code: 'unsupported_format' },
  { name: 'transcription as JSON', path: '/v1/audio/transcriptions', body: { file: 'x' }, code: 'invalid_content_type' },
];

media(`${bad.length} bad media requests: each a 400 in OpenAI's shape, and the server stays healthy`, async () => {
  for (const c of bad) {
    const init: RequestInit = c.form
      ? { method: 'POST', body: c.form }
      : { method: 'POST', body: JSON.stringify(c.body), headers: { 'content-type': 'application/json' } };
    const res = await fetch(server.url + (c.path ?? '/v1/chat/completions'), init);
    const text = await res.text();
    assert.is(res.status, c.status ?? 400, `${c.name}: ${res.status} ${text}`);
    const err = JSON.parse(text).error;
    assert.is(err.code, c.code, `${c.name}: ${text}`);
    assert.is(err.type, 'invalid_request_error', c.name);
    assert.ok(typeof err.message === 'string' && err.message.length > 10, c.name);
  }
  const s = engine.stats();
  assert.is(s.active, 0, 'no slot leaked');
  assert.is(s.queued, 0);
});

media.run();
