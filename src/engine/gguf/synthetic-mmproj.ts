/**
 * Synthetic multimodal projectors (`clip` mmproj GGUF, spec gemma4.md §8.1–8.2, §9.1) for a gemma4 text model:
 * the encoder-free `gemma4uv` vision projector and/or the `gemma4ua` audio projector, every key and tensor of the
 * real files at any width (projection_dim = the text model's embedding_length), with seeded random weights scaled
 * so each stage's activations stay O(1). llama.cpp's mtmd loads these files, so they serve as the parity oracle's
 * input (scripts/mtmd-fixtures.ts) and as the bench's 12B-shaped projector (embd 3840).
 *
 * Also: `withMediaTokens`, which gives a synthetic gemma4 text model Gemma 4's six media tokens (and, for
 * llama-mtmd-cli, a chat template that passes the user text through unchanged).
 */
import { matrix, normWeights, Random, vector } from './synthetic.ts';
import { GGML_TYPE, GGUF_TYPE, ggmlType } from './types.ts';
import { gv, type GgufTensorInput, type GgufTypedValue, type GgufWriteSpec } from './writer.ts';

/** Gemma 4's effective patch (16-pixel patches merged 3×3) and the raw patch vector it projects (48·48·3). */
export const GEMMA4_PATCH = 48;
export const GEMMA4_PATCH_VALUES = GEMMA4_PATCH * GEMMA4_PATCH * 3;
/** Samples per audio frame (40 ms at 16 kHz). */
export const GEMMA4_AUDIO_FRAME = 640;

export interface SyntheticMmprojOptions {
  /** The text model's embedding_length (projection_dim of both parts). */
  embd: number;
  vision: boolean;
  audio: boolean;
  seed: number;
  /** v.patch_embd.weight: F16 or F32 (what the converter writes). Default F16. */
  patchType?: number;
  /** mm.input_projection.weight (the file type). Default F16. */
  projType?: number;
  /** mm.a.input_projection.weight (the file type). Default F16. */
  audioProjType?: number;
  /** Rows of each position table (the real files: 1120). */
  posRows?: number;
  imageMean?: [number, number, number];
  imageStd?: [number, number, number];
  name?: string;
}

function gaussian(n: number, std: number, seed: number, name: string): Float32Array {
  const x = new Float32Array(n);
  new Random(seed, name).fillNormal(x, std);
  return x;
}

export function makeSyntheticMmproj(o: SyntheticMmprojOptions): GgufWriteSpec {
  if (!Number.isInteger(o.embd) || o.embd <= 0) throw new Error(`embd must be a positive integer, got ${o.embd}`);
  if (!o.vision && !o.audio) throw new Error('an mmproj needs a vision or an audio part');
  const E = o.embd;
  const seed = o.seed;
  const patchType = o.patchType ?? GGML_TYPE.F16;
  if (patchType !== GGML_TYPE.F16 && patchType !== GGML_TYPE.F32) throw new Error('v.patch_embd.weight is F16 or F32');
  const projType = o.projType ?? GGML_TYPE.F16;
  const audioProjType = o.audioProjType ?? GGML_TYPE.F16;
  for (const t of [projType, audioProjType]) if (!ggmlType(t)) throw new Error(`unknown weight type ${t}`);
  const posRows = o.posRows ?? 1120;
  const tensors: GgufTensorInput[] = [];
  const metadata: [string, GgufTypedValue][] = [
    ['general.architecture', gv.str('clip')],
    ['general.type', gv.str('mmproj')],
    ['general.name', gv.str(o.name ?? `synthetic-gemma4-mmproj-${E}`)],
    ['general.file_type', gv.u32(projType === GGML_TYPE.F32 ? 0 : 1)],
    ['clip.has_vision_encoder', gv.bool(o.vision)],
    ['clip.has_audio_encoder', gv.bool(o.audio)],
  ];
  const norm = (name: string, n: number) => [
    vector(`${name}.weight`, normWeights(n, seed, `${name}.weight`)),
    vector(`${name}.bias`, gaussian(n, 0.1, seed, `${name}.bias`)),
  ];
  if (o.vision) {
    const P = GEMMA4_PATCH_VALUES;
    metadata.push(
      ['clip.vision.projector_type', gv.str('gemma4uv')],
      ['clip.vision.projection_dim', gv.u32(E)],
      ['clip.vision.image_size', gv.u32(224)],
      ['clip.vision.patch_size', gv.u32(16)],
      ['clip.vision.embedding_length', gv.u32(E)],
      ['clip.vision.feed_forward_length', gv.u32(0)],
      ['clip.vision.block_count', gv.u32(0)],
      ['clip.vision.attention.head_count', gv.u32(0)],
      ['clip.vision.attention.layer_norm_epsilon', gv.f32(1e-6)],
      ['clip.vision.image_mean', gv.array(GGUF_TYPE.FLOAT32, o.imageMean ?? [0.5, 0.5, 0.5])],
      ['clip.vision.image_std', gv.array(GGUF_TYPE.FLOAT32, o.imageStd ?? [0.5, 0.5, 0.5])],
    );
    // position tables: [E, posRows, 2], plane 0 the x table, plane 1 the y table (F32, as the converter forces)
    const pos = gaussian(E * posRows * 2, 0.5, seed, 'v.position_embd.weight');
    tensors.push(
      ...norm('v.patch_norm.1', P),
      // N(0, 1/6912): a unit-variance (LayerNormed) patch gives O(1) outputs
      matrix('v.patch_embd.weight', P, E, patchType, 1 / Math.sqrt(P), seed, false),
      vector('v.patch_embd.bias', gaussian(E, 0.1, seed, 'v.patch_embd.bias')),
      ...norm('v.patch_norm.2', E),
      { name: 'v.position_embd.weight', dims: [E, posRows, 2], type: GGML_TYPE.F32, data: new Uint8Array(pos.buffer) },
      ...norm('v.patch_norm.3', E),
      matrix('mm.input_projection.weight', E, E, projType, 1 / Math.sqrt(E), seed, false),
    );
  }
  if (o.audio) {
    const F = GEMMA4_AUDIO_FRAME;
    metadata.push(
      ['clip.audio.projector_type', gv.str('gemma4ua')],
      ['clip.audio.projection_dim', gv.u32(E)],
      ['clip.audio.embedding_length', gv.u32(F)],
      ['clip.audio.feed_forward_length', gv.u32(0)],
      ['clip.audio.block_count', gv.u32(0)],
      ['clip.audio.attention.head_count', gv.u32(0)],
      ['clip.audio.num_mel_bins', gv.u32(128)],
      ['clip.audio.attention.layer_norm_epsilon', gv.f32(1e-6)],
    );
    // the frame is RMS-normed first, so N(0, 1/640) gives O(1) outputs
    tensors.push(matrix('mm.a.input_projection.weight', F, E, audioProjType, 1 / Math.sqrt(F), seed, false));
  }
  return { metadata, tensors };
}

/** Gemma 4's media tokens, in the order withMediaTokens places them at the end of the vocabulary. */
export const GEMMA4_MEDIA_TOKENS = ['<|image>', '<image|>', '<|image|>', '<|audio>', '<audio|>', '<|audio|>'] as const;

/** A chat template that renders each message's content as it is (llama-mtmd-cli insists on one). */
export const PASS_THROUGH_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}";

/**
 * A synthetic gemma4 text model with Gemma 4's six media tokens: the last six BPE pieces of its vocabulary become
 * `<|image>` `<image|>` `<|image|>` `<|audio>` `<audio|>` `<|audio|>` as CONTROL tokens (the merges that made those
 * pieces are dropped; no later merge uses them), so the shapes and every other token stay as they were.
 */
export function withMediaTokens(spec: GgufWriteSpec, chatTemplate?: string): GgufWriteSpec {
  const meta = [...spec.metadata];
  const get = (key: string) => {
    const entry = meta.find(([k]) => k === key);
    if (!entry || !('items' in entry[1])) throw new Error(`withMediaTokens: the spec has no array '${key}'`);
    return entry[1].items;
  };
  const tokens = Array.from(get('tokenizer.ggml.tokens') as ArrayLike<string>);
  const types = Int32Array.from(get('tokenizer.ggml.token_type') as ArrayLike<number>);
  const merges = Array.from(get('tokenizer.ggml.merges') as ArrayLike<string>);
  const n = GEMMA4_MEDIA_TOKENS.length;
  const first = tokens.length - n;
  for (let i = 0; i < n; i++) {
    const old = tokens[first + i];
    const m = merges.findIndex((x) => x.replace(' ', '') === old);
    if (m >= 0) merges.splice(m, 1);
    tokens[first + i] = GEMMA4_MEDIA_TOKENS[i];
    types[first + i] = 3; // CONTROL
  }
  const replaced = meta.map(([k, v]): [string, GgufTypedValue] => {
    if (k === 'tokenizer.ggml.tokens') return [k, gv.array(GGUF_TYPE.STRING, tokens)];
    if (k === 'tokenizer.ggml.token_type') return [k, gv.array(GGUF_TYPE.INT32, types)];
    if (k === 'tokenizer.ggml.merges') return [k, gv.array(GGUF_TYPE.STRING, merges)];
    return [k, v];
  });
  if (chatTemplate !== undefined) replaced.push(['tokenizer.chat_template', gv.str(chatTemplate)]);
  return { ...spec, metadata: replaced };
}
