import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Core, CoreError, CoreOps, InlineExecutor, WeightType, weightTraits } from '../src/core/index.ts';
import { nodeCoreBuild, readNodeCoreModule } from '../src/core/node.ts';
import { checks, crossBuildMatmul, harness } from './kernel-checks.ts';

const h = harness(readNodeCoreModule('baseline'), 'baseline');

for (const check of checks) {
  test(`baseline ${check.name}`, () => {
    const fails = check.run(h);
    assert.equal(fails.slice(0, 10), [], `${fails.length} failures`);
  });
}

test('the core reports the layout the TypeScript table mirrors', () => {
  for (const t of weightTraits.values()) {
    const k = t.blockSize * 8;
    assert.ok(h.core.exports.hearth_act_row_bytes(t.id, k) > 0, `${t.name} supported`);
    assert.is(h.core.exports.hearth_act_row_bytes(t.id, k) % 16, 0, `${t.name} act rows 16-byte aligned`);
  }
  assert.is(h.core.exports.hearth_act_row_bytes(6 /* Q5_0 */, 256), 0);
  assert.is(h.core.exports.hearth_act_row_bytes(WeightType.Q4_K, 100), 0);
});

test('ops reject bad arguments with a CoreError', () => {
  const core = new Core(readNodeCoreModule('baseline'));
  const ops = new CoreOps(core, new InlineExecutor(core.exports));
  assert.throws(() => ops.matmul(6, 0, 256, 1, 0, 1, 0), (e: unknown) => e instanceof CoreError && /not supported/.test((e as Error).message));
  assert.throws(() => ops.matmul(WeightType.Q4_0, 0, 100, 1, 0, 1, 0), (e: unknown) => e instanceof CoreError && /multiple/.test((e as Error).message));
  assert.throws(() => ops.rope(0, 1, 1, 8, 9, 8, 0, 0), (e: unknown) => e instanceof CoreError && /n_rot/.test((e as Error).message));
  assert.throws(() => core.reserve(5 * 2 ** 30), (e: unknown) => e instanceof CoreError && /4 GiB/.test((e as Error).message));
});

// Node runs the relaxed build behind V8's flag once its self-test passes (src/core/node.ts): the same checks, in
// this process, and bit-identical matmuls with the baseline build
test('Node picks the relaxed build here, and its integer dot self-test passes', () => {
  assert.is(nodeCoreBuild(), 'relaxed');
  assert.is(new Core(readNodeCoreModule('relaxed')).exports.hearth_relaxed_selftest(), 1);
  assert.is(h.core.exports.hearth_relaxed_selftest(), 0, 'the baseline build has no relaxed ops');
});

const relaxedOnNode = nodeCoreBuild() === 'relaxed' ? harness(readNodeCoreModule('relaxed'), 'relaxed') : undefined;
for (const check of [...checks, { name: 'relaxed and baseline matmuls agree bit for bit', run: (r: typeof h) => crossBuildMatmul(r, h) }]) {
  test(`relaxed on Node ${check.name}`, () => {
    assert.ok(relaxedOnNode, 'Node did not take the relaxed build');
    const fails = check.run(relaxedOnNode);
    assert.equal(fails.slice(0, 10), [], `${fails.length} failures`);
  });
}

test('relaxed build: the same checks pass under Deno', () => {
  const deno = 'node_modules/.bin/deno';
  assert.ok(existsSync(deno), 'node_modules/.bin/deno is missing (npm install)');
  const run = spawnSync(deno, ['run', '-A', 'test/relaxed-check.ts'], { encoding: 'utf8', timeout: 300_000 });
  const out = `${run.stdout}\n${run.stderr}`;
  assert.is(run.status, 0, out.slice(-3000));
  assert.match(run.stdout, /relaxed: all \d+ checks passed/);
});

test.run();
