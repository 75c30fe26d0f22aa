/**
 * Media decoders and Gemma 4 preprocessing: behaviour, limits and errors (pixel/sample parity with llama.cpp is in
 * media-reference.test.ts). Fixtures: test/fixtures/media (scripts/media-fixtures.sh).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAudio } from '../src/media/audio.ts';
import { MediaError } from '../src/media/errors.ts';
import { exifOrientation } from '../src/media/exif.ts';
import { audioFrames } from '../src/media/gemma4-audio.ts';
import { imageGrid, imagePatches } from '../src/media/gemma4-image.ts';
import { decodeImage } from '../src/media/image.ts';
import { resample, resampledLength } from '../src/media/resample.ts';

const DIR = 'test/fixtures/media/';
const file = (name: string) => new Uint8Array(readFileSync(DIR + name));

function throwsMedia(run: () => unknown, code: MediaError['code'], label: string): MediaError {
  try {
    run();
  } catch (e) {
    assert.instance(e, MediaError, `${label}: a MediaError, got ${String(e)}`);
    assert.is((e as MediaError).code, code, `${label}: code (${(e as Error).message})`);
    return e as MediaError;
  }
  assert.unreachable(`${label}: expected a MediaError ${code}`);
  throw new Error('unreachable');
}

// ---------------------------------------------------------------- PNG

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function png(width: number, height: number, colour: number, depth: number, idat: Uint8Array, extra: Uint8Array[] = []) {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = depth;
  ihdr[9] = colour;
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...extra,
    pngChunk('IDAT', idat),
    pngChunk('IEND', new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}

test('PNG: interlaced and plain fixtures decode to the same pixels', () => {
  const names = readdirSync(DIR).filter((f) => /^png-c\d-d\d+-i0\.png$/.test(f));
  assert.ok(names.length >= 15);
  for (const n of names) {
    const a = decodeImage(file(n));
    const b = decodeImage(file(n.replace('-i0', '-i1')));
    assert.equal([a.width, a.height], [13, 11], n);
    assert.equal(a.data, b.data, `${n} vs interlaced`);
  }
});

test('PNG: 16-bit keeps the high byte, grey is replicated, alpha is dropped (stb_image, as llama.cpp)', () => {
  // 2×1 RGBA16: pixel 0 = (0x12ff, 0x3400, 0x56aa, alpha 0), pixel 1 = (0xffff, 0x0001, 0x8080, alpha 0xffff)
  const row = [0, 0x12, 0xff, 0x34, 0x00, 0x56, 0xaa, 0, 0, 0xff, 0xff, 0x00, 0x01, 0x80, 0x80, 0xff, 0xff];
  const img = decodeImage(png(2, 1, 6, 16, deflateSync(Buffer.from(row))));
  assert.equal(Array.from(img.data), [0x12, 0x34, 0x56, 0xff, 0x00, 0x80]);
  // 4×1 grey at 2 bits: 0,1,2,3 → 0, 0x55, 0xaa, 0xff
  const grey = decodeImage(png(4, 1, 0, 2, deflateSync(Buffer.from([0, 0b00011011])))).data;
  assert.equal(Array.from(grey), [0, 0, 0, 0x55, 0x55, 0x55, 0xaa, 0xaa, 0xaa, 0xff, 0xff, 0xff]);
});

test('PNG: a lying header is refused before any pixel allocation', () => {
  const huge = png(100_000, 100_000, 2, 8, deflateSync(Buffer.alloc(10)));
  const t0 = performance.now();
  throwsMedia(() => decodeImage(huge), 'too_large', 'huge header');
  assert.ok(performance.now() - t0 < 500, 'refused from the header');
  throwsMedia(() => decodeImage(file('png-c2-d8-i0.png'), { maxPixels: 13 * 11 - 1 }), 'too_large', 'maxPixels');
  decodeImage(file('png-c2-d8-i0.png'), { maxPixels: 13 * 11 });
  throwsMedia(() => decodeImage(file('png-c2-d8-i0.png'), { maxBytes: 100 }), 'too_large', 'maxBytes');
});

test('PNG: a deflate bomb is cut at the size the header implies', () => {
  // 32 MB of zeros in ~32 KB: a 16×16 RGB image needs 16·49 bytes; the rest is never inflated.
  const bomb = png(16, 16, 2, 8, deflateSync(Buffer.alloc(32 << 20), { level: 9 }));
  const t0 = performance.now();
  const img = decodeImage(bomb);
  assert.ok(performance.now() - t0 < 200, 'fast');
  assert.equal([img.width, img.height], [16, 16]);
  assert.ok(img.data.every((v) => v === 0));
});

test('PNG: corrupt and unsupported files give typed errors', () => {
  const good = file('png-c2-d8-i0.png');
  throwsMedia(() => decodeImage(good.subarray(0, good.length - 20)), 'corrupt', 'truncated');
  throwsMedia(() => decodeImage(png(4, 4, 2, 8, deflateSync(Buffer.alloc(4 * 13 - 1)))), 'corrupt', 'not enough pixels');
  const badFilter = Buffer.alloc(4 * 13);
  badFilter[13] = 7;
  throwsMedia(() => decodeImage(png(4, 4, 2, 8, deflateSync(badFilter))), 'corrupt', 'filter type 7');
  throwsMedia(() => decodeImage(png(4, 4, 2, 4, deflateSync(Buffer.alloc(64)))), 'corrupt', 'RGB at 4 bits');
  throwsMedia(() => decodeImage(png(4, 4, 3, 8, deflateSync(Buffer.alloc(20)))), 'corrupt', 'palette without PLTE');
  const critical = png(1, 1, 0, 8, deflateSync(Buffer.alloc(2)), [pngChunk('ABCD', new Uint8Array(1))]);
  throwsMedia(() => decodeImage(critical), 'unsupported_format', 'unknown critical chunk');
  const ancillary = png(1, 1, 0, 8, deflateSync(Buffer.from([0, 9])), [pngChunk('abCD', new Uint8Array(1))]);
  assert.equal(Array.from(decodeImage(ancillary).data), [9, 9, 9]);
  throwsMedia(() => decodeImage(new TextEncoder().encode('GIF89a.....')), 'unsupported_format', 'GIF');
  throwsMedia(() => decodeImage(new Uint8Array(0)), 'unsupported_format', 'empty');
});

// ---------------------------------------------------------------- JPEG

test('JPEG: baseline, 4:2:0, progressive and grey decode', () => {
  const base = decodeImage(file('jpeg-baseline.jpg'));
  const prog = decodeImage(file('jpeg-progressive.jpg'));
  assert.equal([base.width, base.height], [40, 24]);
  // Same pixels coded two ways: the decoders agree to the last level.
  assert.equal(base.data, prog.data);
  const grey = decodeImage(file('jpeg-grey.jpg'));
  for (let i = 0; i < grey.data.length; i += 3) {
    assert.ok(grey.data[i] === grey.data[i + 1] && grey.data[i] === grey.data[i + 2], 'grey is R=G=B');
  }
  assert.equal([decodeImage(file('jpeg-420.jpg')).width, 24], [40, 24]);
});

test('JPEG: every EXIF orientation is shown upright (red top-left, green bottom-right)', () => {
  const px = (img: { width: number; data: Uint8Array }, x: number, y: number) =>
    Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  for (let o = 1; o <= 8; o++) {
    const img = decodeImage(file(`jpeg-exif-${o}.jpg`));
    assert.equal([img.width, img.height], [32, 16], `orientation ${o} size`);
    const red = px(img, 3, 3);
    const green = px(img, 28, 12);
    const blue = px(img, 16, 4);
    assert.ok(red[0] > 200 && red[1] < 50 && red[2] < 50, `orientation ${o}: red corner ${red}`);
    assert.ok(green[1] > 200 && green[0] < 50, `orientation ${o}: green corner ${green}`);
    assert.ok(blue[2] > 150 && blue[0] < 50, `orientation ${o}: blue body ${blue}`);
    const stored = decodeImage(file(`jpeg-exif-${o}.jpg`), { exifOrientation: false });
    assert.equal([stored.width, stored.height], o >= 5 ? [16, 32] : [32, 16], `orientation ${o} ignored`);
  }
});

test('EXIF orientation: big- and little-endian TIFF headers, malformed segments ignored', () => {
  const app1 = (tiff: number[]) => new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff]);
  // MM: IFD0 at 8, one entry: tag 0x0112, type SHORT, count 1, value 6 (left-aligned in the 4-byte field).
  const mm = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
  const ii = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0];
  assert.is(exifOrientation(app1(mm)), 6);
  assert.is(exifOrientation(app1(ii)), 8);
  assert.is(exifOrientation(app1(mm.slice(0, 14))), undefined, 'entry cut short');
  assert.is(exifOrientation(app1([...mm.slice(0, 18), 0, 9, ...mm.slice(20)])), undefined, 'value 9');
  assert.is(exifOrientation(app1([0x4d, 0x4d, 0, 42, 0xff, 0xff, 0xff, 0xff])), undefined, 'IFD past the end');
  assert.is(exifOrientation(new Uint8Array([1, 2, 3])), undefined);
});

test('JPEG: lying sizes and unsupported coding processes are refused from the header', () => {
  const good = file('jpeg-baseline.jpg');
  const sof = good.findIndex((b, i) => b === 0xff && good[i + 1] === 0xc0);
  assert.ok(sof > 0);
  const huge = good.slice();
  huge.set([0xff, 0xff, 0xff, 0xff], sof + 5); // 65535 × 65535
  const t0 = performance.now();
  throwsMedia(() => decodeImage(huge), 'too_large', 'huge frame');
  assert.ok(performance.now() - t0 < 500, 'refused from the header');
  const lossless = good.slice();
  lossless[sof + 1] = 0xc3;
  throwsMedia(() => decodeImage(lossless), 'unsupported_format', 'lossless JPEG');
  const arithmetic = good.slice();
  arithmetic[sof + 1] = 0xc9;
  throwsMedia(() => decodeImage(arithmetic), 'unsupported_format', 'arithmetic coding');
  throwsMedia(() => decodeImage(good.subarray(0, 40)), 'corrupt', 'cut in the headers');
  throwsMedia(() => decodeImage(good, { maxPixels: 40 * 24 - 1 }), 'too_large', 'maxPixels');
});

// ---------------------------------------------------------------- WAV

function wav(o: { tag?: number; channels: number; rate: number; bits: number; data: Uint8Array; riff?: string; dataSize?: number }) {
  const fmt = new DataView(new ArrayBuffer(16));
  const block = (o.bits / 8) * o.channels;
  fmt.setUint16(0, o.tag ?? 1, true);
  fmt.setUint16(2, o.channels, true);
  fmt.setUint32(4, o.rate, true);
  fmt.setUint32(8, o.rate * block, true);
  fmt.setUint16(12, block, true);
  fmt.setUint16(14, o.bits, true);
  const head = new DataView(new ArrayBuffer(20));
  const out = Buffer.concat([
    Buffer.from(o.riff ?? 'RIFF'),
    Buffer.alloc(4),
    Buffer.from('WAVEfmt '),
    Buffer.from([16, 0, 0, 0]),
    Buffer.from(fmt.buffer),
    Buffer.from('data'),
    Buffer.from(new Uint32Array([o.dataSize ?? o.data.length]).buffer),
    Buffer.from(o.data),
  ]);
  void head;
  out.writeUInt32LE(out.length - 8, 4);
  return new Uint8Array(out);
}

test('WAV: miniaudio conversions of the extreme sample values', () => {
  const s16 = decodeAudio(wav({ channels: 1, rate: 16000, bits: 16, data: new Uint8Array(new Int16Array([-32768, 32767, 1]).buffer) }));
  assert.equal(Array.from(s16), [-1, 32767 / 32768, 1 / 32768]);
  const u8 = decodeAudio(wav({ channels: 1, rate: 16000, bits: 8, data: new Uint8Array([0, 128, 255]) }));
  const c = Math.fround(2 / 255);
  assert.equal(Array.from(u8), [-1, Math.fround(Math.fround(128 * c) - 1), Math.fround(Math.fround(255 * c) - 1)]);
  const s32 = decodeAudio(wav({ channels: 1, rate: 16000, bits: 32, data: new Uint8Array(new Int32Array([-2147483648, 2147483647]).buffer) }));
  assert.equal(Array.from(s32), [-1, 1]); // (float)(2147483647 / 2^31) rounds to 1
  const s24 = decodeAudio(wav({ channels: 1, rate: 16000, bits: 24, data: new Uint8Array([0, 0, 0x80, 0xff, 0xff, 0x7f]) }));
  assert.equal(Array.from(s24), [-1, 8388607 / 8388608]);
  // Stereo → mono: the float mean, summed in channel order.
  const st = decodeAudio(wav({ channels: 2, rate: 16000, bits: 16, data: new Uint8Array(new Int16Array([32767, 32767, -3, 1]).buffer) }));
  assert.equal(Array.from(st), [Math.fround(Math.fround(2 * (32767 / 32768)) / 2), Math.fround(-2 / 32768 / 2)]);
});

test('WAV: limits are read from the header', () => {
  const long = file('wav-16k-mono-s16.wav'); // 3000 samples = 0.1875 s
  throwsMedia(() => decodeAudio(long, { maxSeconds: 0.18 }), 'too_long', 'maxSeconds');
  assert.is(decodeAudio(long, { maxSeconds: 0.19 }).length, 3000);
  throwsMedia(() => decodeAudio(long, { maxBytes: 1000 }), 'too_large', 'maxBytes');
  // A header claiming an hour of audio in a tiny file: the size is cut to what the file holds.
  const lying = wav({ channels: 1, rate: 16000, bits: 16, data: new Uint8Array(64), dataSize: 0xffffffff });
  assert.is(decodeAudio(lying).length, 32);
  // Real audio past the limit is refused from the header, before any decoding.
  const minute = wav({ channels: 2, rate: 8000, bits: 8, data: new Uint8Array(60 * 16000) });
  throwsMedia(() => decodeAudio(minute), 'too_long', 'a minute');
  assert.is(decodeAudio(minute, { maxSeconds: 60 }).length, 60 * 16000);
});

test('WAV: unsupported and corrupt files give typed errors', () => {
  const pcm = new Uint8Array(8);
  throwsMedia(() => decodeAudio(wav({ riff: 'RIFX', channels: 1, rate: 16000, bits: 16, data: pcm })), 'unsupported_format', 'RIFX');
  throwsMedia(() => decodeAudio(wav({ tag: 2, channels: 1, rate: 16000, bits: 16, data: pcm })), 'unsupported_format', 'ADPCM');
  throwsMedia(() => decodeAudio(wav({ tag: 3, channels: 1, rate: 16000, bits: 16, data: pcm })), 'unsupported_format', 'float16');
  throwsMedia(() => decodeAudio(wav({ channels: 0, rate: 16000, bits: 16, data: pcm })), 'corrupt', 'no channels');
  throwsMedia(() => decodeAudio(wav({ channels: 1, rate: 0, bits: 16, data: pcm })), 'unsupported_format', 'rate 0');
  throwsMedia(() => decodeAudio(wav({ channels: 1, rate: 10_000_000, bits: 16, data: pcm })), 'unsupported_format', 'rate 10 MHz');
  throwsMedia(() => decodeAudio(wav({ channels: 1, rate: 16000, bits: 16, data: new Uint8Array(0) })), 'corrupt', 'no samples');
  throwsMedia(() => decodeAudio(file('wav-16k-mono-s16.wav').subarray(0, 30)), 'corrupt', 'cut in the header');
  throwsMedia(() => decodeAudio(file('png-c0-d8-i0.png')), 'unsupported_format', 'a PNG');
  const nan = wav({ tag: 3, channels: 1, rate: 16000, bits: 32, data: new Uint8Array(new Float32Array([0, NaN]).buffer) });
  throwsMedia(() => decodeAudio(nan), 'corrupt', 'NaN sample');
  const huge = wav({ tag: 3, channels: 1, rate: 44100, bits: 32, data: new Uint8Array(new Float32Array([0, 3e38]).buffer) });
  throwsMedia(() => decodeAudio(huge), 'corrupt', 'absurd sample');
});

test('WAV: extensible, multichannel, odd-sized chunks and other rates', () => {
  assert.is(decodeAudio(file('wav-16k-3ch-s16-ext.wav')).length, 1000);
  assert.is(decodeAudio(file('wav-16k-stereo-f32-ext.wav')).length, 800);
  const r = decodeAudio(file('wav-44k1-mono-s16.wav'));
  assert.is(r.length, resampledLength(16000, 44100, 4410));
  assert.ok(r.every((v) => Number.isFinite(v) && Math.abs(v) <= 1.2));
});

test('sinc resampler: a tone comes through clean (> 80 dB SNR), content above 8 kHz is removed', () => {
  for (const [rate, hz] of [[44100, 3100], [48000, 1000], [22050, 5000], [8000, 440]]) {
    const x = new Float32Array(rate);
    for (let i = 0; i < rate; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * hz * i) / rate);
    const y = resample(x, rate, 16000);
    let s = 0;
    let e = 0;
    for (let i = 400; i < y.length - 400; i++) {
      const t = 0.5 * Math.sin((2 * Math.PI * hz * i) / 16000);
      s += t * t;
      e += (t - y[i]) ** 2;
    }
    assert.ok(10 * Math.log10(s / e) > 80, `${rate} Hz → 16 kHz, ${hz} Hz tone: ${(10 * Math.log10(s / e)).toFixed(1)} dB`);
  }
  // 12 kHz at 48 kHz would alias to 4 kHz: it must be filtered out.
  const x = new Float32Array(48000);
  for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 12000 * i) / 48000);
  const y = resample(x, 48000, 16000);
  let peak = 0;
  for (let i = 400; i < y.length - 400; i++) peak = Math.max(peak, Math.abs(y[i]));
  assert.ok(peak < 1e-3, `aliased residue ${peak}`);
});

test('resampledLength follows miniaudio (one extra frame when the input covers it)', () => {
  assert.is(resampledLength(16000, 16000, 1234), 1234);
  assert.is(resampledLength(16000, 48000, 2400), 801);
  assert.is(resampledLength(16000, 44100, 4410), 1600);
  assert.is(resampledLength(16000, 8000, 800), 1600);
  assert.is(resampledLength(16000, 44100, 0), 0);
});

// ---------------------------------------------------------------- Gemma 4

test('imageGrid: the spec §8.3 worked examples', () => {
  const g = (w: number, h: number) => {
    const r = imageGrid(w, h);
    return [r.width, r.height, r.cols, r.rows, r.tokens];
  };
  assert.equal(g(100, 70), [528, 336, 11, 7, 77]);
  assert.equal(g(300, 200), [528, 336, 11, 7, 77]);
  assert.equal(g(640, 480), [624, 480, 13, 10, 130]);
  assert.equal(g(1024, 768), [1008, 768, 21, 16, 336]);
  assert.equal(g(1920, 1080), [1920, 1104, 40, 23, 920]);
  assert.equal(g(4000, 3000), [1824, 1344, 38, 28, 1064]);
  // Content boxes. 100×70: 100 · 4.8f = 480.00002 in float, so PAD_CEIL gives 481 columns (the spec's "480
  // padded 24" is the exact-arithmetic value; llama.cpp's patch values, matched in media-reference, need 481).
  assert.equal(imageGrid(100, 70).content, { width: 481, height: 336, left: 23, top: 0 });
  assert.equal(imageGrid(300, 200).content, { width: 504, height: 336, left: 12, top: 0 });
  assert.equal(imageGrid(640, 480).content, { width: 624, height: 468, left: 0, top: 6 });
  assert.equal(imageGrid(1024, 768).content, { width: 1008, height: 756, left: 0, top: 6 });
  assert.equal(imageGrid(1920, 1080).content, { width: 1920, height: 1080, left: 0, top: 12 });
  assert.equal(imageGrid(528, 336).content, { width: 528, height: 336, left: 0, top: 0 });
  assert.equal(imageGrid(640, 480, { minTokens: 40, maxTokens: 280 }).tokens, 130);
  assert.throws(() => imageGrid(0, 10), RangeError);
});

test('imagePatches: layout c·2304 + r·48 + q, patches row-major, padding is normalised black', () => {
  // A 96×48 image needs no resize: 2×1 patches of known pixels.
  const width = 96;
  const height = 48;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, 200], (y * width + x) * 3);
  const p = imagePatches({ width, height, data }, [0, 0, 0], [1, 1, 1], { minTokens: 1, maxTokens: 10 });
  assert.equal([p.cols, p.rows, p.tokens, p.data.length], [2, 1, 2, 2 * 6912]);
  const at = (k: number, c: number, r: number, q: number) => p.data[k * 6912 + c * 2304 + r * 48 + q];
  assert.is(at(1, 0, 5, 7), Math.fround((48 + 7) / 255)); // R = x of pixel (55, 5)
  assert.is(at(1, 1, 5, 7), Math.fround(5 / 255)); // G = y
  assert.is(at(0, 2, 47, 47), Math.fround(200 / 255));
  // Letterboxed: a 100×70 image has 23 black columns on the left, normalised as (0 − mean)/std.
  const q = imagePatches({ width: 100, height: 70, data: new Uint8Array(100 * 70 * 3).fill(255) }, [0.5, 0.25, 0], [0.5, 0.5, 2]);
  assert.is(q.data[0], -1);
  assert.is(q.data[2304], -0.5);
  assert.is(q.data[4608], 0);
  assert.is(q.data[30], 1); // column 30 is inside the content: (1 − 0.5)/0.5
});

test('audioFrames: 640-sample frames, the last zero-padded', () => {
  assert.equal(audioFrames(new Float32Array(0)).frames, 0);
  assert.equal(audioFrames(new Float32Array(640)).frames, 1);
  const pcm = new Float32Array(641).fill(0.5);
  const f = audioFrames(pcm);
  assert.equal([f.frames, f.data.length], [2, 1280]);
  assert.is(f.data[640], 0.5);
  assert.is(f.data[641], 0);
  assert.is(f.data[1279], 0);
  assert.is(audioFrames(new Float32Array(16000)).frames, 25); // 1 s → 25 rows (spec §9.2)
});

test.run();
