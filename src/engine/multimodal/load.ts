/**
 * Loading an mmproj beside its gemma4 text model: header checks, then the projector's weights streamed into the
 * memory group of the text model's embedding (where a forward pass starts, so embedding rows need no copy between
 * groups), then the media description the engine publishes (token ids looked up by their text).
 */
import type { EngineMedia } from '../api.ts';
import { readGguf, type GgufFile } from '../gguf/reader.ts';
import type { ModelSource } from '../gguf/source.ts';
import { Gemma4Model } from '../models/gemma4.ts';
import type { Kernels } from '../models/kernels.ts';
import { ModelError, requireTensor, type ArchModel } from '../models/model.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { IMAGE_MAX_TOKENS, IMAGE_MIN_TOKENS, type MmprojConfig, mmprojTensorNames, readMmprojConfig } from './mmproj.ts';
import { Gemma4Projector, type ProjectorWeights } from './projector.ts';

export interface MediaLimits {
  /** Soft-token budget of one image (llama.cpp: --image-min-tokens / --image-max-tokens; defaults 70 / 1120). */
  imageMinTokens?: number;
  imageMaxTokens?: number;
}

export interface LoadedMedia {
  projector: Gemma4Projector;
  media: EngineMedia;
}

/** The mmproj's header and the bytes its weights take (to plan room beside the text model's embedding). */
export async function readMmprojHeader(source: ModelSource): Promise<{ g: GgufFile; bytes: number }> {
  const g = await readGguf(source);
  const arch = g.metadata.get('general.architecture');
  if (arch !== 'clip') {
    throw new ModelError('unsupported_arch', `${source.name}: not a multimodal projector: general.architecture is '${String(arch)}', expected 'clip'`);
  }
  const bytes = [...g.tensors].reduce((a, t) => a + t.size, 0);
  return { g, bytes };
}

/** The image budget to use with this file, checked against its position tables. */
export function imageTokenLimits(limits: MediaLimits): { min: number; max: number } {
  const min = limits.imageMinTokens ?? IMAGE_MIN_TOKENS;
  const max = limits.imageMaxTokens ?? IMAGE_MAX_TOKENS;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) {
    throw new RangeError(`image token budget ${min}..${max} must be whole numbers with 1 ≤ min ≤ max`);
  }
  return { min, max };
}

function mediaToken(tokenizer: Tokenizer, text: string, name: string): number {
  const id = tokenizer.tokenId(text);
  if (id === undefined) throw new ModelError('unsupported_feature', `${name}: the text model's vocabulary has no '${text}' token, which Gemma 4 media prompts need`);
  return id;
}

export async function loadMmproj(
  source: ModelSource,
  header: GgufFile,
  target: { arch: ArchModel; kernels: Kernels; tokenizer: Tokenizer },
  limits: MediaLimits = {},
): Promise<LoadedMedia> {
  if (!(target.arch instanceof Gemma4Model)) {
    throw new ModelError('unsupported_arch', `${source.name}: a gemma4uv/gemma4ua mmproj projects into a gemma4 text model`);
  }
  const config: MmprojConfig = readMmprojConfig(header, target.arch.config.nEmbd, source.name);
  const { min, max } = imageTokenLimits(limits);
  const name = source.name;
  // the ids of every media token the vocabulary has; those of the parts this file projects are required
  const lookup = (text: string, required: boolean) => (required ? mediaToken(target.tokenizer, text, name) : target.tokenizer.tokenId(text) ?? -1);
  const v = config.vision !== null;
  const a = config.audio !== null;
  const tokens = {
    imageBegin: lookup('<|image>', v), imageEnd: lookup('<image|>', v), imageSoft: lookup('<|image|>', v),
    audioBegin: lookup('<|audio>', a), audioEnd: lookup('<audio|>', a), audioSoft: lookup('<|audio|>', a),
  };
  const kernels = target.kernels;
  const group = target.arch.embeddingGroup;
  const placed = new Map<string, number>();
  for (const t of mmprojTensorNames(config).map((n) => requireTensor(header, n))) {
    const ptr = kernels.alloc(t.size, group);
    await source.readInto(t.offset, kernels.u8(ptr, t.size));
    placed.set(t.name, ptr);
  }
  const at = (n: string) => placed.get(n)!;
  const weights: Partial<ProjectorWeights> = {};
  if (config.vision) {
    const E = config.vision.embd;
    const rows = config.vision.posRows;
    const pos = at('v.position_embd.weight');
    Object.assign(weights, {
      ln1: [at('v.patch_norm.1.weight'), at('v.patch_norm.1.bias')],
      patchEmbd: { ptr: at('v.patch_embd.weight'), type: config.vision.patchType, cols: 6912, rows: E },
      patchBias: at('v.patch_embd.bias'),
      ln2: [at('v.patch_norm.2.weight'), at('v.patch_norm.2.bias')],
      posX: { ptr: pos, type: 0, cols: E, rows },
      posY: { ptr: pos + rows * E * 4, type: 0, cols: E, rows },
      ln3: [at('v.patch_norm.3.weight'), at('v.patch_norm.3.bias')],
      inputProj: { ptr: at('mm.input_projection.weight'), type: requireTensor(header, 'mm.input_projection.weight').type, cols: E, rows: E },
    });
  }
  if (config.audio) {
    const E = config.audio.embd;
    weights.audioProj = { ptr: at('mm.a.input_projection.weight'), type: requireTensor(header, 'mm.a.input_projection.weight').type, cols: 640, rows: E };
  }
  const projector = new Gemma4Projector(kernels, config, group, weights);
  const media: EngineMedia = {
    image: config.vision ? { mean: [...config.vision.mean], std: [...config.vision.std], minTokens: min, maxTokens: max } : null,
    audio: config.audio ? { sampleRate: 16000, frameSamples: 640 } : null,
    tokens,
  };
  return { projector, media };
}
