/**
 * Media in requests (images and audio): where the bytes come from (`data:` URLs, base64, remote URLs only when the
 * server allows them), decoding and the model's preprocessing, and the prompt layout llama.cpp's mtmd builds.
 *
 * As llama.cpp's server does, each media part becomes a marker in the message text before the chat template runs;
 * the rendered prompt is then cut at the markers, each text piece tokenized on its own (BOS only on the first), and
 * each medium put in as `<|image>` + one soft token per embedding row + `<image|>` (audio alike). The soft tokens are
 * placeholder ids in the prompt, so context checks and usage count them; the engine swaps in the projected rows.
 */
import type { Engine, EngineMedia, MediaSpan } from '../engine/api.ts';
import { decodeAudio } from '../media/audio.ts';
import { MediaError } from '../media/errors.ts';
import { audioFrames } from '../media/gemma4-audio.ts';
import { imagePatches } from '../media/gemma4-image.ts';
import { decodeImage } from '../media/image.ts';
import { readLimited } from './body.ts';
import { ApiError, invalidRequest } from './errors.ts';

export interface MediaLimits {
  /** Largest encoded image or audio file, in bytes. */
  maxMediaBytes: number;
  /** Largest decoded image (width × height), checked from the header before decoding. */
  maxImagePixels: number;
  /** Longest audio clip. */
  maxAudioSeconds: number;
  /** Most media parts in one request. */
  maxMediaItems: number;
  /** Fetch `http(s)://` image URLs (off by default: a server should not fetch what clients name). */
  allowRemoteMedia: boolean;
}

export const defaultMediaLimits: MediaLimits = {
  maxMediaBytes: 20 * 1024 * 1024,
  maxImagePixels: 25_000_000,
  maxAudioSeconds: 30,
  maxMediaItems: 16,
  allowRemoteMedia: false,
};

export type MediaKind = 'image' | 'audio';

/** One media part of a request, fetched but not decoded. */
export interface MediaItem {
  kind: MediaKind;
  bytes: Uint8Array;
  /** Where it came from in the request, for error messages (`messages[1].content[2]`, `file`). */
  param: string;
}

/** Stands for a media part in message text; random so no user text contains it. */
export const mediaMarker = `<__media_${Math.random().toString(36).slice(2, 12)}__>`;

const remoteTimeoutMs = 15_000;

/** The engine's media side, or a 400 that says this model takes no such input. */
export function mediaSupport(engine: Engine, kind: MediaKind, param: string): EngineMedia {
  const media = engine.media;
  if (!media || !media[kind]) {
    throw invalidRequest(
      `Unsupported content part in '${param}': this model takes no ${kind} input` +
        (media ? '.' : ' (no multimodal projector is loaded; start hearth with --mmproj FILE).'),
      param,
      'unsupported_content',
    );
  }
  return media;
}

/** An OpenAI `image_url` part's URL → bytes. */
export async function imageUrlBytes(url: unknown, param: string, limits: MediaLimits): Promise<Uint8Array> {
  if (typeof url !== 'string' || url === '') {
    throw invalidRequest(`Missing required parameter: '${param}.image_url.url'.`, `${param}.image_url.url`, 'missing_required_parameter');
  }
  if (url.startsWith('data:')) return dataUrlBytes(url, `${param}.image_url.url`, limits);
  if (/^https?:\/\//i.test(url)) {
    if (!limits.allowRemoteMedia) {
      throw invalidRequest(
        `Remote image URLs are disabled on this server ('${param}.image_url.url'); send the image as a data: URL, ` +
          'or start the server with remote media allowed (HEARTH_ALLOW_REMOTE_MEDIA=1).',
        `${param}.image_url.url`,
        'remote_media_disabled',
      );
    }
    return fetchRemote(url, `${param}.image_url.url`, limits);
  }
  throw invalidRequest(
    `Invalid value for '${param}.image_url.url': expected a data: URL${limits.allowRemoteMedia ? ' or an http(s) URL' : ''}.`,
    `${param}.image_url.url`,
    'invalid_value',
  );
}

/** An OpenAI `input_audio` part (`{ data: base64, format }`) → bytes. */
export function inputAudioBytes(part: Record<string, unknown>, param: string, limits: MediaLimits): Uint8Array {
  const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
  if (!audio || typeof audio !== 'object') {
    throw invalidRequest(`Missing required parameter: '${param}.input_audio'.`, `${param}.input_audio`, 'missing_required_parameter');
  }
  if (audio.format !== undefined && audio.format !== 'wav') {
    throw invalidRequest(
      `Unsupported value for '${param}.input_audio.format': only 'wav' audio is supported (got ${JSON.stringify(audio.format)}).`,
      `${param}.input_audio.format`,
      'unsupported_format',
    );
  }
  if (typeof audio.data !== 'string' || audio.data === '') {
    throw invalidRequest(`Missing required parameter: '${param}.input_audio.data'.`, `${param}.input_audio.data`, 'missing_required_parameter');
  }
  const data = audio.data;
  return data.startsWith('data:')
    ? dataUrlBytes(data, `${param}.input_audio.data`, limits)
    : base64Bytes(data, `${param}.input_audio.data`, limits);
}

function dataUrlBytes(url: string, param: string, limits: MediaLimits): Uint8Array {
  const comma = url.indexOf(',');
  const header = comma < 0 ? '' : url.slice(5, comma);
  if (comma < 0 || !/;base64$/i.test(header)) {
    throw invalidRequest(`Invalid value for '${param}': expected a base64 data: URL (data:<type>;base64,<data>).`, param, 'invalid_value');
  }
  return base64Bytes(url.slice(comma + 1), param, limits);
}

function base64Bytes(text: string, param: string, limits: MediaLimits): Uint8Array {
  // the decoded size is known from the text length: refuse before decoding
  if (Math.floor((text.length * 3) / 4) > limits.maxMediaBytes + 2) throw tooLarge(param, limits);
  let binary: string;
  try {
    binary = atob(text.replace(/\s+/g, ''));
  } catch {
    throw invalidRequest(`Invalid value for '${param}': the data is not valid base64.`, param, 'invalid_value');
  }
  if (binary.length > limits.maxMediaBytes) throw tooLarge(param, limits);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function fetchRemote(url: string, param: string, limits: MediaLimits): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(remoteTimeoutMs), redirect: 'follow' });
  } catch (err) {
    throw invalidRequest(`Could not fetch '${param}': ${err instanceof Error ? err.message : String(err)}.`, param, 'media_fetch_failed');
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw invalidRequest(`Could not fetch '${param}': the server answered ${response.status}.`, param, 'media_fetch_failed');
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limits.maxMediaBytes) {
    await response.body.cancel().catch(() => {});
    throw tooLarge(param, limits);
  }
  return readLimited(response.body, limits.maxMediaBytes, () => tooLarge(param, limits));
}

const tooLarge = (param: string, limits: MediaLimits) =>
  invalidRequest(`The media in '${param}' is larger than the limit of ${limits.maxMediaBytes} bytes.`, param, 'media_too_large');

/** A medium decoded and preprocessed for the model's projector: what a MediaSpan carries. */
interface PreparedMedia {
  kind: MediaKind;
  rows: number;
  input: Float32Array;
  cols?: number;
  /** Audio only: seconds, for verbose transcriptions. */
  seconds?: number;
}

/** Decode and preprocess; a media error becomes a 400 naming the part. */
export function prepareMedia(engine: Engine, item: MediaItem, limits: MediaLimits): PreparedMedia {
  const media = mediaSupport(engine, item.kind, item.param);
  try {
    if (item.kind === 'image') {
      const vision = media.image!;
      const img = decodeImage(item.bytes, { maxBytes: limits.maxMediaBytes, maxPixels: limits.maxImagePixels });
      const patches = imagePatches(img, vision.mean, vision.std, { minTokens: vision.minTokens, maxTokens: vision.maxTokens });
      return { kind: 'image', rows: patches.tokens, cols: patches.cols, input: patches.data };
    }
    const pcm = decodeAudio(item.bytes, { maxBytes: limits.maxMediaBytes, maxSeconds: limits.maxAudioSeconds });
    const frames = audioFrames(pcm);
    return { kind: 'audio', rows: frames.frames, input: frames.data, seconds: pcm.length / 16000 };
  } catch (err) {
    if (err instanceof MediaError) {
      throw invalidRequest(`Invalid ${item.kind} in '${item.param}': ${err.message}`, item.param, mediaErrorCode(err, item.kind));
    }
    throw err;
  }
}

function mediaErrorCode(err: MediaError, kind: MediaKind): string {
  switch (err.code) {
    case 'too_large':
    case 'too_long':
      return 'media_too_large';
    case 'unsupported_format':
      return 'unsupported_format';
    default:
      return `invalid_${kind}`;
  }
}

export interface MediaPrompt {
  prompt: number[];
  media: MediaSpan[];
  /** Seconds of audio in the request (for verbose transcriptions). */
  audioSeconds: number;
}

/**
 * Rendered prompt text with one marker per media item (in order) → prompt ids with soft-token placeholders and the
 * spans the engine fills. Decoding happens here, so a bad file fails the request before it takes a slot.
 */
export function mediaPrompt(engine: Engine, text: string, items: MediaItem[], limits: MediaLimits): MediaPrompt {
  const pieces = text.split(mediaMarker);
  if (pieces.length !== items.length + 1) {
    // a template that drops or repeats message content would put the media in the wrong place
    throw new ApiError(500, `the chat template kept ${pieces.length - 1} of ${items.length} media parts`, 'template_media_mismatch');
  }
  const prompt: number[] = [];
  const media: MediaSpan[] = [];
  let audioSeconds = 0;
  pieces.forEach((piece, i) => {
    if (piece !== '' || i === 0) prompt.push(...engine.tokenize(piece, { addSpecial: i === 0, parseSpecial: true }));
    if (i === items.length) return;
    const prepared = prepareMedia(engine, items[i], limits);
    const t = engine.media!.tokens;
    const [begin, soft, end] = prepared.kind === 'image'
      ? [t.imageBegin, t.imageSoft, t.imageEnd]
      : [t.audioBegin, t.audioSoft, t.audioEnd];
    prompt.push(begin);
    const span: MediaSpan = { start: prompt.length, kind: prepared.kind, rows: prepared.rows, input: prepared.input };
    if (prepared.cols !== undefined) span.cols = prepared.cols;
    media.push(span);
    for (let r = 0; r < prepared.rows; r++) prompt.push(soft);
    prompt.push(end);
    audioSeconds += prepared.seconds ?? 0;
  });
  return { prompt, media, audioSeconds };
}
