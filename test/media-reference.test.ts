/**
 * Media preprocessing against llama.cpp v0.5.0's own code (fixture from scripts/media-fixtures.sh, which runs
 * libmtmd's gemma4uv preprocessor, its stb_image and its miniaudio): PNG pixels, the image grid and the complete
 * patch tensor bit for bit (FNV-1a hash of every float, plus first values), JPEG pixels bit for bit, WAV samples
 * bit for bit (at 16 kHz, and at other rates with the 'miniaudio' resampler; the default sinc resampler only
 * shares miniaudio's output length).
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudio } from '../src/media/audio.ts';
import { imageGrid, imagePatches } from '../src/media/gemma4-image.ts';
import { decodeImage, type RgbImage } from '../src/media/image.ts';

const DIR = 'test/fixtures/media/';

interface Reference {
  mean: number[];
  std: number[];
  results: Record<string, any>[];
}
const ref = JSON.parse(readFileSync(DIR + 'llama-reference.json', 'utf8')) as Reference;

function fnv1a(bytes: Uint8Array): number {
  let h = 2166136261;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619);
  return h >>> 0;
}
const floatBytes = (f: Float32Array) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
const floatBits = (f: Float32Array) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));

/** The synthetic image scripts/media-reference.cpp generates (same formula, uint32 arithmetic). */
function synth(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const h = Math.imul((x * 7919 + y * 104729 + c * 1299709 + 1) >>> 0, 0x9e3779b1) >>> 26;
        data[(y * width + x) * 3 + c] = (x * 3 + y * 5 + c * 70 + h) & 255;
      }
    }
  }
  return { width, height, data };
}

function checkPatches(r: Record<string, any>, img: RgbImage, label: string): void {
  const o = r.minTokens ? { minTokens: r.minTokens, maxTokens: r.maxTokens } : {};
  const p = imagePatches(img, ref.mean, ref.std, o);
  assert.equal([p.grid.width, p.grid.height, p.tokens], [r.grid.width, r.grid.height, r.grid.tokens], `${label} grid`);
  assert.equal(floatBits(p.data.subarray(0, 64)), r.first, `${label} first 64 values`);
  assert.equal(floatBits(p.data.subarray(r.midOffset, r.midOffset + 64)), r.mid, `${label} values of a middle patch`);
  assert.is(fnv1a(floatBytes(p.data)), r.patchHash, `${label} whole patch tensor`);
}

const synthetic = ref.results.filter((r) => r.job === 'synth');

test('reference fixture covers the spec examples and odd sizes', () => {
  assert.ok(synthetic.length >= 12);
  for (const [w, h] of [[100, 70], [300, 200], [640, 480], [1024, 768], [1920, 1080], [4000, 3000]]) {
    assert.ok(synthetic.some((r) => r.width === w && r.height === h), `${w}×${h} present`);
  }
});

test('imageGrid equals llama.cpp for every reference size', () => {
  for (const r of synthetic) {
    const o = r.minTokens ? { minTokens: r.minTokens, maxTokens: r.maxTokens } : {};
    const g = imageGrid(r.width, r.height, o);
    assert.equal([g.width, g.height, g.tokens], [r.grid.width, r.grid.height, r.grid.tokens], `${r.width}×${r.height}`);
  }
});

for (const r of synthetic) {
  test(`imagePatches ${r.width}×${r.height}${r.minTokens ? ` (${r.minTokens}..${r.maxTokens} tokens)` : ''} is bit-identical to llama.cpp`, () => {
    checkPatches(r, synth(r.width, r.height), `${r.width}×${r.height}`);
  });
}

test('PNG: every colour type, depth, interlace and tRNS variant decodes to stb_image pixels', () => {
  const pngs = ref.results.filter((r) => r.job === 'image' && r.file.endsWith('.png'));
  assert.ok(pngs.length >= 33, 'all PNG fixtures referenced');
  for (const r of pngs) {
    const img = decodeImage(new Uint8Array(readFileSync(DIR + r.file)));
    assert.equal([img.width, img.height], [r.width, r.height], r.file);
    assert.is(fnv1a(img.data), r.rgbHash, `${r.file} pixels`);
    checkPatches(r, img, r.file);
  }
});

test('JPEG: baseline, progressive, subsampled, grey, CMYK and restart files decode to stb_image pixels', () => {
  const jpegs = ref.results.filter((r) => r.job === 'image' && r.file.endsWith('.jpg'));
  assert.ok(jpegs.length >= 16, 'all JPEG fixtures referenced');
  for (const r of jpegs) {
    // stb ignores EXIF orientation, so compare the stored (unrotated) pixels.
    const img = decodeImage(new Uint8Array(readFileSync(DIR + r.file)), { exifOrientation: false });
    assert.equal([img.width, img.height], [r.width, r.height], r.file);
    assert.is(fnv1a(img.data), r.rgbHash, `${r.file} pixels`);
    checkPatches(r, img, r.file);
  }
});

test('WAV at 16 kHz: samples bit-identical to miniaudio for every format and channel count', () => {
  const wavs = ref.results.filter((r) => r.job === 'audio' && r.file.startsWith('wav-16k'));
  assert.ok(wavs.length >= 9);
  for (const r of wavs) {
    const pcm = decodeAudio(new Uint8Array(readFileSync(DIR + r.file)));
    assert.is(pcm.length, r.samples, `${r.file} length`);
    assert.is(fnv1a(floatBytes(pcm)), r.hash, `${r.file} samples`);
  }
});

test("WAV at other rates: resampler 'miniaudio' is bit-identical to llama.cpp, 'sinc' has its length", () => {
  const wavs = ref.results.filter((r) => r.job === 'audio' && !r.file.startsWith('wav-16k'));
  assert.ok(wavs.length >= 4, 'downsampled and upsampled fixtures');
  for (const r of wavs) {
    const bytes = new Uint8Array(readFileSync(DIR + r.file));
    const exact = decodeAudio(bytes, { resampler: 'miniaudio' });
    const b = Buffer.from(r.pcm, 'base64');
    const theirs = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    assert.is(exact.length, r.samples, `${r.file} length`);
    assert.equal(floatBits(exact), floatBits(theirs), `${r.file} samples`);
    // The default (band-limited sinc) gives the same number of samples, so the same number of audio tokens.
    assert.is(decodeAudio(bytes).length, r.samples, `${r.file} sinc length`);
  }
});

test.run();
