/**
 * The `gemma4-assistant` MTP drafter as llama.cpp runs it (spec gemma4.md §10.4, LC:src/models/gemma4-assistant.cpp).
 * One draft step, for token t at position pos with the target's hidden state h:
 *   x = target.token_embd[t] · sqrtf(n_embd_target);  y = nextn.pre_projection · [x ‖ h]
 *   per layer [RMSNorm → Q (per-head RMSNorm, NEOX RoPE at pos) → attention over the TARGET's cache (sliding
 *   layers: the target's last sliding layer, the full layer: its last full layer) → output projection →
 *   post-attention RMSNorm → residual; RMSNorm → GELU-tanh gated FFN → post-FFW RMSNorm → residual; × scale]
 *   z = RMSNorm(y);  draft logits = token_embd · z (tied, no soft-cap);  h_next = nextn.post_projection · z.
 * The assistant has no K/V of its own and never writes the target's cache; every step of one draft uses the same
 * position (the target's n_past), with the previous step's h_next and drafted token as its inputs.
 */
import type { GgufFile } from '../gguf/reader.ts';
import type { Kernels } from './kernels.ts';
import { bindWeight, metaNumber, ModelError, requireTensor, type KvCache, type Weight } from './model.ts';
import { readGemma4Config, type Gemma4Config } from './gemma4-config.ts';
import type { Gemma4LayerWeights, Gemma4Model } from './gemma4.ts';
import { ropeCosSin } from './rope.ts';

const ARCH = 'gemma4-assistant';
const NEOX = 2;
const f = Math.fround;
/** Cells an attention call spans: a multiple of 32, as the target's own calls (see gemma4.ts). */
const pad32 = (n: number) => Math.ceil(n / 32) * 32;

export interface Gemma4AssistantConfig extends Gemma4Config {
  /** The target's width (embedding_length_out): the h the assistant takes and returns, and its input embedding. */
  nEmbdOut: number;
}

/**
 * Reads and checks a `gemma4-assistant` file's hyper-parameters. The per-layer keys are those of a gemma4 file, so
 * gemma4's reader does the work; its `shared_kv_layers` (every layer: they all read another model's cache) is set
 * aside for that, because the assistant maps its layers onto the target's cache itself.
 */
export function readGemma4AssistantConfig(g: GgufFile): Gemma4AssistantConfig {
  const a = ARCH;
  const blocks = metaNumber(g, `${a}.block_count`);
  if (!g.metadata.has(`${a}.nextn_predict_layers`)) {
    throw new ModelError('bad_hparams', `${a}: missing metadata key '${a}.nextn_predict_layers' (llama.cpp runs that many layers)`);
  }
  const nextn = metaNumber(g, `${a}.nextn_predict_layers`);
  if (nextn !== blocks) {
    // llama.cpp loads and runs only the first nextn_predict_layers layers; files in circulation set it to block_count
    throw new ModelError('bad_hparams', `${a}: nextn_predict_layers = ${nextn} must equal block_count = ${blocks}`);
  }
  const meta = new Map(g.metadata);
  meta.set(`${a}.attention.shared_kv_layers`, 0);
  const c = readGemma4Config({ ...g, metadata: meta }, a);
  const nEmbdOut = metaNumber(g, `${a}.embedding_length_out`);
  if (!Number.isInteger(nEmbdOut) || nEmbdOut <= 0 || nEmbdOut === c.nEmbd) {
    throw new ModelError('bad_hparams', `${a}: embedding_length_out = ${nEmbdOut} must carry the target's width (and differ from embedding_length ${c.nEmbd})`);
  }
  if (c.layers.some((L) => L.sliding) && c.window < 2) throw new ModelError('bad_hparams', `${a}: attention.sliding_window must be at least 2`);
  return { ...c, nEmbdOut };
}

/** Throws a ModelError unless the assistant can read this target's embedding and KV cache (spec §10.4). */
export function checkAssistantFits(c: Gemma4AssistantConfig, target: Gemma4Model): void {
  const t = target.config;
  if (c.nEmbdOut !== t.nEmbd) {
    throw new ModelError('bad_hparams', `${ARCH}: embedding_length_out = ${c.nEmbdOut} but the target's width is ${t.nEmbd}`);
  }
  if (c.nVocab !== t.nVocab) throw new ModelError('bad_hparams', `${ARCH}: vocabulary of ${c.nVocab} tokens, the target's has ${t.nVocab}`);
  c.layers.forEach((L, i) => {
    const tl = L.sliding ? t.nLayer - 2 : t.nLayer - 1;
    const T = t.layers[tl];
    if (T.sliding !== L.sliding || T.nHeadKv !== L.nHeadKv || T.headDim !== L.headDim) {
      throw new ModelError('bad_hparams',
        `${ARCH}: layer ${i} (${L.sliding ? 'sliding' : 'full'}, ${L.nHeadKv} KV heads × ${L.headDim}) cannot read the target's layer ${tl} ` +
          `(${T.sliding ? 'sliding' : 'full'}, ${T.nHeadKv} KV heads × ${T.headDim})`);
    }
  });
  if (c.layers.some((L) => L.sliding) && c.window !== t.window) {
    throw new ModelError('bad_hparams', `${ARCH}: sliding window ${c.window} differs from the target's ${t.window}`);
  }
  // the assistant's weights go with the target's embedding; the caches it reads must be in that memory too
  for (const l of [t.nLayer - 2, t.nLayer - 1]) {
    if (target.kvGroup(l) !== target.embeddingGroup) {
      throw new ModelError('unsupported_feature', `${ARCH}: the target's layer ${l} cache is in another memory group than its embedding (use larger groups)`);
    }
  }
}

/** The tensors the assistant forward reads (rope_freqs is read on the host by the loader). */
export function gemma4AssistantTensorNames(c: Gemma4AssistantConfig): string[] {
  const names = ['token_embd.weight', 'output_norm.weight', 'nextn.pre_projection.weight', 'nextn.post_projection.weight'];
  c.layers.forEach((_, i) => {
    const p = `blk.${i}.`;
    names.push(`${p}attn_norm.weight`, `${p}attn_q.weight`, `${p}attn_q_norm.weight`, `${p}attn_output.weight`, `${p}post_attention_norm.weight`,
      `${p}ffn_norm.weight`, `${p}ffn_gate.weight`, `${p}ffn_up.weight`, `${p}ffn_down.weight`, `${p}post_ffw_norm.weight`,
      `${p}layer_output_scale.weight`);
  });
  return names;
}

/** An assistant layer has the target's layer weights, less K/V (it reads the target's cache) and the per-layer inputs. */
type AssistantLayerWeights = Pick<Gemma4LayerWeights, 'attnNorm' | 'wq' | 'qNorm' | 'wo' | 'postAttnNorm' | 'ffnNorm' | 'ffnGate' | 'ffnUp' | 'ffnDown' | 'postFfwNorm'> & { outScale: number };

export class Gemma4Assistant {
  readonly nVocab: number;
  /** The target's width: the length of the hidden rows it takes. */
  readonly nEmbdOut: number;
  /** Ids a draft never proposes (the assistant vocabulary's suppress_tokens, as llama.cpp's draft sampler). */
  readonly suppressTokens: readonly number[];
  /** Target layer whose cache the assistant's sliding / full layers attend over. */
  readonly targetLayerSliding: number;
  readonly targetLayerFull: number;
  private readonly w: {
    tokenEmbd: Weight;
    outputNorm: Weight;
    preProj: Weight;
    postProj: Weight;
    layers: AssistantLayerWeights[];
  };
  private readonly targetEmbd: Weight;
  private readonly s: ReturnType<Gemma4Assistant['allocScratch']>;

  constructor(
    private readonly core: Kernels,
    readonly config: Gemma4AssistantConfig,
    g: GgufFile,
    placed: Map<string, number>,
    readonly target: Gemma4Model,
    freqFactors?: Float32Array,
  ) {
    const c = config;
    const t = target.config;
    checkAssistantFits(c, target);
    // as llama.cpp's shared cache: sliding layers read the target's layer n−2, the full layer n−1 (then, for
    // targets with KV sharing, whatever layer that one reads: the target's KvCache already holds it there)
    this.targetLayerSliding = t.nLayer - 2;
    this.targetLayerFull = t.nLayer - 1;
    if (c.layers.some((L) => !L.sliding)) {
      if (!freqFactors) throw new ModelError('missing_tensor', `${ARCH}: missing tensor 'rope_freqs.weight' (the full-attention layer needs it)`);
      c.ropeFull.freqFactors = freqFactors.subarray(0, c.ropeFull.nRot / 2);
    }
    this.nVocab = c.nVocab;
    this.nEmbdOut = c.nEmbdOut;
    this.suppressTokens = c.suppressTokens;
    this.targetEmbd = target.tokenEmbd;
    const A = c.nEmbd;
    const T = c.nEmbdOut;
    const bind = (name: string, cols: number, rows: number) => bindWeight(g, placed, name, [cols, rows]);
    this.w = {
      tokenEmbd: bind('token_embd.weight', A, c.nVocab),
      outputNorm: bind('output_norm.weight', A, 1),
      preProj: bind('nextn.pre_projection.weight', 2 * T, A),
      postProj: bind('nextn.post_projection.weight', A, T),
      layers: c.layers.map((L, i) => {
        const p = `blk.${i}.`;
        const q = L.nHead * L.headDim;
        const scaleName = `${p}layer_output_scale.weight`;
        const st = requireTensor(g, scaleName);
        if (st.type !== 0 || st.elements !== 1) throw new ModelError('bad_shape', `tensor '${scaleName}' must be one F32 value`);
        return {
          attnNorm: bind(`${p}attn_norm.weight`, A, 1),
          wq: bind(`${p}attn_q.weight`, A, q),
          qNorm: bind(`${p}attn_q_norm.weight`, L.headDim, 1),
          wo: bind(`${p}attn_output.weight`, q, A),
          postAttnNorm: bind(`${p}post_attention_norm.weight`, A, 1),
          ffnNorm: bind(`${p}ffn_norm.weight`, A, 1),
          ffnGate: bind(`${p}ffn_gate.weight`, A, L.nFf),
          ffnUp: bind(`${p}ffn_up.weight`, A, L.nFf),
          ffnDown: bind(`${p}ffn_down.weight`, L.nFf, A),
          postFfwNorm: bind(`${p}post_ffw_norm.weight`, A, 1),
          outScale: core.f32(placed.get(scaleName)!, 1)[0],
        };
      }),
    };
    this.s = this.allocScratch();
  }

  private allocScratch() {
    const c = this.config;
    const max = (pick: (L: Gemma4Config['layers'][number]) => number) => Math.max(...c.layers.map(pick));
    const a = (floats: number) => this.core.alloc(Math.max(1, floats) * 4);
    return {
      ids: a(1),
      /** The mask position (see step). */
      maskPos: a(1),
      cosSinFull: a(c.ropeFull.nRot),
      cosSinSwa: a(c.ropeSwa.nRot),
      /** [x ‖ h]: the target embedding of the token, then the hidden state (post_projection writes the next h here). */
      xh: a(2 * c.nEmbdOut),
      y: a(c.nEmbd),
      xb: a(c.nEmbd),
      xb2: a(c.nEmbd),
      q: a(max((L) => L.nHead * L.headDim)),
      attn: a(max((L) => L.nHead * L.headDim)),
      hb: a(max((L) => L.nFf)),
      hb2: a(max((L) => L.nFf)),
      logits: a(c.nVocab),
    };
  }

  /**
   * Draft up to n tokens after `token` (the one the target will decode next, at position kv.used) from the target's
   * hidden state `hidden` of the row that produced it: each step's argmax is the next step's token, its h_next the
   * next step's h, all at the same position. `kv` is the target's cache of the sequence, read and never written.
   */
  draft(kv: KvCache, token: number, hidden: Float32Array, n: number): number[] {
    const T = this.nEmbdOut;
    if (hidden.length !== T) throw new RangeError(`${ARCH}: hidden state of ${hidden.length} values, expected ${T}`);
    if (!Number.isInteger(token) || token < 0 || token >= this.nVocab) throw new RangeError(`${ARCH}: token id ${token} is outside the vocabulary`);
    const pos = kv.used;
    if (pos < 1 || pos >= kv.size) return [];
    // the assistant's weights, the target's embedding and the caches it reads share one memory group (checked at load)
    this.core.use(this.target.embeddingGroup);
    this.prepare(pos);
    this.core.f32(this.s.xh + T * 4, T).set(hidden);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const logits = this.step(kv, token, pos);
      for (const id of this.suppressTokens) logits[id] = -Infinity;
      token = argmaxF32(logits);
      out.push(token);
    }
    return out;
  }

  /** Per draft: RoPE angles and the mask position, the same for every step. */
  private prepare(pos: number): void {
    const { core, config: c, s } = this;
    // Every target cell at or after pos is stale here (llama.cpp removes them before drafting: rejected drafts, or the
    // sliding ring's leftovers), and the draft row itself is never in the cache. So the draft sees exactly positions
    // ≤ pos − 1 (and, on sliding layers, pos − p < window): the kernel is given pos − 1 with window − 1.
    core.i32(s.maskPos, 1)[0] = pos - 1;
    const p = Int32Array.of(pos);
    if (c.layers.some((L) => L.sliding)) ropeCosSin(c.ropeSwa, p, core.f32(s.cosSinSwa, c.ropeSwa.nRot));
    if (c.layers.some((L) => !L.sliding)) ropeCosSin(c.ropeFull, p, core.f32(s.cosSinFull, c.ropeFull.nRot));
  }

  /** One draft step on s.xh's h: returns the draft logits (a view of scratch) and leaves h_next in s.xh. */
  private step(kv: KvCache, token: number, pos: number): Float32Array {
    const { core, config: c, w, s } = this;
    const A = c.nEmbd;
    const T = c.nEmbdOut;
    core.i32(s.ids, 1)[0] = token;
    // the target's token row, scaled by sqrtf(target width) in f32, ahead of h: ggml_concat(x, h) along the row
    core.getRows(this.targetEmbd, s.ids, 1, s.xh);
    core.scale(s.xh, f(Math.sqrt(T)), s.xh, T);
    core.matmul(w.preProj, s.xh, 1, s.y);

    for (let l = 0; l < c.layers.length; l++) {
      const L = c.layers[l];
      const W = w.layers[l];
      const hd = L.headDim;
      const qDim = L.nHead * hd;
      const cache = kv.layers[L.sliding ? this.targetLayerSliding : this.targetLayerFull];
      const cells = cache.cells ?? kv.size;

      core.rmsNorm(s.y, W.attnNorm.ptr, s.xb, A, 1, c.eps);
      core.matmul(W.wq, s.xb, 1, s.q);
      core.rmsNorm(s.q, W.qNorm.ptr, s.q, hd, L.nHead, c.eps);
      core.rope(s.q, 1, L.nHead, hd, L.sliding ? c.ropeSwa.nRot : c.ropeFull.nRot, qDim, L.sliding ? s.cosSinSwa : s.cosSinFull, NEOX);
      const nCells = Math.min(cells, pad32(pos + 1));
      core.attention({
        q: s.q,
        qStride: qDim,
        kCache: cache.k,
        vCache: cache.v,
        vStride: cells,
        out: s.attn,
        outStride: qDim,
        nTokens: 1,
        nHead: L.nHead,
        nHeadKv: L.nHeadKv,
        headDimK: hd,
        headDimV: hd,
        nCells,
        cellPos: cache.cellPos ?? core.identityPositions(nCells),
        qPos: s.maskPos,
        scale: 1,
        window: L.sliding ? c.window - 1 : 0,
        softcap: 0,
      });
      core.matmul(W.wo, s.attn, 1, s.xb2);
      core.rmsNorm(s.xb2, W.postAttnNorm.ptr, s.xb2, A, 1, c.eps);
      core.add(s.y, s.xb2, s.y, A);

      core.rmsNorm(s.y, W.ffnNorm.ptr, s.xb, A, 1, c.eps);
      core.matmul(W.ffnGate, s.xb, 1, s.hb);
      core.matmul(W.ffnUp, s.xb, 1, s.hb2);
      core.geluMul(s.hb, s.hb2, s.hb, L.nFf);
      core.matmul(W.ffnDown, s.hb, 1, s.xb2);
      core.rmsNorm(s.xb2, W.postFfwNorm.ptr, s.xb2, A, 1, c.eps);
      core.add(s.y, s.xb2, s.y, A);
      core.scale(s.y, W.outScale, s.y, A);
    }
    core.rmsNorm(s.y, w.outputNorm.ptr, s.xb, A, 1, c.eps);
    core.matmul(w.tokenEmbd, s.xb, 1, s.logits);
    core.matmul(w.postProj, s.xb, 1, s.xh + T * 4);
    return core.f32(s.logits, c.nVocab);
  }
}

/** Index of the largest value, the lowest index on ties. */
function argmaxF32(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** True for a GGUF whose architecture is the MTP assistant (it runs only beside its target). */
export function isGemma4Assistant(g: GgufFile): boolean {
  return g.metadata.get('general.architecture') === ARCH;
}
