/**
 * 100,000 mutated GGUF headers (seeded, replayable with bench/fuzz-gguf.ts): each must parse into a consistent file or
 * throw a GgufError — never another exception, a slow case or a runaway allocation. Half the cases mutate a small
 * synthetic file with every value type, half mutate stories260K's real header (claiming the real file size).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzBaseFile, runFuzz, storiesHeaderBase, type FuzzBase } from '../bench/fuzz-gguf.ts';

test('100,000 mutated headers: parse or GgufError, fast, bounded memory', async () => {
  const synthetic = await fuzzBaseFile();
  const bases: FuzzBase[] = [{ name: 'synthetic', bytes: synthetic, size: synthetic.length }, await storiesHeaderBase()];
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let total = { cases: 0, parsed: 0, ms: 0, slowest: 0, maxRead: 0 };
  const codes = new Map<string, number>();
  // ten rounds of 10,000 with their own seeds, sampling memory between rounds
  for (let round = 0; round < 10; round++) {
    // the per-case bound catches runaway parses, not speed: it must hold on a loaded 2-core CI machine (GC pauses)
    const r = await runFuzz(bases, 10_000, 1000 + round, 10_000);
    assert.equal(r.failures, [], `seed ${1000 + round}: ${r.failures.map((f) => `case ${f.index}: ${f.problem}`).join('\n')}`);
    total = {
      cases: total.cases + r.cases, parsed: total.parsed + r.parsed, ms: total.ms + r.ms,
      slowest: Math.max(total.slowest, r.slowestMs), maxRead: Math.max(total.maxRead, r.maxRead),
    };
    for (const [c, n] of r.codes) codes.set(c, (codes.get(c) ?? 0) + n);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }
  assert.is(total.cases, 100_000);
  // the mutations must reach deep into the format, not just break the magic
  assert.ok(total.parsed > 10_000, `only ${total.parsed} mutated files parsed`);
  for (const code of ['truncated', 'string_too_long', 'bad_value_type', 'bad_dims', 'tensor_out_of_bounds', 'bad_tensor_name', 'array_too_long', 'unknown_tensor_type']) {
    assert.ok((codes.get(code) ?? 0) > 0, `no case produced ${code}`);
  }
  // the reader reads one 1 MiB window, or one string/array that the file really holds, at a time
  const biggest = Math.max(...bases.map((b) => b.size));
  assert.ok(total.maxRead <= biggest, `largest read ${total.maxRead}`);
  assert.ok(rssPeak - rssBefore < 256 << 20, `memory grew by ${((rssPeak - rssBefore) / 2 ** 20).toFixed(0)} MiB`);
  console.log(`    ${total.cases} cases in ${(total.ms / 1000).toFixed(1)} s, ${total.parsed} parsed, slowest ${total.slowest.toFixed(1)} ms, ` +
    `rss +${((rssPeak - rssBefore) / 2 ** 20).toFixed(0)} MiB`);
});

test.run();
