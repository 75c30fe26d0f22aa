/**
 * Run under Deno (test/kernels.test.ts spawns it): the kernel checks on the relaxed-SIMD build, plus bit-identical
 * matmul results between the relaxed and baseline builds. Exits non-zero on any failure.
 */
import { readNodeCoreModule } from '../src/core/node.ts';
import { checks, crossBuildMatmul, harness } from './kernel-checks.ts';

const relaxed = harness(readNodeCoreModule('relaxed'), 'relaxed');
const baseline = harness(readNodeCoreModule('baseline'), 'baseline');
let failed = 0;
for (const check of [...checks, { name: 'relaxed and baseline matmuls agree bit for bit', run: () => crossBuildMatmul(relaxed, baseline) }]) {
  const fails = check.run(relaxed);
  if (fails.length) {
    failed++;
    console.log(`FAIL relaxed ${check.name}: ${fails.length} failures\n  ${fails.slice(0, 10).join('\n  ')}`);
  } else console.log(`ok   relaxed ${check.name}`);
}
const total = checks.length + 1;
if (failed) {
  console.log(`relaxed: ${failed} of ${total} checks failed`);
  (globalThis as unknown as { Deno: { exit(code: number): never } }).Deno.exit(1);
}
console.log(`relaxed: all ${total} checks passed`);
