/**
 * Attachments as OpenAI content parts: images (PNG/JPEG) as `image_url` data URLs, audio as `input_audio` WAV.
 * All audio, uploaded or recorded, is decoded by the browser and re-encoded as 16 kHz mono WAV: one format the
 * server can count on, and small enough for the request body limit (32 KB per second).
 */
import { downmix, encodeWav, sendRate, toBase64 } from './encoding.ts';

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string } }
  | { type: 'input_audio'; input_audio: { data: string; format: 'wav' } };

export interface Attachment {
  kind: 'image' | 'audio';
  name: string;
  /** What the chip and the sent message show: a data URL (image) or blob URL (audio). */
  previewUrl: string;
  /** Short description: size, duration. */
  detail: string;
  part: ContentPart;
}

export class MediaError extends Error {
  override name = 'MediaError';
}

/** Longest recording kept: about 2 MB of base64 WAV, well inside the server's default 4 MiB body limit. */
export const maxRecordSeconds = 60;

function imageType(bytes: Uint8Array): 'image/png' | 'image/jpeg' | null {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  return null;
}

const kib = (n: number) => (n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`);

/** An image file as an attachment; the type is read from the bytes, not the file name. */
export async function imageAttachment(file: File): Promise<Attachment> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const type = imageType(bytes);
  if (!type) throw new MediaError(`${file.name} is not a PNG or JPEG image.`);
  const url = `data:${type};base64,${toBase64(bytes)}`;
  return {
    kind: 'image',
    name: file.name || 'image',
    previewUrl: url,
    detail: kib(bytes.length),
    part: { type: 'image_url', image_url: { url } },
  };
}

/** Any audio the browser can decode (WAV, MP3, Ogg, WebM from the recorder…) → a 16 kHz mono WAV attachment. */
export async function audioAttachment(data: Blob, name: string): Promise<Attachment> {
  let decoded: AudioBuffer;
  try {
    // decoding in a 16 kHz context resamples to 16 kHz; no audio device is opened
    decoded = await new OfflineAudioContext(1, 1, sendRate).decodeAudioData(await data.arrayBuffer());
  } catch {
    throw new MediaError(`${name}: this browser cannot decode it as audio.`);
  }
  const channels = Array.from({ length: decoded.numberOfChannels }, (_, i) => decoded.getChannelData(i));
  const wav = encodeWav(downmix(channels), decoded.sampleRate);
  return {
    kind: 'audio',
    name: name.replace(/\.[^.]*$/, '') + '.wav',
    previewUrl: URL.createObjectURL(new Blob([wav], { type: 'audio/wav' })),
    detail: `${decoded.duration.toFixed(1)} s`,
    part: { type: 'input_audio', input_audio: { data: toBase64(wav), format: 'wav' } },
  };
}

export interface Recording {
  /** Ends the recording; resolves with what was recorded. */
  stop(): Promise<Blob>;
}

/** Starts recording from the microphone (the browser asks the user first). `onLimit` fires at maxRecordSeconds. */
export async function startRecording(onLimit: () => void): Promise<Recording> {
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') {
    throw new MediaError('Recording needs a browser with microphone access on a secure page (localhost or https).');
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    throw new MediaError(`The microphone is not available: ${(err as Error).message || (err as Error).name}.`);
  }
  const recorder = new MediaRecorder(stream);
  const chunks: Blob[] = [];
  recorder.addEventListener('dataavailable', (e) => chunks.push(e.data));
  const stopped = new Promise<Blob>((resolve) =>
    recorder.addEventListener('stop', () => {
      for (const track of stream.getTracks()) track.stop();
      resolve(new Blob(chunks, { type: recorder.mimeType }));
    }),
  );
  recorder.start();
  const limit = setTimeout(onLimit, maxRecordSeconds * 1000);
  return {
    stop() {
      clearTimeout(limit);
      if (recorder.state !== 'inactive') recorder.stop();
      return stopped;
    },
  };
}
