/**
 * Reading a `gemma4` file's hyper-parameters (spec gemma4.md §2, §6) into one config: per-layer attention type,
 * head counts, head dims and FFN widths, the two RoPE set-ups, KV sharing and per-layer embeddings. Every check that
 * llama.cpp makes at load (or that its graph silently relies on) fails here with a ModelError naming the key.
 */
import { getArray, type GgufFile } from '../gguf/reader.ts';
import type { RopeParams } from './rope.ts';
import { metaNumber, ModelError, requireTensor } from './model.ts';

export interface Gemma4Layer {
  /** Sliding-window layer (else full attention). */
  sliding: boolean;
  nHead: number;
  nHeadKv: number;
  /** Head dim of Q, K and V (equal in gemma4; 256 sliding / 512 full on the 12B). */
  headDim: number;
  nFf: number;
  /** The layer whose KV cache this layer attends over: itself, or the source layer under KV sharing (§6.1). */
  kvFrom: number;
}

export interface Gemma4Config {
  arch: string;
  nEmbd: number;
  nLayer: number;
  nVocab: number;
  nCtxTrain: number;
  eps: number;
  layers: Gemma4Layer[];
  /** Sliding window: a key is visible while q_pos - k_pos < window. */
  window: number;
  /** Final logit soft-cap (0 = none). */
  softcap: number;
  /** Per-layer embedding width P (0 = none; E2B/E4B). */
  nEmbdPerLayer: number;
  /** RoPE of full layers (rope_freqs as frequency factors: the proportional partial rotation) and sliding layers. */
  ropeFull: RopeParams;
  ropeSwa: RopeParams;
  /** tokenizer.ggml.suppress_tokens (ids in range): never sampled. */
  suppressTokens: number[];
}

/** A key that llama.cpp reads with get_key_or_arr: one value for all layers, or an array of one per layer. */
function perLayer(g: GgufFile, key: string, nLayer: number, fallback?: number[]): number[] {
  const v = g.metadata.get(key);
  if (v === undefined) {
    if (fallback === undefined) throw new ModelError('bad_hparams', `missing metadata key '${key}'`);
    return fallback;
  }
  if (typeof v === 'number' || typeof v === 'bigint') return new Array<number>(nLayer).fill(Number(v));
  const arr = getArray(g, key);
  if (arr.length !== nLayer) {
    throw new ModelError('bad_hparams', `'${key}' has ${arr.length} entries for ${nLayer} layers`);
  }
  return Array.from(arr as ArrayLike<unknown>, (x, i) => {
    const n = typeof x === 'bigint' ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ModelError('bad_hparams', `'${key}'[${i}] = ${String(x)} is not a count`);
    return n;
  });
}

function slidingPattern(g: GgufFile, key: string, nLayer: number): boolean[] {
  if (!g.metadata.has(key)) throw new ModelError('bad_hparams', `missing metadata key '${key}'`);
  const arr = getArray(g, key) as ArrayLike<unknown>;
  if (arr.length !== nLayer) throw new ModelError('bad_hparams', `'${key}' has ${arr.length} entries for ${nLayer} layers`);
  return Array.from(arr, (x) => x === true || (typeof x === 'number' && x !== 0));
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new ModelError('bad_hparams', `gemma4: ${name} = ${v} must be a positive integer`);
  return v;
}

export function readGemma4Config(g: GgufFile, arch = 'gemma4'): Gemma4Config {
  const a = arch;
  const nLayer = positive('block_count', metaNumber(g, `${a}.block_count`));
  if (nLayer < 2) throw new ModelError('bad_hparams', 'gemma4: at least 2 layers are needed');
  const nEmbd = positive('embedding_length', metaNumber(g, `${a}.embedding_length`));

  // MoE (26B-A4B): routed experts on top of the dense FFN; recognised by its keys or its router tensors
  const experts = metaNumber(g, `${a}.expert_count`, 0);
  if (experts > 0 || g.tensors.some((t) => /^blk\.\d+\.ffn_gate_inp\.weight$/.test(t.name))) {
    throw new ModelError('unsupported_feature', 'gemma4 MoE (26B-A4B) is not supported yet');
  }
  if (g.tensors.some((t) => /^blk\.\d+\.attn_qkv\.weight$/.test(t.name))) {
    throw new ModelError('unsupported_feature', 'gemma4: fused attn_qkv weights are not supported yet');
  }

  const sliding = slidingPattern(g, `${a}.attention.sliding_window_pattern`, nLayer);
  const nHead = perLayer(g, `${a}.attention.head_count`, nLayer);
  const nHeadKv = perLayer(g, `${a}.attention.head_count_kv`, nLayer, nHead);
  const nFf = perLayer(g, `${a}.feed_forward_length`, nLayer);
  const headDimFull = metaNumber(g, `${a}.attention.key_length`, nEmbd / nHead[0]);
  const headDimSwa = metaNumber(g, `${a}.attention.key_length_swa`, headDimFull);
  if (metaNumber(g, `${a}.attention.value_length`, headDimFull) !== headDimFull) {
    throw new ModelError('bad_hparams', 'gemma4: attention.value_length must equal key_length');
  }
  if (metaNumber(g, `${a}.attention.value_length_swa`, headDimSwa) !== headDimSwa) {
    throw new ModelError('bad_hparams', 'gemma4: attention.value_length_swa must equal key_length_swa');
  }
  positive('attention.key_length', headDimFull);
  positive('attention.key_length_swa', headDimSwa);
  const nRotFull = metaNumber(g, `${a}.rope.dimension_count`, headDimFull);
  // as llama.cpp: the sliding layers' rotary dims default to the full layers' value, not to their head dim
  const nRotSwa = metaNumber(g, `${a}.rope.dimension_count_swa`, nRotFull);
  const anySliding = sliding.some((s) => s);
  const anyFull = sliding.some((s) => !s);
  for (const [name, nRot, hd, used] of [['rope.dimension_count', nRotFull, headDimFull, anyFull], ['rope.dimension_count_swa', nRotSwa, headDimSwa, anySliding]] as const) {
    if (used && (nRot % 2 !== 0 || nRot <= 0 || nRot > hd)) {
      throw new ModelError('bad_hparams', `gemma4: ${name} = ${nRot} must be even and at most the head dim ${hd}`);
    }
  }
  const window = anySliding ? positive('attention.sliding_window', metaNumber(g, `${a}.attention.sliding_window`)) : 0;

  const shared = metaNumber(g, `${a}.attention.shared_kv_layers`, 0);
  const nLayerKv = nLayer - shared;
  if (!Number.isInteger(shared) || shared < 0 || (shared > 0 && nLayerKv < 2)) {
    throw new ModelError('bad_hparams', `gemma4: attention.shared_kv_layers = ${shared} leaves fewer than 2 layers with a KV cache`);
  }

  const layers: Gemma4Layer[] = [];
  for (let l = 0; l < nLayer; l++) {
    const headDim = sliding[l] ? headDimSwa : headDimFull;
    if (nHead[l] <= 0 || nHeadKv[l] <= 0 || nHead[l] % nHeadKv[l] !== 0) {
      throw new ModelError('bad_hparams', `gemma4: layer ${l} has ${nHead[l]} heads and ${nHeadKv[l]} KV heads (need a multiple)`);
    }
    positive(`feed_forward_length[${l}]`, nFf[l]);
    // llama.cpp's reuse rule for shared layers: the last sliding / full layer that still has its own cache
    const kvFrom = l < nLayerKv ? l : nLayerKv - (sliding[l] ? 2 : 1);
    layers.push({ sliding: sliding[l], nHead: nHead[l], nHeadKv: nHeadKv[l], headDim, nFf: nFf[l], kvFrom });
  }
  for (const L of layers) {
    const src = layers[L.kvFrom];
    if (src.sliding !== L.sliding || src.nHeadKv !== L.nHeadKv || src.headDim !== L.headDim) {
      throw new ModelError('bad_hparams', `gemma4: a KV-shared layer reads layer ${L.kvFrom}, whose attention type or KV shape differs`);
    }
  }

  if (anyFull) {
    const t = requireTensor(g, 'rope_freqs.weight');
    if (t.type !== 0 || t.dims[0] !== headDimFull / 2 || t.dims.slice(1).some((d) => d !== 1)) {
      throw new ModelError('bad_shape', `gemma4: rope_freqs.weight must be F32 [${headDimFull / 2}], got ${t.typeName} [${t.dims}]`);
    }
  }
  const scalingType = g.metadata.get(`${a}.rope.scaling.type`);
  if (scalingType !== undefined && scalingType !== 'none' && scalingType !== 'linear') {
    throw new ModelError('unsupported_feature', `gemma4: rope scaling '${String(scalingType)}' is not supported yet`);
  }
  const ropeScale = metaNumber(g, `${a}.rope.scaling.factor`, 0);

  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  const embd = requireTensor(g, 'token_embd.weight');
  const nVocab = Array.isArray(tokens) ? tokens.length : embd.dims[1];
  const suppress = g.metadata.has('tokenizer.ggml.suppress_tokens') ? getArray(g, 'tokenizer.ggml.suppress_tokens') : [];
  // as llama.cpp's vocab loader: out-of-range ids are dropped
  const suppressTokens = [...new Set(Array.from(suppress as ArrayLike<unknown>, Number))].filter((id) => Number.isInteger(id) && id >= 0 && id < nVocab);

  return {
    arch,
    nEmbd,
    nLayer,
    nVocab,
    nCtxTrain: metaNumber(g, `${a}.context_length`, 8192),
    eps: metaNumber(g, `${a}.attention.layer_norm_rms_epsilon`, 1e-6),
    layers,
    window,
    softcap: metaNumber(g, `${a}.final_logit_softcapping`, 0),
    nEmbdPerLayer: metaNumber(g, `${a}.embedding_length_per_layer_input`, 0),
    ropeFull: {
      nRot: nRotFull,
      base: metaNumber(g, `${a}.rope.freq_base`, 10000),
      freqScale: ropeScale === 0 ? 1 : 1 / ropeScale,
      // freqFactors: rope_freqs, set from the file by the model (the loader reads it on the host)
    },
    // llama.cpp keeps sliding layers unscaled (rope_freq_scale_train_swa = 1) and without frequency factors
    ropeSwa: { nRot: nRotSwa, base: metaNumber(g, `${a}.rope.freq_base_swa`, 10000), freqScale: 1 },
    suppressTokens,
  };
}

/** The tensors the gemma4 forward reads (rope_freqs is read on the host by the loader). */
export function gemma4TensorNames(g: GgufFile, c: Gemma4Config): string[] {
  const names = ['token_embd.weight', 'output_norm.weight'];
  if (g.tensorsByName.has('output.weight')) names.push('output.weight');
  if (c.nEmbdPerLayer > 0) names.push('per_layer_token_embd.weight', 'per_layer_model_proj.weight', 'per_layer_proj_norm.weight');
  c.layers.forEach((L, i) => {
    const p = `blk.${i}.`;
    names.push(`${p}attn_norm.weight`, `${p}attn_q.weight`, `${p}attn_q_norm.weight`, `${p}attn_output.weight`, `${p}post_attention_norm.weight`);
    if (L.kvFrom === i) {
      names.push(`${p}attn_k.weight`, `${p}attn_k_norm.weight`);
      if (g.tensorsByName.has(`${p}attn_v.weight`)) names.push(`${p}attn_v.weight`);
    }
    names.push(`${p}ffn_norm.weight`, `${p}ffn_gate.weight`, `${p}ffn_up.weight`, `${p}ffn_down.weight`, `${p}post_ffw_norm.weight`);
    if (g.tensorsByName.has(`${p}layer_output_scale.weight`)) names.push(`${p}layer_output_scale.weight`);
    if (c.nEmbdPerLayer > 0) names.push(`${p}inp_gate.weight`, `${p}proj.weight`, `${p}post_norm.weight`);
  });
  return names;
}
