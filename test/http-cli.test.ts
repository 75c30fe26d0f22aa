/** `hearth serve` (the Node entry, run from source): flags, serving a model file, and clear errors on bad flags. */
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, startChild, waitForHttp, type Child } from './helpers/hosts.ts';
import { repoRoot, sharedModel } from './helpers/models.ts';

const cli = suite('hearth serve (Node CLI)');
let child: Child | null = null;

cli.after(async () => {
  await child?.stop();
});

cli('serves a model file on the given port with the given slots', async () => {
  const port = await freePort();
  child = startChild(process.execPath, [
    '--import', 'tsx', 'src/cli/index.ts', 'serve',
    '--model', sharedModel('stories260K.gguf'), '--port', String(port), '--parallel', '3', '--ctx', '256',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child, 30_000);
  const models = await (await fetch(`${url}/v1/models`)).json();
  assert.is(models.data[0].id, 'stories260K');
  assert.is(models.data[0].hearth.slots, 3);
  assert.is(models.data[0].hearth.context_per_slot, 256);
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }),
  });
  // the first 8 of llama.cpp's greedy tokens (../shared/models/PROVENANCE.md)
  assert.is((await res.json()).choices[0].text, ', there was a little girl');
});

cli('bad flags exit with status 2 and say what is wrong', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 });
  const port = run(['--port', 'eighty']);
  assert.is(port.status, 2);
  assert.match(port.stderr, /--port must be a whole number/);
  const parallel = run(['--parallel', '0', '--model', 'x.gguf']);
  assert.is(parallel.status, 2);
  assert.match(parallel.stderr, /HEARTH_PARALLEL must be a whole number/);
  const unknown = run(['--modle', 'x.gguf']);
  assert.is(unknown.status, 2);
  assert.match(unknown.stderr, /modle/);
});

cli.run();
