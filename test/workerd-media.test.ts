/**
 * Images and audio on real workerd (scripts/workerd.capnp, relaxed-SIMD core, inline executor): the fixture text
 * model and its mmproj come from the disk-directory binding (HEARTH_MODEL, HEARTH_MMPROJ). With the official
 * `openai` client: a chat completion with an image part, one with an audio part, and a transcription, each equal to
 * the library API on Node for the same prompt.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import type { Engine } from '../src/engine/api.ts';
import { bufferSource } from '../src/engine/gguf/source.ts';
import { startEngine } from '../src/host/start.ts';
import { mediaFile } from './fixtures/multimodal/inputs.ts';
import { bin, buildIntoTemp, freePort, startChild, waitForHttp, type Child } from './helpers/hosts.ts';
import { fixtureChat, libraryAnswer, mediaFixture, writeMediaModels } from './helpers/media-model.ts';

const wd = suite('workerd: images and audio through the openai client');
let root = '';
let dir = '';
let child: Child | null = null;
let client: OpenAI;
let library: Engine;

wd.before(async () => {
  root = await buildIntoTemp();
  const files = await writeMediaModels();
  dir = files.dir;
  const port = await freePort();
  child = startChild(
    bin('workerd'),
    ['serve', join(root, 'scripts/workerd.capnp'), '--directory-path', `models=${dir}`, '--socket-addr', `http=127.0.0.1:${port}`],
    { env: { HEARTH_MODEL: 'media.gguf', HEARTH_MMPROJ: 'media-mmproj.gguf', HEARTH_PARALLEL: '1', HEARTH_CONTEXT: '1024' } },
  );
  await waitForHttp(`http://127.0.0.1:${port}/health`, child, 60_000);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'none', maxRetries: 0, timeout: 120_000 });
  library = await startEngine(bufferSource(readFileSync(files.model), 'media.gguf'), readNodeCoreModule(), { parallel: 1, queueLimit: 4, context: 1024, threads: 1 }, {
    mmproj: bufferSource(readFileSync(files.mmproj), 'media-mmproj.gguf'),
  });
});

wd.after(async () => {
  await child?.stop();
  await library?.close();
  for (const d of [root, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

wd('chat with an image part', async () => {
  const f = mediaFixture('image-100x70');
  const want = await libraryAnswer(library, f.prompt, f.media, f.nPredict);
  const chat = await client.chat.completions.create(fixtureChat(f));
  assert.is(chat.choices[0].message.content, want.text);
  assert.is(chat.usage?.prompt_tokens, want.promptTokens);
});

wd('chat with an input_audio part', async () => {
  const f = mediaFixture('audio-1s');
  const want = await libraryAnswer(library, f.prompt, f.media, f.nPredict);
  const chat = await client.chat.completions.create(fixtureChat(f));
  assert.is(chat.choices[0].message.content, want.text);
});

wd('a transcription', async () => {
  const f = mediaFixture('audio-1s');
  const want = await libraryAnswer(library, f.prompt, f.media, f.nPredict);
  const file = await toFile(Buffer.from(mediaFile(f.media[0]).bytes), 'clip.wav', { type: 'audio/wav' });
  const res = await client.audio.transcriptions.create({ model: 'media', file, max_tokens: f.nPredict } as never);
  assert.is((res as { text: string }).text, want.text.trim());
});

wd.run();
