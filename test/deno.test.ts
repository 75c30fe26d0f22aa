/**
 * `deno serve dist/worker.js` (the `deno` npm package's binary) answers a chat completion with stories260K read
 * from a file path, and its greedy text equals the library API's. Then the same bundle loads the model from
 * `MODEL_URL`, served with Range support by scripts/workerd-files.capnp (the way documented for wrangler dev).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { bin, buildIntoTemp, freePort, startChild, waitForHttp, type Child } from './helpers/hosts.ts';
import { loadFile, sharedModel, sharedModels } from './helpers/models.ts';

const deno = suite('deno serve dist/worker.js');
let root = '';
let child: Child | null = null;
let files: Child | null = null;

deno.before(async () => {
  root = await buildIntoTemp();
});

deno.after(async () => {
  await child?.stop();
  await files?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

deno('chat completion from a model file; greedy text equals the library', async () => {
  const model = sharedModel('stories260K.gguf');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  child = startChild(
    bin('deno'),
    ['serve', '--allow-read', '--allow-env', '--host', '127.0.0.1', '--port', String(port), join(root, 'dist/worker.js')],
    { env: { HEARTH_MODEL: model, HEARTH_CONTEXT: '512', DENO_NO_UPDATE_CHECK: '1' } },
  );
  await waitForHttp(`${url}/health`, child, 60_000);

  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'stories260K', messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 40, temperature: 0 }),
  });
  assert.is(res.status, 200);
  const body = await res.json();
  const library = await loadFile(model);
  let expected = '';
  for await (const ev of generate(library, '<|im_start|>user\nTell me a story<|im_end|>\n<|im_start|>assistant\n', { temperature: 0, maxTokens: 40 })) {
    expected += ev.text;
  }
  assert.is(body.choices[0].message.content, expected);
  assert.is(body.model, 'stories260K');
});

deno('the model from MODEL_URL (ranged GETs to a local file server)', async () => {
  await child?.stop();
  const [filePort, port] = [await freePort(), await freePort()];
  files = startChild(bin('workerd'), [
    'serve',
    join(root, 'scripts/workerd-files.capnp'),
    '--directory-path',
    `models=${sharedModels}`,
    '--socket-addr',
    `http=127.0.0.1:${filePort}`,
  ]);
  await waitForHttp(`http://127.0.0.1:${filePort}/stories260K.gguf`, files, 10_000);
  const url = `http://127.0.0.1:${port}`;
  child = startChild(
    bin('deno'),
    ['serve', '--allow-read', '--allow-env', '--allow-net', '--host', '127.0.0.1', '--port', String(port), join(root, 'dist/worker.js')],
    { env: { MODEL_URL: `http://127.0.0.1:${filePort}/stories260K.gguf`, DENO_NO_UPDATE_CHECK: '1' } },
  );
  await waitForHttp(`${url}/health`, child, 60_000);
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }),
  });
  const body = await res.json();
  assert.is(body.model, 'stories260K');
  assert.is(body.choices[0].text, ', there was a little girl');
});

deno.run();
