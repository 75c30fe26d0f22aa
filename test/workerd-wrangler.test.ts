/**
 * `wrangler dev` (4.86 on Node 20) serves the bundle with the committed wrangler.toml and answers a chat completion
 * from the embedded default model (hearth-nano with its projector and assistant); greedy text equals the same app on
 * Node over the same files. The test runs wrangler in a temporary copy of the built tree, with the config's [build]
 * step left out (the tree is built already).
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { startEngine } from '../src/host/start.ts';
import { createApp } from '../src/http/app.ts';
import { bin, buildIntoTemp, freePort, startChild, waitForHttp, type Child } from './helpers/hosts.ts';
import { repoRoot } from './helpers/models.ts';

/** The committed wrangler.toml without its [build] table. */
function withoutBuildStep(toml: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of toml.split('\n')) {
    if (/^\s*\[/.test(line)) skipping = /^\s*\[build\]\s*$/.test(line);
    if (!skipping) out.push(line);
  }
  return out.join('\n');
}

const wrangler = suite('wrangler dev');
let root = '';
let child: Child | null = null;

wrangler.before(async () => {
  root = await buildIntoTemp();
  writeFileSync(join(root, 'wrangler.toml'), withoutBuildStep(readFileSync(join(repoRoot, 'wrangler.toml'), 'utf8')));
  mkdirSync(join(root, 'home'));
});

wrangler.after(async () => {
  await child?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

wrangler('answers a chat completion from the embedded default model', async () => {
  const [port, inspector] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  child = startChild(bin('wrangler'), ['dev', '--port', String(port), '--ip', '127.0.0.1', '--inspector-port', String(inspector)], {
    cwd: root,
    env: {
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_LOG_PATH: join(root, 'home/logs'),
      XDG_CONFIG_HOME: join(root, 'home'),
      CI: '1',
    },
  });
  await waitForHttp(`${url}/health`, child, 90_000);

  const request = () => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What is 12 + 7?' }], max_tokens: 24, temperature: 0 }),
  });
  const res = await fetch(`${url}/v1/chat/completions`, request());
  assert.is(res.status, 200);
  const body = await res.json();
  assert.is(body.model, 'hearth-nano');
  const dist = join(root, 'dist');
  const engine = await startEngine(await fileSource(join(dist, 'hearth-nano.gguf')), readNodeCoreModule(), { parallel: 1, queueLimit: 1, context: 512, threads: 1 }, {
    mmproj: await fileSource(join(dist, 'hearth-nano-mmproj.gguf')),
  });
  try {
    const local = await (await createApp(engine).request('/v1/chat/completions', request())).json();
    assert.is(body.choices[0].message.content, local.choices[0].message.content);
    assert.is(body.usage.completion_tokens, local.usage.completion_tokens);
    assert.ok(body.usage.completion_tokens > 0);
  } finally {
    await engine.close();
  }
});

wrangler.run();
