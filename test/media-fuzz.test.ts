/**
 * 50,000 mutated PNG/JPEG/WAV files (seeded, replayable with bench/fuzz-media.ts): each must decode to a
 * consistent value or throw a MediaError — never another exception, never a case running past 10 s (a watchdog
 * thread sees hangs), never enough memory to kill a worker capped at 1 GB.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runFuzz } from '../bench/fuzz-media.ts';

test('50,000 mutated media files: values or MediaErrors only', async () => {
  const t0 = performance.now();
  const stats = await runFuzz(20261127, 50_000);
  const seconds = (performance.now() - t0) / 1000;
  assert.is(stats.cases, 50_000);
  // The mutations must reach both outcomes, and each kind of refusal, or the fuzzing proves little.
  assert.ok(stats.values > 2_000, `decoded ${stats.values}`);
  for (const code of ['corrupt', 'too_large', 'unsupported_format'] as const) {
    assert.ok((stats.errors[code] ?? 0) > 100, `${code}: ${stats.errors[code] ?? 0}`);
  }
  console.log(`  ${stats.cases} cases in ${seconds.toFixed(1)} s, ${stats.values} decoded, ${JSON.stringify(stats.errors)}, slowest ${stats.slowestMs.toFixed(0)} ms`);
});

test.run();
