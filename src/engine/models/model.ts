/** What every architecture provides to the engine, and the helpers they share for reading GGUF metadata and weights. */
import { GgufError } from '../gguf/errors.ts';
import type { GgufFile, GgufTensorInfo } from '../gguf/reader.ts';
import { loadedType } from '../../core/repack.ts';

/** The file is a valid GGUF but not a model hearth can run as it stands. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  constructor(
    readonly code: 'unsupported_arch' | 'unsupported_feature' | 'missing_tensor' | 'bad_shape' | 'bad_hparams',
    message: string,
  ) {
    super(message);
  }
}

/** A weight matrix in wasm memory: `rows` rows of `cols` elements of ggml type `type` (ne = [cols, rows]). */
export interface Weight {
  ptr: number;
  type: number;
  cols: number;
  rows: number;
}

/**
 * One sequence's KV cache: per layer, K and V rows (f16). `size` = positions the sequence may reach (its context),
 * `used` = positions filled (n_past). By default a layer has `size` cells and cell index = position. A layer may
 * instead keep fewer cells (`cells`) with the position each holds in `cellPos` (int32[cells], -1 = empty): a
 * sliding-window ring. Layers that share a cache (Gemma 4 KV sharing) hold the same pointers.
 */
export interface KvCache {
  size: number;
  used: number;
  layers: KvLayer[];
}

export interface KvLayer {
  k: number;
  v: number;
  /** Cells in this layer's cache (default: the cache's `size`). */
  cells?: number;
  /** int32[cells]: position held by each cell, -1 for none (absent: cell index = position). */
  cellPos?: number;
}

/** One sequence's part of a batched forward: its new tokens, the position of the first, and which logits it wants. */
export interface ForwardSeq {
  kv: KvCache;
  tokens: number[];
  pos0: number;
  logits: 'last' | 'all' | 'none';
  /**
   * When present, the forward appends here the post-final-norm hidden state (the LM head's input) of each row that
   * gets logits, in the same order: what a Gemma 4 MTP assistant drafts from. Architectures without one leave it
   * empty.
   */
  hidden?: Float32Array[];
  /**
   * Embedding rows (tokens.length × embd, row-major) fed in place of the tokens' embeddings: image/audio soft
   * tokens from a projector, used as they are (not scaled by sqrt(embd)). `tokens` still holds one placeholder id per
   * row (positions, counts). Only architectures that take media (gemma4) accept it.
   */
  embeddings?: Float32Array;
  /** The rows of this sequence see each other on sliding-window layers (an image block, spec gemma4.md §8.6). */
  nonCausal?: boolean;
  /**
   * When the sequence has ≥ 2 rows, attention sums K·q and V·p in the order llama.cpp's CPU backend uses for any batch
   * of ≥ 2 rows (tinyBLAS; a single row takes ggml_vec_dot_f16, hearth's default). The engine asks for it where it
   * reproduces llama.cpp's mtmd prompt processing (prefill of prompts with media); results then depend on whether a
   * row was alone in its chunk, which is why plain prompts and decoding keep the one-row order.
   */
  tiledAttention?: boolean;
}

export interface ArchModel {
  readonly nVocab: number;
  readonly nCtxTrain: number;
  /** Most token columns one forward call takes. */
  readonly maxBatch: number;
  kvBytes(nCtx: number): number;
  createKv(nCtx: number): KvCache;
  /** Run the batch; returns, per sequence, the logit rows it asked for (copies). */
  forward(seqs: ForwardSeq[]): Float32Array[][];
}

export function metaNumber(g: GgufFile, key: string, fallback?: number): number {
  const v = g.metadata.get(key);
  if (v === undefined) {
    if (fallback === undefined) throw new GgufError('missing_key', `missing metadata key '${key}'`, key);
    return fallback;
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new GgufError('wrong_type', `metadata key '${key}' should be a number`, key);
}

export function requireTensor(g: GgufFile, name: string): GgufTensorInfo {
  const t = g.tensorsByName.get(name);
  if (!t) throw new ModelError('missing_tensor', `missing tensor '${name}'`);
  return t;
}

/** Check a tensor's shape against what the architecture expects and return where it was placed in memory. */
export function bindWeight(g: GgufFile, placed: Map<string, number>, name: string, shape: [number, number]): Weight {
  const t = requireTensor(g, name);
  const [cols, rows] = shape;
  const ne1 = t.dims[1] ?? 1;
  if (t.dims[0] !== cols || ne1 !== rows || t.dims.slice(2).some((d) => d !== 1)) {
    throw new ModelError('bad_shape', `tensor '${name}' has shape [${t.dims}], expected [${cols}, ${rows}]`);
  }
  const ptr = placed.get(name);
  if (ptr === undefined) throw new Error(`tensor '${name}' was not loaded`);
  // as the loader left it (placeTensor)
  return { ptr, type: loadedType(t.type, cols, rows), cols, rows };
}

/** Token columns in a batch; more than the model's batch size is a caller error. */
export function batchColumns(seqs: ForwardSeq[], maxBatch: number): number {
  const n = seqs.reduce((sum, q) => sum + q.tokens.length, 0);
  if (n > maxBatch) throw new RangeError(`forward: ${n} tokens exceed the batch size ${maxBatch}`);
  return n;
}

/**
 * Write a batch's token ids and positions, column by column (sequences one after another), into int32 views; checks
 * that no sequence runs past its context. Returns the number of columns.
 */
export function writeBatchColumns(seqs: ForwardSeq[], ids: Int32Array, pos: Int32Array): number {
  let col = 0;
  for (const seq of seqs) {
    if (seq.pos0 + seq.tokens.length > seq.kv.size) throw new RangeError('forward: context overflow');
    for (let i = 0; i < seq.tokens.length; i++, col++) {
      ids[col] = seq.tokens[i];
      pos[col] = seq.pos0 + i;
    }
  }
  return col;
}

/** How many logit rows a sequence asked for. */
export function logitRowCount(seq: ForwardSeq): number {
  return seq.logits === 'all' ? seq.tokens.length : seq.logits === 'last' ? 1 : 0;
}

/** The batch columns whose logits were asked for, in order. */
export function logitColumns(seqs: ForwardSeq[]): number[] {
  const want: number[] = [];
  let col = 0;
  for (const seq of seqs) {
    const m = seq.tokens.length;
    if (seq.logits === 'all') for (let i = 0; i < m; i++) want.push(col + i);
    else if (seq.logits === 'last') want.push(col + m - 1);
    col += m;
  }
  return want;
}

/** Copy consecutive rows of `width` floats out to each sequence (the rows it asked for, in column order). */
export function splitRows(seqs: ForwardSeq[], rows: Float32Array, width: number): Float32Array[][] {
  let k = 0;
  return seqs.map((seq) => Array.from({ length: logitRowCount(seq) }, () => rows.slice(k * width, ++k * width)));
}

/**
 * A forward pass's activation buffers, as float counts by name. Models allocate them once (shared: the same offset in
 * every memory group), and the loader sizes the memory groups with activationBytes before any weight is placed.
 */
export type ActivationLayout<K extends string> = Record<K, number>;

/** Bytes the layout takes in a memory, with allocation alignment (64). */
export function activationBytes(layout: ActivationLayout<string>): number {
  return Object.values(layout).reduce((a, floats) => a + Math.ceil((Math.max(1, floats) * 4) / 64) * 64, 0);
}

/** Allocate every buffer of the layout (shared), pointers by name. */
export function allocActivations<K extends string>(alloc: (bytes: number) => number, layout: ActivationLayout<K>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const name of Object.keys(layout) as K[]) out[name] = alloc(Math.max(1, layout[name]) * 4);
  return out;
}
