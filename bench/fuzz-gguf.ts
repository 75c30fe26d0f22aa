/**
 * Mutation fuzzing of the GGUF reader: every mutated header must either parse into a consistent result or throw a
 * GgufError — never another exception, a hang, or a huge allocation. test/gguf-fuzz.test.ts runs 100,000 cases;
 * this script runs as many as asked:
 *
 *   npx tsx bench/fuzz-gguf.ts [count=1000000] [seed=1] [--stories]   (--stories: mutate stories260K's header too)
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModelSource } from '../src/engine/gguf/source.ts';
import { readGguf, type GgufFile, type GgufLimits } from '../src/engine/gguf/reader.ts';
import { GgufError } from '../src/engine/gguf/errors.ts';
import { GGML_TYPE, GGUF_TYPE } from '../src/engine/gguf/types.ts';
import { encodeGguf, gv } from '../src/engine/gguf/writer.ts';
import { prng } from './prng.ts';

// Values that sit on the edges of the checks: zero, one, sign bits, all ones, just past limits, huge lengths.
const interesting32 = [0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 31, 32, 63, 64, 255, 256, 4096, 65535, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const interesting64 = [0n, 1n, 64n, 0xffffn, 0x1_0000_0000n, 1n << 53n, (1n << 53n) + 1n, 1n << 62n, 1n << 63n, (1n << 64n) - 1n, 0x7fff_ffff_ffff_ffffn];

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One mutation of `base` (a copy; the base is untouched). */
export function mutate(base: Uint8Array, rand: (n: number) => number): Uint8Array {
  let out: Uint8Array<ArrayBuffer> = base.slice();
  const rounds = 1 + rand(3);
  for (let r = 0; r < rounds; r++) {
    const at = rand(Math.max(1, out.length));
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    switch (rand(9)) {
      case 0: // bit flips
        for (let i = 1 + rand(4); i > 0; i--) {
          const p = rand(out.length);
          out[p] ^= 1 << rand(8);
        }
        break;
      case 1: // byte overwrite
        out[at] = [0, 0xff, 0x7f, 0x80, 1, rand(256)][rand(6)];
        break;
      case 2: // 32-bit overwrite (counts, types, n_dims)
        if (at + 4 <= out.length) view.setUint32(at, interesting32[rand(interesting32.length)], true);
        break;
      case 3: // 64-bit overwrite (lengths, counts, dims, offsets)
        if (at + 8 <= out.length) view.setBigUint64(at, interesting64[rand(interesting64.length)], true);
        break;
      case 4: // 64-bit overwrite at an 8-aligned position, where the header's u64 fields usually sit early on
        if ((at & ~7) + 8 <= out.length) view.setBigUint64(at & ~7, BigInt(rand(1 << 30)) * BigInt(1 + rand(4)), true);
        break;
      case 5: // truncation
        out = out.slice(0, at);
        break;
      case 6: { // insertion of random bytes
        const n = 1 + rand(16);
        const ins = new Uint8Array(n).map(() => rand(256));
        out = concat(out.subarray(0, at), ins, out.subarray(at));
        break;
      }
      case 7: { // deletion
        const n = 1 + rand(16);
        out = concat(out.subarray(0, at), out.subarray(at + n));
        break;
      }
      case 8: { // duplicate a span elsewhere (repeats keys and tensor infos)
        const n = 1 + rand(64);
        const from = rand(Math.max(1, out.length));
        out = concat(out.subarray(0, at), out.subarray(from, from + n), out.subarray(at));
        break;
      }
    }
  }
  return out;
}

/**
 * A source over `bytes` that claims to be `size` bytes long (the rest of a big file whose header we mutate) and
 * counts what it is asked for: reads beyond the claimed size or larger than the file are reader bugs.
 */
function headerSource(bytes: Uint8Array, size: number, stats: { maxRead: number }): ModelSource {
  return {
    name: 'fuzz.gguf',
    size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) throw new Error(`read [${offset}, +${length}) outside the source`);
      stats.maxRead = Math.max(stats.maxRead, length);
      return bytes.subarray(offset, Math.min(bytes.length, offset + length));
    },
    async readInto() {
      throw new Error('the header reader never calls readInto');
    },
  };
}

function checkConsistent(f: GgufFile): void {
  for (const t of f.tensors) {
    if (!(t.offset >= f.dataOffset && t.offset + t.size <= f.size && t.size >= 0 && t.dims.length >= 1 && t.dims.length <= 4)) {
      throw new Error(`parsed an inconsistent tensor ${t.name}`);
    }
  }
  if (f.dataOffset % f.alignment !== 0 && f.tensors.length > 0) throw new Error('data offset not aligned');
}

export interface FuzzBase {
  name: string;
  bytes: Uint8Array;
  /** The size the source claims (≥ bytes.length when only a header is given). */
  size: number;
}

export interface FuzzResult {
  cases: number;
  parsed: number;
  codes: Map<string, number>;
  /** Cases that failed the contract: another exception, an inconsistent parse, a too-slow parse. */
  failures: { index: number; base: string; problem: string }[];
  slowestMs: number;
  maxRead: number;
  ms: number;
}

// Limits lower than the defaults so that accepted absurd counts still stay cheap; the contract is the same.
const fuzzLimits: Partial<GgufLimits> = { maxArrayLength: 1 << 20, maxStringLength: 1 << 20, maxMetadataBytes: 64 << 20 };

export async function runFuzz(bases: FuzzBase[], count: number, seed: number, perCaseMs = 1000): Promise<FuzzResult> {
  const rand = prng(seed);
  const result: FuzzResult = { cases: 0, parsed: 0, codes: new Map(), failures: [], slowestMs: 0, maxRead: 0, ms: 0 };
  const stats = { maxRead: 0 };
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const base = bases[i % bases.length];
    const bytes = mutate(base.bytes, rand);
    const size = base.size === base.bytes.length ? bytes.length : base.size;
    const t0 = performance.now();
    try {
      const f = await readGguf(headerSource(bytes, size, stats), fuzzLimits);
      checkConsistent(f);
      result.parsed++;
    } catch (e) {
      if (e instanceof GgufError) result.codes.set(e.code, (result.codes.get(e.code) ?? 0) + 1);
      else result.failures.push({ index: i, base: base.name, problem: String((e as Error)?.stack ?? e) });
    }
    const ms = performance.now() - t0;
    result.slowestMs = Math.max(result.slowestMs, ms);
    if (ms > perCaseMs) result.failures.push({ index: i, base: base.name, problem: `took ${ms.toFixed(0)} ms` });
    result.cases++;
    if (result.failures.length > 20) break;
  }
  result.maxRead = stats.maxRead;
  result.ms = performance.now() - started;
  return result;
}

/** A small file exercising every value type, a nested array, a string vocabulary and tensors of several types. */
export async function fuzzBaseFile(): Promise<Uint8Array> {
  return encodeGguf({
    metadata: [
      ['general.architecture', gv.str('llama')],
      ['general.alignment', gv.u32(32)],
      ['llama.context_length', gv.u32(128)],
      ['llama.attention.layer_norm_rms_epsilon', gv.f32(1e-5)],
      ['t.u8', gv.u8(1)], ['t.i8', gv.i8(-1)], ['t.u16', gv.u16(2)], ['t.i16', gv.i16(-2)], ['t.i32', gv.i32(-3)],
      ['t.bool', gv.bool(true)], ['t.u64', gv.u64(5n)], ['t.i64', gv.i64(-6n)], ['t.f64', gv.f64(0.5)],
      ['tokenizer.ggml.tokens', gv.array(GGUF_TYPE.STRING, ['<unk>', '<s>', '</s>', '\u2581the', 'é', 'x'])],
      ['tokenizer.ggml.scores', gv.array(GGUF_TYPE.FLOAT32, [0, 0, 0, -1, -2, -3])],
      ['tokenizer.ggml.token_type', gv.array(GGUF_TYPE.INT32, [2, 3, 3, 1, 1, 1])],
      ['t.bools', gv.array(GGUF_TYPE.BOOL, [true, false])],
      ['t.u64s', gv.array(GGUF_TYPE.UINT64, [1n, 2n])],
      ['t.nested', gv.array(GGUF_TYPE.ARRAY, [gv.array(GGUF_TYPE.UINT8, [1, 2]), gv.array(GGUF_TYPE.STRING, ['a'])])],
    ],
    tensors: [
      { name: 'token_embd.weight', dims: [32, 6], type: GGML_TYPE.Q8_0, data: new Uint8Array(34 * 6) },
      { name: 'output_norm.weight', dims: [32], type: GGML_TYPE.F32, data: new Uint8Array(128) },
      { name: 'blk.0.attn_q.weight', dims: [256, 2], type: GGML_TYPE.Q4_K, data: new Uint8Array(144 * 2) },
      { name: 'blk.0.ffn_up.weight', dims: [32, 2, 1, 2], type: GGML_TYPE.F16, data: new Uint8Array(2 * 32 * 4) },
    ],
  });
}

/** stories260K.gguf's header (up to its data section) as a base claiming the real file size. */
export async function storiesHeaderBase(): Promise<FuzzBase> {
  const path = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/models/stories260K.gguf');
  let whole: Uint8Array;
  try {
    whole = new Uint8Array(await readFile(path));
  } catch {
    throw new Error(`${path} is missing: the fuzz base needs the shared models folder (../shared/models beside the repo)`);
  }
  return { name: 'stories260K header', bytes: whole.slice(0, 14176), size: whole.length };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const count = Number(args[0] ?? 1_000_000);
  const seed = Number(args[1] ?? 1);
  const synthetic = await fuzzBaseFile();
  const bases: FuzzBase[] = [{ name: 'synthetic', bytes: synthetic, size: synthetic.length }];
  if (process.argv.includes('--stories')) bases.push(await storiesHeaderBase());
  const r = await runFuzz(bases, count, seed);
  console.log(`${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s (${((r.ms * 1000) / r.cases).toFixed(0)} µs each), ` +
    `${r.parsed} parsed, slowest ${r.slowestMs.toFixed(1)} ms, largest read ${r.maxRead} bytes`);
  console.log([...r.codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', '));
  for (const f of r.failures) console.log(`FAIL case ${f.index} (${f.base}): ${f.problem}`);
  process.exitCode = r.failures.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
