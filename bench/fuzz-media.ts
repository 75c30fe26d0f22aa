/**
 * Mutation fuzzing of the media decoders: every mutated PNG/JPEG/WAV must decode to a value or throw a MediaError —
 * never another exception, a hang, or a huge allocation. test/media-fuzz.test.ts runs 50,000 cases; this script
 * runs as many as asked, in a worker watched for hangs:
 *
 *   npx tsx bench/fuzz-media.ts [count=500000] [seed=1]
 *
 * A failure names its seed and case index; `runCases(seed, index, 1)` replays it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { decodeAudio } from '../src/media/audio.ts';
import { MediaError } from '../src/media/errors.ts';
import { decodeImage } from '../src/media/image.ts';
import { prng } from './prng.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(HERE, '../test/fixtures/media');

/** Limits used while fuzzing: small enough that the worst accepted lie stays cheap. */
export const FUZZ_IMAGE_LIMITS = { maxPixels: 1 << 16 };
export const FUZZ_AUDIO_LIMITS = { maxSeconds: 30 };

export interface Seed {
  kind: 'image' | 'audio';
  name: string;
  bytes: Uint8Array;
}

/** The valid files mutations start from: every image fixture, and every WAV cut to ~400 frames. */
export function corpus(): Seed[] {
  const out: Seed[] = [];
  for (const name of readdirSync(FIXTURES).sort()) {
    const bytes = new Uint8Array(readFileSync(resolve(FIXTURES, name)));
    if (/\.(png|jpg)$/.test(name)) out.push({ kind: 'image', name, bytes });
    if (name.endsWith('.wav')) {
      // The data chunk is the last one in our fixtures: keep its header and 1600 bytes of samples.
      const d = Buffer.from(bytes).indexOf('data');
      const keep = Math.min(bytes.length, d + 8 + 1600);
      const cut = bytes.slice(0, keep);
      const v = new DataView(cut.buffer);
      v.setUint32(d + 4, keep - d - 8, true);
      v.setUint32(4, keep - 8, true);
      out.push({ kind: 'audio', name, bytes: cut });
    }
  }
  return out;
}

const interesting32 = [0, 1, 2, 7, 8, 16, 255, 256, 4096, 46341, 65535, 65536, 1 << 24, 0x7fffffff, 0x80000000, 0xffffffff];

/** Offsets of the length fields a parser trusts: PNG chunk lengths, JPEG segment lengths, RIFF chunk sizes. */
function lengthFields(b: Uint8Array): { at: number; size: 2 | 4; little: boolean }[] {
  const out: { at: number; size: 2 | 4; little: boolean }[] = [];
  if (b[0] === 0x89 && b[1] === 0x50) {
    for (let o = 8; o + 8 <= b.length; ) {
      out.push({ at: o, size: 4, little: false });
      const len = new DataView(b.buffer, b.byteOffset).getUint32(o);
      o += 12 + len;
      if (len > b.length) break;
    }
  } else if (b[0] === 0xff && b[1] === 0xd8) {
    for (let o = 2; o + 4 <= b.length && b[o] === 0xff; ) {
      out.push({ at: o + 2, size: 2, little: false });
      if (b[o + 1] === 0xda) break;
      o += 2 + ((b[o + 2] << 8) | b[o + 3]);
    }
  } else {
    out.push({ at: 4, size: 4, little: true });
    for (let o = 12; o + 8 <= b.length; ) {
      out.push({ at: o + 4, size: 4, little: true });
      const len = new DataView(b.buffer, b.byteOffset).getUint32(o + 4, true);
      o += 8 + len + (len & 1);
    }
  }
  return out;
}

/** Fields holding a size: PNG IHDR width/height, JPEG frame height/width, WAV channels/rate/block/bits. */
function sizeFields(b: Uint8Array): { at: number; size: 2 | 4; little: boolean }[] {
  if (b[0] === 0x89) return [{ at: 16, size: 4, little: false }, { at: 20, size: 4, little: false }];
  if (b[0] === 0xff) {
    const sof = b.findIndex((x, i) => x === 0xff && (b[i + 1] === 0xc0 || b[i + 1] === 0xc2));
    return sof < 0 ? [] : [{ at: sof + 5, size: 2, little: false }, { at: sof + 7, size: 2, little: false }];
  }
  return [22, 24, 32, 34].map((at) => ({ at, size: (at === 24 ? 4 : 2) as 2 | 4, little: true }));
}

function writeField(b: Uint8Array, f: { at: number; size: 2 | 4; little: boolean }, value: number): void {
  if (f.at + f.size > b.length) return;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.size === 2) v.setUint16(f.at, value & 0xffff, f.little);
  else v.setUint32(f.at, value >>> 0, f.little);
}

/** One mutated copy of `base` (1–3 mutations). */
export function mutate(base: Uint8Array, rand: (n: number) => number, other: Uint8Array): Uint8Array {
  let out = base.slice();
  const rounds = 1 + rand(3);
  for (let r = 0; r < rounds && out.length > 0; r++) {
    switch (rand(8)) {
      case 0: // bit flips
        for (let i = 1 + rand(8); i > 0; i--) out[rand(out.length)] ^= 1 << rand(8);
        break;
      case 1: // bytes set to edge values
        for (let i = 1 + rand(4); i > 0; i--) out[rand(out.length)] = [0, 0xff, 0x7f, 0x80, rand(256)][rand(5)];
        break;
      case 2: // truncation
        out = out.slice(0, rand(out.length));
        break;
      case 3: { // a length field lies
        const fields = lengthFields(out);
        if (fields.length) writeField(out, fields[rand(fields.length)], interesting32[rand(interesting32.length)] + rand(3) - 1);
        break;
      }
      case 4: { // huge or zero dimensions, rates, channel counts
        const fields = sizeFields(out);
        if (fields.length) writeField(out, fields[rand(fields.length)], interesting32[rand(interesting32.length)]);
        break;
      }
      case 5: { // delete a range
        const at = rand(out.length);
        const n = 1 + rand(Math.min(64, out.length - at));
        out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + n)]);
        break;
      }
      case 6: { // duplicate a range (repeated chunks, segments, scans)
        const at = rand(out.length);
        const n = 1 + rand(Math.min(256, out.length - at));
        const to = rand(out.length + 1);
        out = Uint8Array.from([...out.subarray(0, to), ...out.subarray(at, at + n), ...out.subarray(to)]);
        break;
      }
      default: { // splice in another file's bytes
        const at = rand(out.length);
        const from = rand(other.length);
        const n = 1 + rand(Math.min(128, other.length - from));
        out = Uint8Array.from([...out.subarray(0, at), ...other.subarray(from, from + n), ...out.subarray(at + n)]);
      }
    }
  }
  return out;
}

export interface FuzzStats {
  cases: number;
  values: number;
  errors: Record<string, number>;
  slowestMs: number;
  slowestCase: number;
}

export class FuzzFailure extends Error {}

/** Runs cases [first, first + count) of `seed`; throws FuzzFailure on anything but a value or a MediaError. */
export function runCases(seed: number, first: number, count: number, onCase?: (index: number) => void): FuzzStats {
  const seeds = corpus();
  const stats: FuzzStats = { cases: 0, values: 0, errors: {}, slowestMs: 0, slowestCase: -1 };
  for (let i = first; i < first + count; i++) {
    onCase?.(i);
    const rand = prng(Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));
    const base = seeds[rand(seeds.length)];
    const input = mutate(base.bytes, rand, seeds[rand(seeds.length)].bytes);
    // Now and then the wrong decoder sees the file: sniffing must refuse it cleanly.
    const asImage = rand(16) === 0 ? base.kind !== 'image' : base.kind === 'image';
    const t0 = performance.now();
    try {
      if (asImage) {
        const img = decodeImage(input, FUZZ_IMAGE_LIMITS);
        if (img.data.length !== img.width * img.height * 3 || img.width * img.height > FUZZ_IMAGE_LIMITS.maxPixels) {
          throw new FuzzFailure(`case ${i} (seed ${seed}, from ${base.name}): inconsistent image ${img.width}×${img.height}`);
        }
      } else {
        const pcm = decodeAudio(input, { ...FUZZ_AUDIO_LIMITS, resampler: rand(2) ? 'sinc' : 'miniaudio' });
        if (pcm.length > FUZZ_AUDIO_LIMITS.maxSeconds * 16000 + 1 || pcm.some((v) => !Number.isFinite(v))) {
          throw new FuzzFailure(`case ${i} (seed ${seed}, from ${base.name}): ${pcm.length} samples`);
        }
      }
      stats.values++;
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      if (!(e instanceof MediaError)) {
        const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        throw new FuzzFailure(`case ${i} (seed ${seed}, from ${base.name}): ${what}`);
      }
      stats.errors[e.code] = (stats.errors[e.code] ?? 0) + 1;
    }
    const ms = performance.now() - t0;
    if (ms > stats.slowestMs) {
      stats.slowestMs = ms;
      stats.slowestCase = i;
    }
    stats.cases++;
  }
  return stats;
}

/**
 * Runs the cases in a worker and watches it: a case that runs past `caseTimeoutMs` is a hang, reported with its
 * index (the decoders are synchronous, so only another thread can notice).
 */
export function runFuzz(seed: number, count: number, caseTimeoutMs = 10_000): Promise<FuzzStats> {
  return new Promise((resolvePromise, reject) => {
    // The worker loads this file through tsx's loader, registered inside the worker (execArgv loaders do not
    // reach workers on Node 20).
    const api = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
    const tsx = JSON.stringify(pathToFileURL(api).href);
    const self = JSON.stringify(import.meta.url);
    const code = `import { register } from ${tsx}; register(); await import(${self});`;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
      workerData: { seed, count },
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    let current = -1;
    let since = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - since > caseTimeoutMs) {
        clearInterval(timer);
        void worker.terminate();
        reject(new FuzzFailure(`case ${current} (seed ${seed}) ran for more than ${caseTimeoutMs} ms`));
      }
    }, 250);
    worker.on('message', (m: { case?: number; done?: FuzzStats; failure?: string }) => {
      if (m.case !== undefined) {
        current = m.case;
        since = Date.now();
      } else if (m.done) {
        clearInterval(timer);
        resolvePromise(m.done);
      } else if (m.failure) {
        clearInterval(timer);
        reject(new FuzzFailure(m.failure));
      }
    });
    worker.on('error', (e) => {
      clearInterval(timer);
      reject(new FuzzFailure(`worker died at case ${current} (seed ${seed}): ${e.message}`));
    });
  });
}

if (!isMainThread && workerData?.seed !== undefined) {
  const { seed, count } = workerData as { seed: number; count: number };
  try {
    // Progress is posted every 64 cases (and when a case starts after a slow one) to keep messaging cheap.
    let last = Date.now();
    const stats = runCases(seed, 0, count, (i) => {
      const now = Date.now();
      if (i % 64 === 0 || now - last > 50) parentPort!.postMessage({ case: i });
      last = now;
    });
    parentPort!.postMessage({ done: stats });
  } catch (e) {
    parentPort!.postMessage({ failure: e instanceof Error ? e.message : String(e) });
  }
} else if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const count = Number(process.argv[2] ?? 500_000);
  const seed = Number(process.argv[3] ?? 1);
  const t0 = performance.now();
  runFuzz(seed, count).then((stats) => {
    const s = (performance.now() - t0) / 1000;
    console.log(`${stats.cases} cases (seed ${seed}) in ${s.toFixed(1)} s: ${stats.values} decoded, errors ${JSON.stringify(stats.errors)}`);
    console.log(`slowest case ${stats.slowestCase}: ${stats.slowestMs.toFixed(1)} ms`);
  }, (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
