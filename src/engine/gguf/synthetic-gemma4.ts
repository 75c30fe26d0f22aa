/**
 * Synthetic `gemma4` models (spec gemma4.md §2–4, §6) of any shape, and `gemma4-assistant` MTP drafters (§10), with
 * seeded random weights and a small SentencePiece-style BPE vocabulary (`tokenizer.ggml.model = gemma4`, with
 * merges) that llama.cpp and our tokenizer both load. Key and tensor names and shapes are those of the real files,
 * so llama.cpp runs them as the oracle. Tensors are produced row-chunk by row-chunk as the writer reaches them: the
 * 12B-shaped preset (~7 GB in Q4_0) streams with bounded memory.
 */
import { fileTypeOf, matrix, normWeights, Random, vector } from './synthetic.ts';
import { GGML_TYPE, GGUF_TYPE, ggmlType } from './types.ts';
import { gv, type GgufTensorInput, type GgufTypedValue, type GgufWriteSpec } from './writer.ts';

export interface SyntheticGemma4Options {
  /** ggml type of the 2-D weights (attention, FFN, per-layer projections). Norms and scalars are always F32. */
  type: number;
  /** Type of token_embd.weight and per_layer_token_embd.weight (default: `type`). */
  embdType?: number;
  embd: number;
  layers: number;
  heads: number;
  /** KV heads of sliding layers / of full layers. */
  kvHeads: number;
  kvHeadsFull: number;
  /** Head dim of sliding layers / of full layers. */
  headDim: number;
  headDimFull: number;
  /** FFN width, one for all layers or one per layer (llama.cpp reads either; double-wide MLPs use the array). */
  ff: number | number[];
  vocab: number;
  ctx: number;
  seed: number;
  /** Layer i is full attention iff (i + 1) % fullEvery === 0 (the 12B: 6, so the last layer is full). */
  fullEvery: number;
  /** Sliding window (tokens, including the current one). */
  window: number;
  /** Full layers without attn_v: V = K (the 12B's attention_k_eq_v). Default true. */
  kEqV?: boolean;
  /** Fraction of the full layers' head dim that is rotated (proportional RoPE). Default 0.25. */
  partialRotary?: number;
  ropeBase?: number;
  ropeBaseSwa?: number;
  /** Final logit soft-cap; 0 leaves the key out (disabled). Default 30. */
  softcap?: number;
  /** Layers at the end without their own KV (E2B/E4B). Default 0. */
  sharedKvLayers?: number;
  /** Per-layer embedding width P (E2B/E4B). Default 0 (none). */
  perLayerEmbd?: number;
  /** tokenizer.ggml.suppress_tokens. */
  suppressTokens?: number[];
  /** Routed experts (26B-A4B shape): writes the MoE keys and tensors, which hearth refuses. Default 0. */
  experts?: number;
  rmsEps?: number;
  name?: string;
}

export const gemma4Presets = {
  /** The 12B "unified" layout at toy scale: 5:1 → 2:1 sliding/full, K = V on full layers, tied head, soft-cap. */
  '12b-tiny': {
    type: GGML_TYPE.F16, embd: 256, layers: 6, heads: 4, kvHeads: 2, kvHeadsFull: 1, headDim: 64, headDimFull: 128,
    ff: 512, vocab: 1024, ctx: 4096, seed: 12, fullEvery: 3, window: 8, kEqV: true, softcap: 30,
  },
  /** E2B-like: per-layer embeddings, the last 5 of 10 layers share KV, double-wide FFN on shared layers, V everywhere. */
  'e2b-tiny': {
    type: GGML_TYPE.BF16, embd: 256, layers: 10, heads: 4, kvHeads: 1, kvHeadsFull: 1, headDim: 64, headDimFull: 128,
    ff: [512, 512, 512, 512, 512, 1024, 1024, 1024, 1024, 1024], vocab: 1024, ctx: 4096, seed: 2, fullEvery: 5, window: 8,
    kEqV: false, softcap: 30, sharedKvLayers: 5, perLayerEmbd: 64,
  },
  /** Gemma 4 12B shapes (spec §2, §4) with random Q4_0 weights: ~7 GB, for benchmarks. */
  '12b-full': {
    type: GGML_TYPE.Q4_0, embd: 3840, layers: 48, heads: 16, kvHeads: 8, kvHeadsFull: 1, headDim: 256, headDimFull: 512,
    ff: 15360, vocab: 262144, ctx: 262144, seed: 1, fullEvery: 6, window: 1024, kEqV: true, softcap: 30,
  },
} satisfies Record<string, SyntheticGemma4Options>;

export type Gemma4Preset = keyof typeof gemma4Presets;

// ---- vocabulary ---------------------------------------------------------------------------------------------------

const SPACE = '\u2581';
const TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_BYTE = 6;

export interface SyntheticBpeVocab {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
  merges: string[];
}

/** Ids of the special tokens of the synthetic gemma4 vocabulary. */
export const gemma4SyntheticIds = { pad: 0, eos: 1, bos: 2, unk: 3, mask: 4, turnStart: 5, turnEnd: 6, channelStart: 7, channelEnd: 8, toolResponse: 9 };

/**
 * Gemma 4's special-token layout in small: `<pad> <eos> <bos> <unk> <mask>`, the turn and channel markers, the 256
 * byte tokens `<0xXX>`, "\n", then single characters and BPE pieces, each made by a recorded merge of two earlier
 * pieces (merge rank = order of creation), so the merges list is consistent with the tokens.
 */
export function syntheticGemma4Vocab(size: number, seed: number): SyntheticBpeVocab {
  const specials: [string, number][] = [
    ['<pad>', TOKEN_CONTROL], ['<eos>', TOKEN_CONTROL], ['<bos>', TOKEN_CONTROL], ['<unk>', TOKEN_UNKNOWN],
    ['<mask>', TOKEN_CONTROL], ['<|turn>', TOKEN_CONTROL], ['<turn|>', TOKEN_CONTROL], ['<|channel>', TOKEN_USER_DEFINED],
    ['<channel|>', TOKEN_USER_DEFINED], ['<|tool_response>', TOKEN_CONTROL],
  ];
  const tokens = specials.map(([t]) => t);
  const types = specials.map(([, k]) => k);
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_BYTE);
  }
  if (!Number.isInteger(size) || size < tokens.length + 64) throw new Error(`vocabulary size ${size} must be an integer >= ${tokens.length + 64}`);
  const seen = new Set(tokens);
  const pieces: string[] = [];
  const merges: string[] = [];
  const want = size - tokens.length;
  const add = (p: string, merge?: string) => {
    if (pieces.length < want && !seen.has(p)) {
      seen.add(p);
      pieces.push(p);
      if (merge) merges.push(merge);
    }
  };
  add('\n');
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  for (const ch of SPACE + letters + 'ETAOINSHRDLUCMFWYPVBGKJQXZ0123456789.,!?\'"-:;()') add(ch);
  const singles = pieces.length;
  const random = new Random(seed, 'gemma4 vocab');
  const pick = (n: number) => Math.floor(random.uniform() * n);
  // join two earlier pieces, preferring early (short, frequent) ones; "▁" only starts a piece, "\n" stays alone
  for (let tries = 0; pieces.length < want && tries < want * 400; tries++) {
    const reach = Math.min(pieces.length, 32 + pieces.length / 2);
    const left = pieces[pick(reach)];
    const right = pieces[pick(reach)];
    if (right.startsWith(SPACE) || left === SPACE || left === '\n' || right === '\n') continue;
    if (left.length + right.length > 24) continue;
    add(left + right, `${left} ${right}`);
  }
  if (pieces.length < want) throw new Error(`could not build ${want} distinct pieces`);
  for (const p of pieces) {
    tokens.push(p);
    types.push(TOKEN_NORMAL);
  }
  const scores = new Float32Array(size);
  for (let i = 0; i < pieces.length; i++) scores[size - pieces.length + i] = i < singles ? 0 : -(i - singles);
  return { tokens, scores, types: Int32Array.from(types), merges };
}

function tokenizerMetadata(vocab: SyntheticBpeVocab, suppress?: number[]): [string, GgufTypedValue][] {
  const ids = gemma4SyntheticIds;
  const meta: [string, GgufTypedValue][] = [
    ['tokenizer.ggml.model', gv.str('gemma4')],
    ['tokenizer.ggml.tokens', gv.array(GGUF_TYPE.STRING, vocab.tokens)],
    ['tokenizer.ggml.scores', gv.array(GGUF_TYPE.FLOAT32, vocab.scores)],
    ['tokenizer.ggml.token_type', gv.array(GGUF_TYPE.INT32, vocab.types)],
    ['tokenizer.ggml.merges', gv.array(GGUF_TYPE.STRING, vocab.merges)],
    ['tokenizer.ggml.bos_token_id', gv.u32(ids.bos)],
    ['tokenizer.ggml.eos_token_id', gv.u32(ids.eos)],
    ['tokenizer.ggml.unknown_token_id', gv.u32(ids.unk)],
    ['tokenizer.ggml.padding_token_id', gv.u32(ids.pad)],
    ['tokenizer.ggml.mask_token_id', gv.u32(ids.mask)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ['tokenizer.ggml.add_eos_token', gv.bool(false)],
    ['tokenizer.ggml.add_space_prefix', gv.bool(false)],
  ];
  if (suppress) meta.push(['tokenizer.ggml.suppress_tokens', gv.array(GGUF_TYPE.INT32, Int32Array.from(suppress))]);
  return meta;
}

// ---- shapes shared by the target and the assistant ----------------------------------------------------------------

function check(o: Record<string, number>): void {
  for (const [k, v] of Object.entries(o)) if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} must be a positive integer, got ${v}`);
}

function slidingPattern(layers: number, fullEvery: number): boolean[] {
  return Array.from({ length: layers }, (_, i) => (i + 1) % fullEvery !== 0);
}

/** rope_freqs for proportional RoPE (spec §4): 1 for the rotated pairs, 1e30 (≈ no rotation) for the rest. */
function ropeFreqs(headDimFull: number, partial: number): Float32Array {
  const rotated = Math.floor((headDimFull * partial) / 2);
  const factors = new Float32Array(headDimFull / 2).fill(1e30);
  factors.fill(1, 0, rotated);
  return factors;
}

/** Attention metadata common to gemma4 and gemma4-assistant (prefix = the architecture name). */
function attentionMetadata(a: string, o: SyntheticGemma4Options, sliding: boolean[], ff: number[]): [string, GgufTypedValue][] {
  return [
    [`${a}.context_length`, gv.u32(o.ctx)],
    [`${a}.embedding_length`, gv.u32(o.embd)],
    [`${a}.block_count`, gv.u32(o.layers)],
    [`${a}.feed_forward_length`, ff.every((x) => x === ff[0]) ? gv.u32(ff[0]) : gv.array(GGUF_TYPE.INT32, Int32Array.from(ff))],
    [`${a}.attention.head_count`, gv.u32(o.heads)],
    // as the real files: an i32 array, one per layer
    [`${a}.attention.head_count_kv`, gv.array(GGUF_TYPE.INT32, Int32Array.from(sliding, (s) => (s ? o.kvHeads : o.kvHeadsFull)))],
    [`${a}.attention.key_length`, gv.u32(o.headDimFull)],
    [`${a}.attention.value_length`, gv.u32(o.headDimFull)],
    [`${a}.attention.key_length_swa`, gv.u32(o.headDim)],
    [`${a}.attention.value_length_swa`, gv.u32(o.headDim)],
    [`${a}.rope.dimension_count`, gv.u32(o.headDimFull)],
    [`${a}.rope.dimension_count_swa`, gv.u32(o.headDim)],
    [`${a}.rope.freq_base`, gv.f32(o.ropeBase ?? 1e6)],
    [`${a}.rope.freq_base_swa`, gv.f32(o.ropeBaseSwa ?? 1e4)],
    [`${a}.attention.layer_norm_rms_epsilon`, gv.f32(o.rmsEps ?? 1e-6)],
    [`${a}.attention.sliding_window`, gv.u32(o.window)],
    [`${a}.attention.sliding_window_pattern`, gv.array(GGUF_TYPE.BOOL, sliding)],
  ];
}

interface LayerWriter {
  w(name: string, cols: number, rows: number): GgufTensorInput;
  norm(name: string, n: number): GgufTensorInput;
  /** Post-sublayer norm weights ~4: each block's output outweighs the token's own embedding in the residual. */
  postNorm(name: string, n: number): GgufTensorInput;
  /** Q-norm weights scaled by 2/sqrt(head dim): scores q·k then have a std of ~2 (a soft, not one-hot, softmax). */
  qNorm(name: string, n: number): GgufTensorInput;
  scalar(name: string): GgufTensorInput;
}

function layerWriter(o: SyntheticGemma4Options): LayerWriter {
  const seed = o.seed;
  return {
    // N(0, 1/in): each output is a sum of `in` unit-scale terms, so it stays O(1)
    w: (name, cols, rows) => matrix(name, cols, rows, o.type, 1 / Math.sqrt(cols), seed, false),
    norm: (name, n) => vector(name, normWeights(n, seed, name)),
    postNorm: (name, n) => vector(name, normWeights(n, seed, name).map((x) => 4 * x)),
    qNorm: (name, n) => vector(name, normWeights(n, seed, name).map((x) => x * (2 / Math.sqrt(n)))),
    scalar: (name) => vector(name, Float32Array.of(0.5 + 0.5 * new Random(seed, name).uniform())),
  };
}

/**
 * Tied token embedding / LM head: entries N(0, 1/embd) (the input is scaled by sqrt(embd), so O(1)), rows scaled by
 * e^N(0,¼). Row norms that vary keep greedy decoding away from near-ties, yet no token's input embedding is so large
 * that it swamps the residual stream (the model would then just repeat it). With the output norm's weights of ~4
 * the top logits (~10–20) are bent by the soft-cap of 30 but stay far from its saturation.
 */
function tiedEmbedding(o: SyntheticGemma4Options, embd: number): GgufTensorInput {
  const scales = new Float32Array(o.vocab);
  new Random(o.seed, 'lm head row scales').fillNormal(scales, 1);
  for (let i = 0; i < o.vocab; i++) scales[i] = Math.exp(0.25 * scales[i]);
  return matrix('token_embd.weight', embd, o.vocab, o.embdType ?? o.type, 1 / Math.sqrt(embd), o.seed, false, scales);
}

/** Final norm weights ~4: the logits get their spread here, not from the (tied) input embedding rows. */
function outputNorm(seed: number, n: number): GgufTensorInput {
  return vector('output_norm.weight', normWeights(n, seed, 'output_norm.weight').map((x) => 4 * x));
}

// ---- gemma4 -------------------------------------------------------------------------------------------------------

export function makeSyntheticGemma4(o: SyntheticGemma4Options): GgufWriteSpec {
  check({ embd: o.embd, layers: o.layers, heads: o.heads, kvHeads: o.kvHeads, kvHeadsFull: o.kvHeadsFull, headDim: o.headDim,
    headDimFull: o.headDimFull, vocab: o.vocab, ctx: o.ctx, fullEvery: o.fullEvery, window: o.window });
  if (o.heads % o.kvHeads || o.heads % o.kvHeadsFull) throw new Error('heads must be a multiple of both KV head counts');
  if (!ggmlType(o.type)) throw new Error(`unknown weight type ${o.type}`);
  const L = o.layers;
  const ff = Array.isArray(o.ff) ? o.ff : new Array<number>(L).fill(o.ff);
  if (ff.length !== L) throw new Error(`ff has ${ff.length} entries for ${L} layers`);
  const sliding = slidingPattern(L, o.fullEvery);
  const shared = o.sharedKvLayers ?? 0;
  const nKv = L - shared;
  if (shared > 0 && (nKv < 2 || !sliding[nKv - 2] || sliding[nKv - 1])) {
    throw new Error('with shared KV layers, the last two layers with a KV cache must be sliding, then full');
  }
  const P = o.perLayerEmbd ?? 0;
  const kEqV = o.kEqV ?? true;
  const experts = o.experts ?? 0;
  const vocab = syntheticGemma4Vocab(o.vocab, o.seed);
  const lw = layerWriter(o);
  const E = o.embd;

  const tensors: GgufTensorInput[] = [tiedEmbedding(o, E), outputNorm(o.seed, E)];
  if (sliding.some((s) => !s)) tensors.push(vector('rope_freqs.weight', ropeFreqs(o.headDimFull, o.partialRotary ?? 0.25)));
  if (P > 0) {
    tensors.push(
      matrix('per_layer_token_embd.weight', P * L, o.vocab, o.embdType ?? o.type, 1 / Math.sqrt(P), o.seed, false),
      matrix('per_layer_model_proj.weight', E, P * L, o.type, 1, o.seed, false),
      lw.norm('per_layer_proj_norm.weight', P),
    );
  }
  for (let i = 0; i < L; i++) {
    const p = `blk.${i}.`;
    const hd = sliding[i] ? o.headDim : o.headDimFull;
    const kv = (sliding[i] ? o.kvHeads : o.kvHeadsFull) * hd;
    tensors.push(lw.norm(`${p}attn_norm.weight`, E), lw.w(`${p}attn_q.weight`, E, o.heads * hd), lw.qNorm(`${p}attn_q_norm.weight`, hd));
    if (i < nKv) {
      tensors.push(lw.w(`${p}attn_k.weight`, E, kv), lw.norm(`${p}attn_k_norm.weight`, hd));
      if (sliding[i] || !kEqV) tensors.push(lw.w(`${p}attn_v.weight`, E, kv));
    }
    tensors.push(
      lw.w(`${p}attn_output.weight`, o.heads * hd, E),
      lw.postNorm(`${p}post_attention_norm.weight`, E),
      lw.norm(`${p}ffn_norm.weight`, E),
      lw.w(`${p}ffn_gate.weight`, E, ff[i]),
      lw.w(`${p}ffn_up.weight`, E, ff[i]),
      lw.w(`${p}ffn_down.weight`, ff[i], E),
      lw.postNorm(`${p}post_ffw_norm.weight`, E),
      lw.scalar(`${p}layer_output_scale.weight`),
    );
    if (P > 0) tensors.push(lw.w(`${p}inp_gate.weight`, E, P), lw.w(`${p}proj.weight`, P, E), lw.postNorm(`${p}post_norm.weight`, E));
    if (experts > 0) {
      const ffExp = ff[i] / 2;
      const exps = (name: string, cols: number, rows: number) => ({ ...lw.w(name, cols, rows * experts), dims: [cols, rows, experts] });
      tensors.push(
        lw.w(`${p}ffn_gate_inp.weight`, E, experts),
        lw.norm(`${p}ffn_gate_inp.scale`, E),
        lw.norm(`${p}pre_ffw_norm_2.weight`, E),
        lw.norm(`${p}post_ffw_norm_1.weight`, E),
        lw.norm(`${p}post_ffw_norm_2.weight`, E),
        exps(`${p}ffn_gate_exps.weight`, E, ffExp),
        exps(`${p}ffn_up_exps.weight`, E, ffExp),
        exps(`${p}ffn_down_exps.weight`, ffExp, E),
      );
    }
  }

  const a = 'gemma4';
  const metadata: [string, GgufTypedValue][] = [
    ['general.architecture', gv.str(a)],
    ['general.name', gv.str(o.name ?? `synthetic-gemma4-${ggmlType(o.type)!.name}`)],
    ['general.file_type', gv.u32(fileTypeOf[o.type] ?? 0)],
    ...attentionMetadata(a, o, sliding, ff),
    [`${a}.attention.shared_kv_layers`, gv.u32(shared)],
    [`${a}.embedding_length_per_layer_input`, gv.u32(P)],
  ];
  if ((o.softcap ?? 30) > 0) metadata.push([`${a}.final_logit_softcapping`, gv.f32(o.softcap ?? 30)]);
  if (experts > 0) {
    metadata.push(
      [`${a}.expert_count`, gv.u32(experts)],
      [`${a}.expert_used_count`, gv.u32(Math.min(2, experts))],
      [`${a}.expert_feed_forward_length`, gv.u32(ff[0] / 2)],
    );
  }
  metadata.push(...tokenizerMetadata(vocab, o.suppressTokens));
  return { metadata, tensors };
}

// ---- gemma4-assistant (MTP drafter, spec §10) ---------------------------------------------------------------------

export interface SyntheticGemma4AssistantOptions {
  /** The target it drafts for: head dims, KV heads, window, RoPE, vocabulary and seed come from it. */
  target: SyntheticGemma4Options;
  /** The assistant's own width (1024 for the 12B's). */
  embd: number;
  /** Layers (the 12B's: 4, sliding ×3 then full). */
  layers: number;
  ff: number;
  /** Weight type (default: the target's). */
  type?: number;
}

/**
 * A `gemma4-assistant` file: Q-only layers that attend over the target's last sliding / full cache, an input
 * projection of [target embedding ‖ target hidden state] (nextn.pre_projection) and an output projection back to
 * the target width (nextn.post_projection). Layers are sliding except the last (full).
 */
export function makeSyntheticGemma4Assistant(o: SyntheticGemma4AssistantOptions): GgufWriteSpec {
  const t = o.target;
  check({ embd: o.embd, layers: o.layers, ff: o.ff });
  if (o.embd === t.embd) throw new Error('the assistant width must differ from the target width (llama.cpp reads the target width from embedding_length_out)');
  const self: SyntheticGemma4Options = { ...t, type: o.type ?? t.type, embdType: o.type ?? t.type, embd: o.embd, layers: o.layers, ff: o.ff,
    fullEvery: o.layers, seed: t.seed + 1000 };
  const sliding = slidingPattern(o.layers, o.layers);
  const lw = layerWriter(self);
  const A = o.embd;
  const T = t.embd;
  const tensors: GgufTensorInput[] = [
    tiedEmbedding(self, A),
    outputNorm(self.seed, A),
    lw.w('nextn.pre_projection.weight', 2 * T, A),
    lw.w('nextn.post_projection.weight', A, T),
    vector('rope_freqs.weight', ropeFreqs(t.headDimFull, t.partialRotary ?? 0.25)),
  ];
  for (let i = 0; i < o.layers; i++) {
    const p = `blk.${i}.`;
    const hd = sliding[i] ? t.headDim : t.headDimFull;
    tensors.push(
      lw.norm(`${p}attn_norm.weight`, A),
      lw.w(`${p}attn_q.weight`, A, t.heads * hd),
      lw.qNorm(`${p}attn_q_norm.weight`, hd),
      lw.w(`${p}attn_output.weight`, t.heads * hd, A),
      lw.postNorm(`${p}post_attention_norm.weight`, A),
      lw.norm(`${p}ffn_norm.weight`, A),
      lw.w(`${p}ffn_gate.weight`, A, o.ff),
      lw.w(`${p}ffn_up.weight`, A, o.ff),
      lw.w(`${p}ffn_down.weight`, o.ff, A),
      lw.postNorm(`${p}post_ffw_norm.weight`, A),
      lw.scalar(`${p}layer_output_scale.weight`),
    );
  }
  const a = 'gemma4-assistant';
  const metadata: [string, GgufTypedValue][] = [
    ['general.architecture', gv.str(a)],
    ['general.name', gv.str(`synthetic-gemma4-assistant-${ggmlType(self.type)!.name}`)],
    ['general.file_type', gv.u32(fileTypeOf[self.type] ?? 0)],
    ...attentionMetadata(a, self, sliding, new Array<number>(o.layers).fill(o.ff)),
    [`${a}.embedding_length_out`, gv.u32(T)],
    [`${a}.nextn_predict_layers`, gv.u32(o.layers)],
    [`${a}.attention.shared_kv_layers`, gv.u32(o.layers)],
    [`${a}.embedding_length_per_layer_input`, gv.u32(0)],
    ...tokenizerMetadata(syntheticGemma4Vocab(t.vocab, t.seed), t.suppressTokens),
  ];
  return { metadata, tensors };
}
