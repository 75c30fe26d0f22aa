/**
 * The mmproj file (`general.architecture = clip`) of Gemma 4's encoder-free projectors (spec gemma4.md §8.1–8.2,
 * §9.1): which parts it has, their hyper-parameters, the tensors each reads. Other projector types (gemma3's SigLIP,
 * gemma4v/gemma4a encoders, llava, ...) are refused by name.
 */
import type { GgufFile, GgufTensorInfo } from '../gguf/reader.ts';
import { ggmlType } from '../gguf/types.ts';
import { metaNumber, ModelError, requireTensor } from '../models/model.ts';

export const PATCH = 48;
export const PATCH_VALUES = PATCH * PATCH * 3;
export const AUDIO_FRAME = 640;
/** llama.cpp v0.5.0's soft-token budget for gemma4uv images (--image-min-tokens / --image-max-tokens defaults). */
export const IMAGE_MIN_TOKENS = 70;
export const IMAGE_MAX_TOKENS = 1120;

export interface VisionConfig {
  embd: number;
  /** Epsilon of the weightless RMSNorm before mm.input_projection (clip.vision.attention.layer_norm_epsilon). */
  rmsEps: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** Rows of each position table: the most patch columns / rows an image may have. */
  posRows: number;
  patchType: number;
}

export interface AudioConfig {
  embd: number;
}

export interface MmprojConfig {
  vision: VisionConfig | null;
  audio: AudioConfig | null;
}

export const VISION_TENSORS = [
  'v.patch_norm.1.weight', 'v.patch_norm.1.bias', 'v.patch_embd.weight', 'v.patch_embd.bias', 'v.patch_norm.2.weight',
  'v.patch_norm.2.bias', 'v.position_embd.weight', 'v.patch_norm.3.weight', 'v.patch_norm.3.bias', 'mm.input_projection.weight',
];
export const AUDIO_TENSORS = ['mm.a.input_projection.weight'];

function str(g: GgufFile, key: string): string | undefined {
  const v = g.metadata.get(key);
  return typeof v === 'string' ? v : undefined;
}

function floats3(g: GgufFile, key: string, name: string): [number, number, number] {
  const v = g.metadata.get(key);
  const arr = v && typeof v === 'object' && 'length' in (v as object) ? Array.from(v as ArrayLike<number>, Number) : null;
  if (!arr || arr.length < 3 || arr.some((x) => !Number.isFinite(x))) {
    throw new ModelError('bad_hparams', `${name}: '${key}' must be an array of 3 numbers (llama.cpp requires it)`);
  }
  return [arr[0], arr[1], arr[2]];
}

function checkShape(t: GgufTensorInfo, dims: number[], name: string): void {
  const got = [...t.dims];
  while (got.length > dims.length && got[got.length - 1] === 1) got.pop();
  if (got.length !== dims.length || got.some((d, i) => d !== dims[i])) {
    throw new ModelError('bad_shape', `${name}: tensor '${t.name}' has shape [${t.dims}], expected [${dims}]`);
  }
}

/** Read and check an mmproj header against the text model's width; `name` labels errors (the file name). */
export function readMmprojConfig(g: GgufFile, textEmbd: number, name: string): MmprojConfig {
  const arch = g.metadata.get('general.architecture');
  if (arch !== 'clip') {
    throw new ModelError('unsupported_arch', `${name}: not a multimodal projector: general.architecture is '${String(arch)}', expected 'clip'`);
  }
  const has = (part: 'vision' | 'audio') => g.metadata.get(`clip.has_${part}_encoder`) === true;
  const projector = (part: 'vision' | 'audio') => str(g, `clip.${part}.projector_type`) ?? str(g, 'clip.projector_type');
  let vision: VisionConfig | null = null;
  let audio: AudioConfig | null = null;
  if (has('vision')) {
    const type = projector('vision');
    if (type !== 'gemma4uv') {
      throw new ModelError('unsupported_feature', `${name}: vision projector type '${type ?? '(none)'}' is not supported (hearth runs gemma4uv, Gemma 4's encoder-free projector)`);
    }
    const embd = metaNumber(g, 'clip.vision.projection_dim');
    if (embd !== textEmbd) {
      throw new ModelError('bad_hparams', `${name}: clip.vision.projection_dim is ${embd} but the text model's embedding_length is ${textEmbd}: this mmproj belongs to another model`);
    }
    const patch = metaNumber(g, 'clip.vision.patch_size');
    const merge = metaNumber(g, 'clip.vision.projector.scale_factor', 3);
    if (patch * merge !== PATCH) throw new ModelError('bad_hparams', `${name}: gemma4uv patch ${patch} × merge ${merge} is not ${PATCH}`);
    const std = floats3(g, 'clip.vision.image_std', name);
    if (std.some((s) => s === 0)) throw new ModelError('bad_hparams', `${name}: clip.vision.image_std has a zero`);
    const pos = requireTensor(g, 'v.position_embd.weight');
    vision = {
      embd,
      rmsEps: metaNumber(g, 'clip.vision.attention.layer_norm_epsilon', 1e-6),
      mean: floats3(g, 'clip.vision.image_mean', name),
      std,
      posRows: pos.dims[1] ?? 0,
      patchType: requireTensor(g, 'v.patch_embd.weight').type,
    };
    const shapes: Record<string, number[]> = {
      'v.patch_norm.1.weight': [PATCH_VALUES], 'v.patch_norm.1.bias': [PATCH_VALUES], 'v.patch_embd.weight': [PATCH_VALUES, embd],
      'v.patch_embd.bias': [embd], 'v.patch_norm.2.weight': [embd], 'v.patch_norm.2.bias': [embd],
      'v.position_embd.weight': [embd, vision.posRows, 2], 'v.patch_norm.3.weight': [embd], 'v.patch_norm.3.bias': [embd],
      'mm.input_projection.weight': [embd, embd],
    };
    for (const [t, dims] of Object.entries(shapes)) checkShape(requireTensor(g, t), dims, name);
    if (vision.posRows < 1) throw new ModelError('bad_shape', `${name}: v.position_embd.weight has no rows`);
    for (const t of VISION_TENSORS.filter((t) => t !== 'v.patch_embd.weight' && t !== 'mm.input_projection.weight')) {
      if (requireTensor(g, t).type !== 0) throw new ModelError('bad_shape', `${name}: tensor '${t}' must be F32`);
    }
    if (vision.patchType !== 0 && vision.patchType !== 1) {
      throw new ModelError('unsupported_feature', `${name}: v.patch_embd.weight is ${requireTensor(g, 'v.patch_embd.weight').typeName}; gemma4uv files hold it as F16 or F32`);
    }
  }
  if (has('audio')) {
    const type = projector('audio');
    if (type !== 'gemma4ua') {
      throw new ModelError('unsupported_feature', `${name}: audio projector type '${type ?? '(none)'}' is not supported (hearth runs gemma4ua, Gemma 4's encoder-free projector)`);
    }
    const embd = metaNumber(g, 'clip.audio.projection_dim');
    if (embd !== textEmbd) {
      throw new ModelError('bad_hparams', `${name}: clip.audio.projection_dim is ${embd} but the text model's embedding_length is ${textEmbd}: this mmproj belongs to another model`);
    }
    checkShape(requireTensor(g, 'mm.a.input_projection.weight'), [AUDIO_FRAME, embd], name);
    audio = { embd };
  }
  if (!vision && !audio) throw new ModelError('unsupported_feature', `${name}: the mmproj has neither a vision nor an audio part`);
  for (const t of mmprojTensorNames({ vision, audio })) {
    const info = requireTensor(g, t);
    if (!ggmlType(info.type)?.supported) {
      throw new ModelError('unsupported_feature', `${name}: tensor '${t}' has type ${info.typeName}, which hearth cannot run yet`);
    }
  }
  return { vision, audio };
}

export function mmprojTensorNames(c: MmprojConfig): string[] {
  return [...(c.vision ? VISION_TENSORS : []), ...(c.audio ? AUDIO_TENSORS : [])];
}

/** general.architecture of a header, without judging it (load.ts routes a clip file given as the model). */
export function isMmproj(g: GgufFile): boolean {
  return g.metadata.get('general.architecture') === 'clip';
}

