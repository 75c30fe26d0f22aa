/**
 * The multimodal fixture pair (synthetic gemma4 text model + gemma4uv/gemma4ua mmproj of
 * test/fixtures/multimodal/inputs.ts) written to a temp folder, the llama-mtmd-cli golden fixtures, and the reference
 * generation through the library API that HTTP answers are compared with.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { ChatCompletionContentPart, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSampling, type Engine, type MediaSpan } from '../../src/engine/api.ts';
import { encodeGguf } from '../../src/engine/gguf/writer.ts';
import { decodeAudio } from '../../src/media/audio.ts';
import { audioFrames } from '../../src/media/gemma4-audio.ts';
import { imagePatches } from '../../src/media/gemma4-image.ts';
import { decodeImage } from '../../src/media/image.ts';
import { fixtureMmproj, fixtureTextModel, MEDIA_MARKER, mediaFile, type MediaInput } from '../fixtures/multimodal/inputs.ts';
import { repoRoot } from './models.ts';

export interface MediaFixture {
  name: string;
  prompt: string;
  media: MediaInput[];
  mediaRows: number[];
  nPredict: number;
  continuationHex: string;
}

export function mediaFixture(name: string): MediaFixture {
  return JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/multimodal', `${name}.json`), 'utf8')) as MediaFixture;
}

/** Writes media.gguf and media-mmproj.gguf (the name llama.cpp's convention and our auto-detection use). */
export async function writeMediaModels(): Promise<{ dir: string; model: string; mmproj: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-media-'));
  const model = join(dir, 'media.gguf');
  const mmproj = join(dir, 'media-mmproj.gguf');
  writeFileSync(model, await encodeGguf(fixtureTextModel()));
  writeFileSync(mmproj, await encodeGguf(fixtureMmproj()));
  return { dir, model, mmproj };
}

/** A data: URL of a fixture's media item. */
export function dataUrl(item: MediaInput): string {
  const { bytes } = mediaFile(item);
  return `data:${item.kind === 'image' ? 'image/png' : 'audio/wav'};base64,${Buffer.from(bytes).toString('base64')}`;
}

/**
 * A prompt with media markers laid out by hand as llama.cpp's mtmd does (not through http/media.ts): BOS, each text
 * piece tokenized on its own, and per media item begin + one placeholder per row + end, with its span.
 */
export function layoutByHand(
  engine: Engine,
  prompt: string,
  items: { kind: 'image' | 'audio'; bytes: Uint8Array }[],
): { prompt: number[]; media: MediaSpan[] } {
  const m = engine.media!;
  const pieces = prompt.split(MEDIA_MARKER);
  if (pieces.length !== items.length + 1) throw new Error(`${pieces.length - 1} markers for ${items.length} media items`);
  const ids = engine.tokenize('', { addSpecial: true });
  const media: MediaSpan[] = [];
  pieces.forEach((text, i) => {
    ids.push(...engine.tokenize(text, { addSpecial: false, parseSpecial: true }));
    const item = items[i];
    if (!item) return;
    if (item.kind === 'image') {
      const p = imagePatches(decodeImage(item.bytes), m.image!.mean, m.image!.std, { minTokens: m.image!.minTokens, maxTokens: m.image!.maxTokens });
      ids.push(m.tokens.imageBegin);
      media.push({ start: ids.length, kind: 'image', rows: p.tokens, input: p.data, cols: p.cols });
      ids.push(...new Array<number>(p.tokens).fill(m.tokens.imageSoft), m.tokens.imageEnd);
    } else {
      const a = audioFrames(decodeAudio(item.bytes));
      ids.push(m.tokens.audioBegin);
      media.push({ start: ids.length, kind: 'audio', rows: a.frames, input: a.data });
      ids.push(...new Array<number>(a.frames).fill(m.tokens.audioSoft), m.tokens.audioEnd);
    }
  });
  return { prompt: ids, media };
}

/** The fixture prompt laid out by hand, generated greedily through the engine: what every HTTP route must answer. */
export async function libraryAnswer(engine: Engine, prompt: string, media: MediaInput[], maxTokens: number) {
  const layout = layoutByHand(engine, prompt, media.map((item) => ({ kind: item.kind, bytes: mediaFile(item).bytes })));
  let text = '';
  const tokens: number[] = [];
  for await (const ev of engine.submit({ ...layout, maxTokens, sampling: { ...defaultSampling, temperature: 0 } })) {
    text += ev.text;
    if (ev.type === 'token') tokens.push(ev.id);
  }
  return { text, tokens, promptTokens: layout.prompt.length };
}

/**
 * The chat request for a one-medium fixture as the `openai` client sends it: an image part then a text part, or the
 * transcription instruction then an input_audio part (the order libraryAnswer's prompt was laid out in).
 */
export function fixtureChat(f: MediaFixture): ChatCompletionCreateParamsNonStreaming {
  const item = f.media[0];
  const content: ChatCompletionContentPart[] =
    item.kind === 'image'
      ? [{ type: 'image_url', image_url: { url: dataUrl(item) } }, { type: 'text', text: 'describe it' }]
      : [{ type: 'text', text: 'Transcribe audio to text' }, { type: 'input_audio', input_audio: { data: Buffer.from(mediaFile(item).bytes).toString('base64'), format: 'wav' } }];
  return { model: 'media', messages: [{ role: 'user', content }], max_tokens: f.nPredict, temperature: 0 };
}
