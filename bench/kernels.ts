/**
 * Weight-streaming speed of the core's matmul per weight type, single thread: GB/s of weight bytes read per
 * matmul call, for 1 and 8 activation columns (quantization of the activations excluded; it is timed apart).
 *   npx tsx bench/kernels.ts [--types q8_0,q4_0] [--mb 96] [--k 4096] [--cols 1,8] [--reps 15] [--build baseline|relaxed]
 *   node_modules/.bin/deno run -A bench/kernels.ts --build relaxed
 * Matrices are ~96 MB (3x this machine's 32 MB L3) so the weights really come from memory. Reported: GB/s of the
 * best of --reps calls (the uncontended speed on a shared VM) and of the median.
 */
import { Core, CoreOps, InlineExecutor, type CoreBuild, weightTraits, rowBytes } from '../src/core/index.ts';
import { readNodeCoreModule } from '../src/core/node.ts';

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const build = (opt('build') ?? 'baseline') as CoreBuild;
const mb = Number(opt('mb') ?? 96);
const wanted = opt('types')?.split(',');
const cols = (opt('cols') ?? '1,8').split(',').map(Number);
const reps = Number(opt('reps') ?? 15);

const core = new Core(readNodeCoreModule(build), { initialBytes: (mb + 64) << 20 });
const ops = new CoreOps(core, new InlineExecutor(core.exports));

const k = Number(opt('k') ?? 4096);
console.log(`hearth core ${build} build, single thread, k = ${k}, ~${mb} MB of weights per type`);
for (const t of weightTraits.values()) {
  if (wanted && !wanted.includes(t.name.toLowerCase())) continue;
  const rb = rowBytes(t.id, k);
  const nRows = Math.floor((mb << 20) / rb);
  const bytes = rb * nRows;
  const w = core.alloc(bytes);
  // random bytes with small f16 scales wherever a block stores one: realistic enough for timing
  const u8 = core.u8(w, bytes);
  for (let i = 0; i < bytes; i += 4096) crypto.getRandomValues(u8.subarray(i, Math.min(bytes, i + 4096)));
  if (t.blockSize > 1) for (let o = 0; o < bytes; o += t.blockBytes) u8[o + (t.id === 14 ? 209 : 1)] = 0x1c;
  else if (t.id !== 0) for (let o = 1; o < bytes; o += 2) u8[o] &= 0x3f;
  else for (let o = 3; o < bytes; o += 4) u8[o] &= 0x3f;
  const line: string[] = [];
  for (const n of cols) {
    const x = core.alloc(4 * k * n), xq = core.alloc(ops.actBytes(t.id, k) * n), y = core.alloc(4 * nRows * n);
    const xf = core.f32(x, k * n);
    for (let i = 0; i < xf.length; i++) xf[i] = Math.sin(i * 0.37);
    ops.quantizeAct(t.id, x, xq, k, n);
    ops.matmulQuantized(t.id, w, k, nRows, xq, n, y); // warm-up (and page faults)
    const times: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const t0 = performance.now();
      ops.matmulQuantized(t.id, w, k, nRows, xq, n, y);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    // best of N estimates the uncontended speed on a shared VM; the median shows the spread
    const best = times[0], median = times[times.length >> 1];
    line.push(`n_cols=${n}: ${(bytes / best / 1e6).toFixed(2)} GB/s (median ${(bytes / median / 1e6).toFixed(2)})`);
  }
  const x = core.alloc(4 * k * 8), xq = core.alloc(ops.actBytes(t.id, k) * 8);
  const t0 = performance.now();
  for (let rep = 0; rep < 50; rep++) ops.quantizeAct(t.id, x, xq, k, 8);
  const qus = ((performance.now() - t0) / 50 / 8) * 1000;
  console.log(`${t.name.padEnd(5)} ${line.join('   ')}   quantize ${qus.toFixed(1)} us/column`);
}
