/**
 * The `gemma4` architecture as llama.cpp runs it (spec gemma4.md §5–6): scaled token embedding → per block
 * [RMSNorm → Q (per-head RMSNorm, NEOX RoPE) and K/V (K: per-head RMSNorm + RoPE; V: weightless RMSNorm; V = K where
 * a full layer has no attn_v) → attention with score scale 1 over the layer's cache (sliding layers: a window) →
 * output projection → post-attention RMSNorm → residual; RMSNorm → GELU-tanh gated FFN → post-FFW RMSNorm →
 * residual; (E2B/E4B) per-layer embedding block; × layer_output_scale] → RMSNorm → tied LM head → soft-cap.
 *
 * Sliding layers and full layers differ in head count, KV head count, head dim, rotary dims and RoPE base; layers
 * past `n_layer − shared_kv_layers` have no K/V of their own and attend over an earlier layer's cache.
 *
 * KV cache: full layers keep every position (cell = position). Sliding layers keep a ring of
 * R = pad32(min(context, window + maxBatch − 1)) cells, cell = position mod R, with the position of each cell in
 * one int32 array shared by all sliding layers of the sequence. R is the window plus the slack one forward needs: a
 * batch of m columns writes all its m keys before attending, and its first column still needs the window − 1 keys
 * before it, so m + window − 1 positions must coexist (why llama.cpp sizes its SWA cache window + n_ubatch). The
 * slack also lets a caller roll back up to maxBatch − 1 positions (speculative verification) without losing keys.
 *
 * tokenizer.ggml.suppress_tokens: forward returns −∞ for those ids, which is what llama.cpp's sampler sees (it adds a
 * −∞ logit bias before any other step); llama.cpp's raw logits keep their values.
 */
import type { GgufFile } from '../gguf/reader.ts';
import { ATTN_NONCAUSAL, ATTN_TILED } from '../../core/types.ts';
import { ropeCosSin } from './rope.ts';
import type { ActivationLayout, ArchModel, ForwardSeq, KvCache, KvLayer, Weight } from './model.ts';
import type { Kernels } from './kernels.ts';
import { allocActivations, batchColumns, bindWeight, logitColumns, logitRowCount, ModelError, splitRows, writeBatchColumns } from './model.ts';
import type { Gemma4Config } from './gemma4-config.ts';

export { gemma4TensorNames, readGemma4Config, type Gemma4Config } from './gemma4-config.ts';

const NEOX = 2;
const f = Math.fround;

/**
 * Cells an attention call spans, and cache sizes, are multiples of 32. The kernel sums V·p as ggml_vec_dot_f16 does
 * (cell c in lane c % 32, cells past the last multiple of 32 in double) and the softmax in groups of 8 (a tail of
 * n % 8 with expf). llama.cpp attends over n_kv = a multiple of 256 cells (empty ones masked), so with a multiple of
 * 32 here every visible cell lands in the same lane and group in both and nothing falls in a tail: the results agree
 * bit for bit (the tests see ~1e-6 in the logits). The ring keeps that while the window fits in 32 cells (one visible
 * cell per lane, whatever order the ring puts them in); past that, only the order within a lane differs (last ulp).
 */
const pad32 = (n: number) => Math.ceil(n / 32) * 32;

/** Logit rows the head computes per matmul: the logits scratch stays small when maxBatch is large (image blocks). */
const HEAD_CHUNK = 64;

export interface Gemma4LayerWeights {
  attnNorm: Weight;
  wq: Weight;
  qNorm: Weight;
  /** Absent on KV-shared layers. */
  wk?: Weight;
  kNorm?: Weight;
  /** Absent where V = K (full layers of the 12B/31B). */
  wv?: Weight;
  wo: Weight;
  postAttnNorm: Weight;
  ffnNorm: Weight;
  ffnGate: Weight;
  ffnUp: Weight;
  ffnDown: Weight;
  postFfwNorm: Weight;
  /** layer_output_scale (read once on the host), undefined when the file has none. */
  outScale?: number;
  /** Per-layer embedding block (E2B/E4B). */
  inpGate?: Weight;
  proj?: Weight;
  postNorm?: Weight;
}

interface Gemma4Weights {
  tokenEmbd: Weight;
  outputNorm: Weight;
  output: Weight;
  perLayerTokEmbd?: Weight;
  perLayerModelProj?: Weight;
  perLayerProjNorm?: Weight;
  layers: Gemma4LayerWeights[];
}

/** KV cache bytes each layer keeps for a context of nCtx (sliding layers: the ring; shared layers: none). */
export function gemma4KvBytesPerLayer(c: Gemma4Config, nCtx: number, maxBatch: number): number[] {
  const ring = pad32(Math.min(nCtx, c.window + maxBatch - 1));
  return c.layers.map((L, i) => (L.kvFrom === i ? 2 * (L.sliding ? ring : pad32(nCtx)) * L.nHeadKv * L.headDim * 2 : 0));
}

/** The activation buffers of a forward pass over n token columns (floats by name). */
export function gemma4Activations(c: Gemma4Config, n: number) {
  const max = (pick: (L: Gemma4Config['layers'][number]) => number) => Math.max(...c.layers.map(pick));
  const qDim = max((L) => L.nHead * L.headDim);
  const kvDim = max((L) => L.nHeadKv * L.headDim);
  const ff = max((L) => L.nFf);
  const PL = c.nEmbdPerLayer * c.nLayer;
  return {
    ids: n,
    pos: n,
    ringCells: n,
    cosSinFull: n * c.ropeFull.nRot,
    cosSinSwa: n * c.ropeSwa.nRot,
    x: n * c.nEmbd,
    xb: n * c.nEmbd,
    xb2: n * c.nEmbd,
    q: n * qDim,
    k: n * kvDim,
    v: n * kvDim,
    attn: n * qDim,
    hb: n * ff,
    hb2: n * ff,
    // per-layer embedding inputs: [n][L][P] as computed, then [L][n][P] so each layer's slice is contiguous
    ple: n * PL,
    pleProj: n * PL,
    pleByLayer: n * PL,
    pleGate: c.nEmbdPerLayer,
    logits: Math.min(n, HEAD_CHUNK) * c.nVocab,
  } satisfies ActivationLayout<string>;
}

export class Gemma4Model implements ArchModel {
  readonly nVocab: number;
  readonly nCtxTrain: number;
  /** Token ids generation never picks (tokenizer.ggml.suppress_tokens): forward returns −∞ for them. */
  readonly suppressTokens: readonly number[];
  private readonly w: Gemma4Weights;
  /** The input embedding table (a Gemma 4 MTP assistant embeds its tokens with it). */
  get tokenEmbd(): Weight {
    return this.w.tokenEmbd;
  }

  /** The memory group of the token embedding (and the head, and the last layers). */
  get embeddingGroup(): number {
    return this.core.groupOf(this.w.tokenEmbd.ptr);
  }

  /** The memory group holding layer l's KV cache (that of the layer it reads under KV sharing). */
  kvGroup(l: number): number {
    return this.core.groupOf(this.w.layers[this.config.layers[l].kvFrom].wq.ptr);
  }
  private readonly s: ReturnType<Gemma4Model['allocScratch']>;
  private readonly hasSliding: boolean;
  private readonly hasFull: boolean;

  constructor(
    private readonly core: Kernels,
    readonly config: Gemma4Config,
    g: GgufFile,
    placed: Map<string, number>,
    readonly maxBatch: number,
    freqFactors?: Float32Array,
  ) {
    const c = config;
    this.hasSliding = c.layers.some((L) => L.sliding);
    this.hasFull = c.layers.some((L) => !L.sliding);
    if (this.hasFull) {
      if (!freqFactors) throw new ModelError('missing_tensor', "gemma4: missing tensor 'rope_freqs.weight' (full-attention layers need it)");
      c.ropeFull.freqFactors = freqFactors.subarray(0, c.ropeFull.nRot / 2);
    }
    this.nVocab = c.nVocab;
    this.nCtxTrain = c.nCtxTrain;
    this.suppressTokens = c.suppressTokens;
    const E = c.nEmbd;
    const P = c.nEmbdPerLayer;
    const bind = (name: string, cols: number, rows: number) => bindWeight(g, placed, name, [cols, rows]);
    const has = (name: string) => g.tensorsByName.has(name);
    this.w = {
      tokenEmbd: bind('token_embd.weight', E, c.nVocab),
      outputNorm: bind('output_norm.weight', E, 1),
      output: has('output.weight') ? bind('output.weight', E, c.nVocab) : bind('token_embd.weight', E, c.nVocab),
      ...(P > 0
        ? {
            perLayerTokEmbd: bind('per_layer_token_embd.weight', P * c.nLayer, c.nVocab),
            perLayerModelProj: bind('per_layer_model_proj.weight', E, P * c.nLayer),
            perLayerProjNorm: bind('per_layer_proj_norm.weight', P, 1),
          }
        : {}),
      layers: c.layers.map((L, i) => {
        const p = `blk.${i}.`;
        const q = L.nHead * L.headDim;
        const kv = L.nHeadKv * L.headDim;
        const own = L.kvFrom === i;
        const scaleName = `${p}layer_output_scale.weight`;
        let outScale: number | undefined;
        if (has(scaleName)) {
          const t = g.tensorsByName.get(scaleName)!;
          if (t.type !== 0 || t.elements !== 1) throw new ModelError('bad_shape', `tensor '${scaleName}' must be one F32 value`);
          outScale = core.f32(placed.get(scaleName)!, 1)[0];
        }
        return {
          attnNorm: bind(`${p}attn_norm.weight`, E, 1),
          wq: bind(`${p}attn_q.weight`, E, q),
          qNorm: bind(`${p}attn_q_norm.weight`, L.headDim, 1),
          wk: own ? bind(`${p}attn_k.weight`, E, kv) : undefined,
          kNorm: own ? bind(`${p}attn_k_norm.weight`, L.headDim, 1) : undefined,
          wv: own && has(`${p}attn_v.weight`) ? bind(`${p}attn_v.weight`, E, kv) : undefined,
          wo: bind(`${p}attn_output.weight`, q, E),
          postAttnNorm: bind(`${p}post_attention_norm.weight`, E, 1),
          ffnNorm: bind(`${p}ffn_norm.weight`, E, 1),
          ffnGate: bind(`${p}ffn_gate.weight`, E, L.nFf),
          ffnUp: bind(`${p}ffn_up.weight`, E, L.nFf),
          ffnDown: bind(`${p}ffn_down.weight`, L.nFf, E),
          postFfwNorm: bind(`${p}post_ffw_norm.weight`, E, 1),
          outScale,
          ...(P > 0
            ? { inpGate: bind(`${p}inp_gate.weight`, E, P), proj: bind(`${p}proj.weight`, P, E), postNorm: bind(`${p}post_norm.weight`, E, 1) }
            : {}),
        };
      }),
    };
    this.s = this.allocScratch();
  }

  private allocScratch() {
    return allocActivations((bytes) => this.core.alloc(bytes), gemma4Activations(this.config, this.maxBatch));
  }

  /** Ring cells of the sliding layers for a context of nCtx positions. */
  private ringCells(nCtx: number): number {
    return this.hasSliding ? pad32(Math.min(nCtx, this.config.window + this.maxBatch - 1)) : 0;
  }

  kvBytes(nCtx: number): number {
    return this.ringCells(nCtx) * 4 + gemma4KvBytesPerLayer(this.config, nCtx, this.maxBatch).reduce((a, b) => a + b, 0);
  }

  createKv(nCtx: number): KvCache {
    const R = this.ringCells(nCtx);
    let ringPos: number | undefined;
    if (R > 0) {
      ringPos = this.core.alloc(R * 4);
      this.core.i32(ringPos, R).fill(-1);
    }
    const layers: KvLayer[] = [];
    this.config.layers.forEach((L, i) => {
      if (L.kvFrom !== i) {
        if (this.core.groupOf(this.w.layers[i].wq.ptr) !== this.core.groupOf(this.w.layers[L.kvFrom].wq.ptr)) {
          throw new ModelError('unsupported_feature', `gemma4: layer ${i} shares the KV cache of layer ${L.kvFrom}, which sits in another memory group`);
        }
        layers.push(layers[L.kvFrom]);
        return;
      }
      const cells = L.sliding ? R : pad32(nCtx);
      const rowBytes = L.nHeadKv * L.headDim * 2;
      // each layer's cache lives in the memory group that holds the layer's weights
      const group = this.core.groupOf(this.w.layers[i].wq.ptr);
      layers.push({
        k: this.core.alloc(cells * rowBytes, group),
        v: this.core.alloc(cells * rowBytes, group),
        cells,
        cellPos: L.sliding ? ringPos : undefined,
      });
    });
    return { size: nCtx, used: 0, layers };
  }

  /**
   * Place a sequence's new positions in its sliding ring: forget cells at or after pos0 (a reused or rolled-back
   * cache), check the window before pos0 is still there, and record cell = pos mod R for each new column.
   */
  private placeInRing(seq: ForwardSeq, col0: number): void {
    const layer = seq.kv.layers.find((L) => L.cellPos !== undefined);
    if (!layer || layer.cellPos === undefined || layer.cells === undefined) throw new Error('gemma4: KV cache has no sliding ring');
    const R = layer.cells;
    const ringPos = this.core.i32(layer.cellPos, R);
    const cells = this.core.i32(this.s.ringCells, col0 + seq.tokens.length);
    const { pos0 } = seq;
    for (let p = Math.max(0, pos0 - this.config.window + 1); p < pos0; p++) {
      if (ringPos[p % R] !== p) {
        throw new RangeError(`forward: position ${p} is not in the sliding-window cache (a roll-back may go back at most ${R - this.config.window} positions)`);
      }
    }
    for (let c = 0; c < R; c++) if (ringPos[c] >= pos0) ringPos[c] = -1;
    for (let i = 0; i < seq.tokens.length; i++) {
      const p = pos0 + i;
      ringPos[p % R] = p;
      cells[col0 + i] = p % R;
    }
    // every memory group's sliding layers read the same ring bookkeeping
    this.core.broadcast(layer.cellPos, R * 4);
  }

  forward(seqs: ForwardSeq[]): Float32Array[][] {
    const { core, config: c, w, s } = this;
    const n = batchColumns(seqs, this.maxBatch);
    if (n === 0) return seqs.map(() => []);

    const pos = core.i32(s.pos, n);
    const ids = core.i32(s.ids, n);
    writeBatchColumns(seqs, ids, pos);
    // embedding rows look up the padding token's rows (what llama.cpp's per-layer inputs use for them), then are
    // overwritten below
    let e0 = 0;
    for (const seq of seqs) {
      if (seq.embeddings) {
        if (seq.embeddings.length !== seq.tokens.length * c.nEmbd) throw new RangeError('forward: embedding rows do not match the sequence length');
        ids.fill(0, e0, e0 + seq.tokens.length);
      }
      e0 += seq.tokens.length;
    }
    if (this.hasSliding) {
      let col = 0;
      for (const seq of seqs) {
        this.placeInRing(seq, col);
        col += seq.tokens.length;
      }
      ropeCosSin(c.ropeSwa, pos, core.f32(s.cosSinSwa, n * c.ropeSwa.nRot));
    }
    if (this.hasFull) ropeCosSin(c.ropeFull, pos, core.f32(s.cosSinFull, n * c.ropeFull.nRot));

    const E = c.nEmbd;
    for (const [ptr, floats] of [[s.ids, n], [s.pos, n], [s.ringCells, n], [s.cosSinSwa, n * c.ropeSwa.nRot], [s.cosSinFull, n * c.ropeFull.nRot]]) {
      core.broadcast(ptr, floats * 4);
    }
    // what crosses from one memory group to the next: the residual stream, and the per-layer inputs (E2B/E4B)
    const live: [number, number][] = [[s.x, n * E * 4]];
    if (c.nEmbdPerLayer > 0) live.push([s.pleByLayer, n * c.nEmbdPerLayer * c.nLayer * 4]);
    core.use(core.groupOf(w.tokenEmbd.ptr));
    // token rows scaled by sqrtf(n_embd) in f32 (llama.cpp does not round the scale to the weight type, as HF does)
    core.getRows(w.tokenEmbd, s.ids, n, s.x);
    core.scale(s.x, f(Math.sqrt(E)), s.x, n * E);
    let x0 = 0;
    for (const seq of seqs) {
      if (seq.embeddings) core.f32(s.x + x0 * E * 4, seq.tokens.length * E).set(seq.embeddings);
      x0 += seq.tokens.length;
    }
    if (c.nEmbdPerLayer > 0) this.perLayerInputs(n);

    for (let l = 0; l < c.nLayer; l++) {
      const L = c.layers[l];
      const W = w.layers[l];
      const hd = L.headDim;
      const qDim = L.nHead * hd;
      const kvDim = L.nHeadKv * hd;
      const nRot = L.sliding ? c.ropeSwa.nRot : c.ropeFull.nRot;
      const cosSin = L.sliding ? s.cosSinSwa : s.cosSinFull;
      core.use(core.groupOf(W.wq.ptr), live);

      // attention block
      core.rmsNorm(s.x, W.attnNorm.ptr, s.xb, E, n, c.eps);
      core.matmul(W.wq, s.xb, n, s.q);
      core.rmsNorm(s.q, W.qNorm.ptr, s.q, hd, n * L.nHead, c.eps);
      core.rope(s.q, n, L.nHead, hd, nRot, qDim, cosSin, NEOX);
      if (W.wk && W.kNorm) {
        core.matmul(W.wk, s.xb, n, s.k);
        if (W.wv) {
          core.matmul(W.wv, s.xb, n, s.v);
          core.rmsNorm(s.v, 0, s.v, hd, n * L.nHeadKv, c.eps);
        } else {
          // K = V layers: V is the K projection taken before K's norm and RoPE
          core.rmsNorm(s.k, 0, s.v, hd, n * L.nHeadKv, c.eps);
        }
        core.rmsNorm(s.k, W.kNorm.ptr, s.k, hd, n * L.nHeadKv, c.eps);
        core.rope(s.k, n, L.nHeadKv, hd, nRot, kvDim, cosSin, NEOX);
      }
      let c0 = 0;
      for (const seq of seqs) {
        const m = seq.tokens.length;
        const qPos = s.pos + c0 * 4;
        const cache = seq.kv.layers[l];
        const ring = L.sliding;
        if (W.wk) {
          const cells = ring ? s.ringCells + c0 * 4 : qPos;
          core.kvStore(s.k + c0 * kvDim * 4, kvDim, cache.k, kvDim, m, cells);
          core.kvStore(s.v + c0 * kvDim * 4, kvDim, cache.v, kvDim, m, cells, cache.cells!);
        }
        const nCells = Math.min(cache.cells!, pad32(seq.pos0 + m));
        core.attention({
          q: s.q + c0 * qDim * 4,
          qStride: qDim,
          kCache: cache.k,
          vCache: cache.v,
          vStride: cache.cells!,
          out: s.attn + c0 * qDim * 4,
          outStride: qDim,
          nTokens: m,
          nHead: L.nHead,
          nHeadKv: L.nHeadKv,
          headDimK: hd,
          headDimV: hd,
          nCells,
          cellPos: ring ? cache.cellPos! : core.identityPositions(nCells),
          qPos,
          scale: 1,
          window: ring ? c.window : 0,
          softcap: 0,
          // llama.cpp v0.5.0 runs gemma4 image blocks with LLAMA_NON_CAUSAL_TYPE_SWA_ONLY: full layers stay causal
          flags: (seq.nonCausal && ring ? ATTN_NONCAUSAL : 0) | (seq.tiledAttention && m > 1 ? ATTN_TILED : 0),
        });
        c0 += m;
      }
      core.matmul(W.wo, s.attn, n, s.xb2);
      core.rmsNorm(s.xb2, W.postAttnNorm.ptr, s.xb2, E, n, c.eps);
      core.add(s.x, s.xb2, s.x, n * E);

      // feed-forward block
      core.rmsNorm(s.x, W.ffnNorm.ptr, s.xb, E, n, c.eps);
      core.matmul(W.ffnGate, s.xb, n, s.hb);
      core.matmul(W.ffnUp, s.xb, n, s.hb2);
      core.geluMul(s.hb, s.hb2, s.hb, n * L.nFf);
      core.matmul(W.ffnDown, s.hb, n, s.xb2);
      core.rmsNorm(s.xb2, W.postFfwNorm.ptr, s.xb2, E, n, c.eps);
      core.add(s.x, s.xb2, s.x, n * E);

      // per-layer embedding block: x += RMS(proj · (GELU(inp_gate · x) ⊙ inp_l); post_norm)
      if (W.inpGate && W.proj && W.postNorm) {
        const P = c.nEmbdPerLayer;
        core.matmul(W.inpGate, s.x, n, s.pleGate);
        core.geluMul(s.pleGate, s.pleByLayer + l * n * P * 4, s.pleGate, n * P);
        core.matmul(W.proj, s.pleGate, n, s.xb2);
        core.rmsNorm(s.xb2, W.postNorm.ptr, s.xb2, E, n, c.eps);
        core.add(s.x, s.xb2, s.x, n * E);
      }
      if (W.outScale !== undefined) core.scale(s.x, W.outScale, s.x, n * E);
    }
    for (const seq of seqs) seq.kv.used = Math.max(seq.kv.used, seq.pos0 + seq.tokens.length);
    core.use(core.groupOf(w.output.ptr), [[s.x, n * E * 4]]);
    return this.head(seqs, n);
  }

  /**
   * E2B/E4B per-layer inputs, for all layers at once (spec §6.2):
   * inp = (RMS((per_layer_model_proj · x0) · 1/sqrtf(H) ; per_layer_proj_norm) + per_layer_token_embd[t] · sqrtf(P))
   *       · 1/sqrtf(2), each [P] slice normed on its own; then laid out layer-major.
   */
  private perLayerInputs(n: number): void {
    const { core, config: c, w, s } = this;
    const P = c.nEmbdPerLayer;
    const nL = c.nLayer;
    const size = n * nL * P;
    core.getRows(w.perLayerTokEmbd!, s.ids, n, s.ple);
    core.scale(s.ple, f(Math.sqrt(P)), s.ple, size);
    core.matmul(w.perLayerModelProj!, s.x, n, s.pleProj);
    core.scale(s.pleProj, f(1 / f(Math.sqrt(c.nEmbd))), s.pleProj, size);
    core.rmsNorm(s.pleProj, w.perLayerProjNorm!.ptr, s.pleProj, P, n * nL, c.eps);
    core.add(s.pleProj, s.ple, s.ple, size);
    core.scale(s.ple, f(1 / f(Math.SQRT2)), s.ple, size);
    const from = core.f32(s.ple, size);
    const to = core.f32(s.pleByLayer, size);
    for (let t = 0; t < n; t++) {
      for (let l = 0; l < nL; l++) to.set(from.subarray((t * nL + l) * P, (t * nL + l + 1) * P), (l * n + t) * P);
    }
  }

  /** Final norm, tied LM head and soft-cap for the columns that want logits; suppressed ids get −∞. */
  private head(seqs: ForwardSeq[], n: number): Float32Array[][] {
    const { core, config: c, w, s } = this;
    const E = c.nEmbd;
    const want = logitColumns(seqs);
    if (want.length > 0) {
      const x = core.f32(s.x, n * E);
      const xb = core.f32(s.xb, want.length * E);
      want.forEach((from, to) => xb.set(x.subarray(from * E, from * E + E), to * E));
      core.rmsNorm(s.xb, w.outputNorm.ptr, s.xb, E, want.length, c.eps);
      if (seqs.some((q) => q.hidden)) {
        const h = core.f32(s.xb, want.length * E);
        let row = 0;
        for (const seq of seqs) {
          for (let i = 0; i < logitRowCount(seq); i++, row++) seq.hidden?.push(h.slice(row * E, (row + 1) * E));
        }
      }
    }
    const V = c.nVocab;
    const all = new Float32Array(want.length * V);
    for (let r0 = 0; r0 < want.length; r0 += HEAD_CHUNK) {
      const m = Math.min(HEAD_CHUNK, want.length - r0);
      core.matmul(w.output, s.xb + r0 * E * 4, m, s.logits);
      if (c.softcap > 0) core.softcap(s.logits, c.softcap, s.logits, m * V);
      all.set(core.f32(s.logits, m * V), r0 * V);
    }
    const out = splitRows(seqs, all, V);
    // llama.cpp's sampler adds a −∞ bias for these before anything else; its raw logits keep them
    for (const rows of out) for (const row of rows) for (const id of this.suppressTokens) row[id] = -Infinity;
    return out;
  }
}
