/**
 * WAV → 16 kHz mono f32, as llama.cpp's mtmd-helper gets it from miniaudio (`ma_decoder` with f32, 1 channel,
 * 16 000 Hz). Sample conversion and the channel down-mix reproduce miniaudio 0.11.25's arithmetic, so a WAV that is
 * already 16 kHz (any channel count, any supported sample format) gives llama.cpp's samples bit for bit:
 * - the wav backend decodes straight to f32 with dr_wav's converters: u8 `x·(float)(2/255) − 1` in float,
 *   s16 `x·2⁻¹⁵`, s24 `x·2⁻²³` (exact), s32 `(float)(x / 2³¹)` in double, f64 `(float)x`;
 * - the down-mix to mono is the plain mean, summed in channel order in float then divided by the channel count
 *   (`ma_channel_converter_process_pcm_frames__mono_out`), whatever the channel mask says.
 * Other rates are resampled by our windowed sinc by default (resample.ts): not bit-identical to miniaudio's linear
 * resampler, same sample count; `resampler: 'miniaudio'` reproduces miniaudio's resampler bit for bit instead.
 *
 * Only RIFF/WAVE is read: llama.cpp sniffs audio by "RIFF…WAVE" (or MP3/FLAC, which we do not decode), so RIFX,
 * RF64 and W64 would not reach miniaudio there either. PCM 8/16/24/32-bit (by container size, as dr_wav reads
 * them), IEEE float 32/64, and WAVE_FORMAT_EXTENSIBLE with either subformat; compressed formats are refused.
 */
import { MediaError } from './errors.ts';
import { resample, resampleLikeMiniaudio } from './resample.ts';

export const TARGET_SAMPLE_RATE = 16_000;
export const DEFAULT_AUDIO_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_AUDIO_MAX_SECONDS = 30;

export interface AudioLimits {
  /** Largest encoded file accepted (default 32 MiB). */
  maxBytes?: number;
  /** Longest clip accepted, from the header's sample count and rate (default 30 s). */
  maxSeconds?: number;
  /**
   * How audio at other rates reaches 16 kHz: 'sinc' (default; band-limited, high quality) or 'miniaudio'
   * (llama.cpp's own linear resampler reproduced bit for bit: exact parity, lower quality).
   */
  resampler?: 'sinc' | 'miniaudio';
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
const MAX_CHANNELS = 64;
const MIN_SAMPLE_RATE = 1000;
const MAX_SAMPLE_RATE = 384_000;
const MAX_FLOAT_SAMPLE = 65536;

/** dr_wav's u8 scale, 2/255 rounded to float. */
const U8_SCALE = Math.fround(0.00784313725490196078);

interface WavFormat {
  tag: number;
  channels: number;
  sampleRate: number;
  /** Bytes per frame (all channels), as dr_wav computes it. */
  frameBytes: number;
}

function corrupt(message: string): never {
  throw new MediaError('corrupt', `WAV: ${message}`);
}

function tag4(b: Uint8Array, o: number): string {
  return String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);
}

export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && tag4(bytes, 0) === 'RIFF' && tag4(bytes, 8) === 'WAVE';
}

function readFormat(view: DataView, o: number, length: number): WavFormat {
  if (length < 16) corrupt('fmt chunk is too short');
  let tag = view.getUint16(o, true);
  const channels = view.getUint16(o + 2, true);
  const sampleRate = view.getUint32(o + 4, true);
  const blockAlign = view.getUint16(o + 12, true);
  const bits = view.getUint16(o + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    if (length < 40 || view.getUint16(o + 16, true) < 22) corrupt('WAVE_FORMAT_EXTENSIBLE without its extension');
    tag = view.getUint16(o + 24, true); // first two bytes of the subformat GUID
  }
  if (tag !== FORMAT_PCM && tag !== FORMAT_FLOAT) {
    throw new MediaError('unsupported_format', `WAV: format tag 0x${tag.toString(16)} is not PCM or IEEE float`);
  }
  if (channels === 0 || channels > MAX_CHANNELS) corrupt(`${channels} channels`);
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    // Outside this range resampling cost per output sample grows without bound (the filter widens with the ratio).
    throw new MediaError('unsupported_format', `WAV: sample rate ${sampleRate} Hz is outside ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE}`);
  }
  // dr_wav's frame size: from the bit depth when it is whole bytes (blockAlign is then ignored), else blockAlign.
  const frameBytes = bits % 8 === 0 ? (bits * channels) >> 3 : blockAlign;
  if (frameBytes === 0 || frameBytes % channels !== 0) corrupt('frame size is not a whole number of samples');
  const bytesPerSample = frameBytes / channels;
  const ok = tag === FORMAT_PCM ? bytesPerSample >= 1 && bytesPerSample <= 4 : bytesPerSample === 4 || bytesPerSample === 8;
  if (!ok) {
    throw new MediaError(
      'unsupported_format',
      `WAV: ${bytesPerSample * 8}-bit ${tag === FORMAT_PCM ? 'PCM' : 'float'} samples are not supported`,
    );
  }
  return { tag, channels, sampleRate, frameBytes };
}

/** One sample as f32, converted exactly as dr_wav's `ma_dr_wav_*_to_f32` (see the header comment). */
function sampleReader(view: DataView, f: WavFormat): (o: number) => number {
  const size = f.frameBytes / f.channels;
  if (f.tag === FORMAT_FLOAT) {
    return size === 4 ? (o) => view.getFloat32(o, true) : (o) => Math.fround(view.getFloat64(o, true));
  }
  switch (size) {
    case 1:
      return (o) => Math.fround(Math.fround(view.getUint8(o) * U8_SCALE) - 1);
    case 2:
      return (o) => view.getInt16(o, true) * 0.000030517578125;
    case 3:
      return (o) =>
        (((view.getUint8(o) << 8) | (view.getUint8(o + 1) << 16) | (view.getUint8(o + 2) << 24)) >> 8) *
        0.00000011920928955078125;
    default:
      return (o) => Math.fround(view.getInt32(o, true) / 2147483648);
  }
}

export function decodeAudio(bytes: Uint8Array, limits: AudioLimits = {}): Float32Array {
  const maxBytes = limits.maxBytes ?? DEFAULT_AUDIO_MAX_BYTES;
  const maxSeconds = limits.maxSeconds ?? DEFAULT_AUDIO_MAX_SECONDS;
  if (bytes.length > maxBytes) {
    throw new MediaError('too_large', `audio is ${bytes.length} bytes, more than the ${maxBytes}-byte limit`);
  }
  if (!isWav(bytes)) throw new MediaError('unsupported_format', 'audio is not a RIFF/WAVE file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: WavFormat | undefined;
  let dataStart = -1;
  let dataLength = 0;
  for (let o = 12; o + 8 <= bytes.length; ) {
    const id = tag4(bytes, o);
    const length = view.getUint32(o + 4, true);
    const body = o + 8;
    if (id === 'fmt ') {
      if (body + length > bytes.length) corrupt('fmt chunk runs past the end');
      format = readFormat(view, body, length);
    } else if (id === 'data') {
      if (!format) corrupt('data chunk before fmt chunk');
      dataStart = body;
      // A data size past the end (streamed WAVs write 0xFFFFFFFF) is cut to what the file holds.
      dataLength = Math.min(length, bytes.length - body);
      break;
    }
    o = body + length + (length & 1); // chunks are padded to an even size
  }
  if (!format) corrupt('no fmt chunk');
  if (dataStart < 0) corrupt('no data chunk');
  const frames = Math.floor(dataLength / format.frameBytes);
  if (frames / format.sampleRate > maxSeconds) {
    throw new MediaError(
      'too_long',
      `audio is ${(frames / format.sampleRate).toFixed(2)} s long, more than the ${maxSeconds} s limit`,
    );
  }
  if (frames === 0) corrupt('no samples');

  const read = sampleReader(view, format);
  const size = format.frameBytes / format.channels;
  const channels = format.channels;
  const mono = new Float32Array(frames);
  for (let i = 0, o = dataStart; i < frames; i++, o += format.frameBytes) {
    if (channels === 1) {
      mono[i] = read(o);
    } else {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum = Math.fround(sum + read(o + c * size));
      mono[i] = Math.fround(sum / channels);
    }
  }
  if (format.tag === FORMAT_FLOAT) {
    // llama.cpp passes NaN, ∞ and absurd magnitudes through (the projector's RMS norm then yields NaN rows, and
    // resampling can overflow to ∞); refuse them. Real float audio sits near [−1, 1].
    for (let i = 0; i < frames; i++) {
      if (!(Math.abs(mono[i]) <= MAX_FLOAT_SAMPLE)) corrupt(`sample ${i} (${mono[i]}) is not a plausible audio value`);
    }
  }
  if (format.sampleRate === TARGET_SAMPLE_RATE) return mono;
  return limits.resampler === 'miniaudio'
    ? resampleLikeMiniaudio(mono, format.sampleRate, TARGET_SAMPLE_RATE)
    : resample(mono, format.sampleRate, TARGET_SAMPLE_RATE);
}
