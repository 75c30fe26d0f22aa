/**
 * `deno serve dist/worker.js` (the `deno` npm package's binary) answers a chat completion with stories260K read
 * from a file path, and its greedy text equals the library API's.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../src/engine/generate.ts';
import { bin, buildIntoTemp, freePort, startChild, waitForHttp, type Child } from './helpers/hosts.ts';
import { loadFile, sharedModel } from './helpers/models.ts';

const deno = suite('deno serve dist/worker.js');
let root = '';
let child: Child | null = null;

deno.before(async () => {
  root = await buildIntoTemp();
});

deno.after(async () => {
  await child?.stop();
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

deno.run();
