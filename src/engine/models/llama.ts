/**
 * The `llama` architecture (spec gguf.md §5): token embedding → per block [RMSNorm → Q/K/V → RoPE → causal GQA
 * attention over the KV cache → output projection → residual; RMSNorm → SwiGLU FFN → residual] → RMSNorm → LM head.
 *
 * Config (what the model is), weights (where its tensors sit in wasm memory) and run state (KV caches, scratch) are
 * kept apart; the forward pass reads top to bottom like the equations. Every op runs over all the batch's token
 * columns at once, so one pass over a weight matrix serves a whole prompt chunk or several sequences.
 */
import type { GgufFile } from '../gguf/reader.ts';
import { ropeCosSin, type RopeParams } from './rope.ts';
import type { ActivationLayout, ArchModel, ForwardSeq, KvCache, Weight } from './model.ts';
import type { Kernels } from './kernels.ts';
import { allocActivations, batchColumns, bindWeight, logitColumns, metaNumber, ModelError, requireTensor, splitRows, writeBatchColumns } from './model.ts';

export interface LlamaConfig {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  nVocab: number;
  nCtxTrain: number;
  eps: number;
  rope: RopeParams;
  /** 1/sqrt(head_dim) unless the file says otherwise (`llama.attention.scale`). */
  kqScale: number;
}

export function readLlamaConfig(g: GgufFile): LlamaConfig {
  const a = 'llama';
  const nEmbd = metaNumber(g, `${a}.embedding_length`);
  const nHead = metaNumber(g, `${a}.attention.head_count`);
  const nHeadKv = metaNumber(g, `${a}.attention.head_count_kv`, nHead);
  const headDim = metaNumber(g, `${a}.attention.key_length`, nEmbd / nHead);
  const nRot = metaNumber(g, `${a}.rope.dimension_count`, headDim);
  if (nRot !== headDim) throw new ModelError('bad_hparams', `llama: rope.dimension_count ${nRot} must equal head dim ${headDim}`);
  if (metaNumber(g, `${a}.attention.value_length`, headDim) !== headDim) {
    throw new ModelError('bad_hparams', 'llama: attention.value_length must equal key_length');
  }
  const scalingType = g.metadata.get(`${a}.rope.scaling.type`);
  if (scalingType !== undefined && scalingType !== 'none' && scalingType !== 'linear') {
    throw new ModelError('unsupported_feature', `llama: rope scaling '${String(scalingType)}' is not supported yet`);
  }
  const ropeScale = metaNumber(g, `${a}.rope.scaling.factor`, metaNumber(g, `${a}.rope.scale_linear`, 0));
  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  const embd = requireTensor(g, 'token_embd.weight');
  const nVocab = metaNumber(g, `${a}.vocab_size`, Array.isArray(tokens) ? tokens.length : embd.dims[1]);
  const attnScale = metaNumber(g, `${a}.attention.scale`, 0);
  return {
    nEmbd,
    nLayer: metaNumber(g, `${a}.block_count`),
    nHead,
    nHeadKv,
    headDim,
    nFf: metaNumber(g, `${a}.feed_forward_length`),
    nVocab,
    nCtxTrain: metaNumber(g, `${a}.context_length`, 2048),
    eps: metaNumber(g, `${a}.attention.layer_norm_rms_epsilon`, 1e-5),
    rope: {
      nRot,
      base: metaNumber(g, `${a}.rope.freq_base`, 10000),
      freqScale: ropeScale === 0 ? 1 : 1 / ropeScale,
    },
    kqScale: attnScale === 0 ? Math.fround(1 / Math.sqrt(headDim)) : attnScale,
  };
}

interface LlamaLayer {
  attnNorm: Weight;
  wq: Weight;
  wk: Weight;
  wv: Weight;
  wo: Weight;
  ffnNorm: Weight;
  ffnGate: Weight;
  ffnUp: Weight;
  ffnDown: Weight;
}

export interface LlamaWeights {
  tokenEmbd: Weight;
  outputNorm: Weight;
  output: Weight;
  layers: LlamaLayer[];
}

/** The tensors this architecture reads, so the loader can place exactly these in memory. */
export function llamaTensorNames(g: GgufFile, c: LlamaConfig): string[] {
  const names = ['token_embd.weight', 'output_norm.weight'];
  if (g.tensorsByName.has('output.weight')) names.push('output.weight');
  for (let i = 0; i < c.nLayer; i++) {
    for (const t of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']) {
      names.push(`blk.${i}.${t}.weight`);
    }
  }
  return names;
}

const pad32 = (n: number) => Math.ceil(n / 32) * 32;

/** KV cache bytes each layer keeps for a context of nCtx (K and V, f16). */
export function llamaKvBytesPerLayer(c: LlamaConfig, nCtx: number): number[] {
  return Array.from({ length: c.nLayer }, () => 2 * pad32(nCtx) * c.nHeadKv * c.headDim * 2);
}

/** The activation buffers of a forward pass over n token columns (floats by name). */
export function llamaActivations(c: LlamaConfig, n: number) {
  return {
    ids: n,
    pos: n,
    cosSin: n * c.rope.nRot,
    x: n * c.nEmbd,
    xb: n * Math.max(c.nEmbd, c.nHead * c.headDim),
    xb2: n * c.nEmbd,
    q: n * c.nHead * c.headDim,
    k: n * c.nHeadKv * c.headDim,
    v: n * c.nHeadKv * c.headDim,
    attn: n * c.nHead * c.headDim,
    hb: n * c.nFf,
    hb2: n * c.nFf,
    logits: n * c.nVocab,
  } satisfies ActivationLayout<string>;
}

export class LlamaModel implements ArchModel {
  readonly nVocab: number;
  readonly nCtxTrain: number;
  private readonly w: LlamaWeights;
  private readonly s: ReturnType<LlamaModel['allocScratch']>;

  constructor(
    private readonly core: Kernels,
    readonly config: LlamaConfig,
    g: GgufFile,
    placed: Map<string, number>,
    readonly maxBatch: number,
    freqFactors?: Float32Array,
  ) {
    const c = config;
    if (freqFactors) c.rope.freqFactors = freqFactors;
    this.nVocab = c.nVocab;
    this.nCtxTrain = c.nCtxTrain;
    const kv = c.nHeadKv * c.headDim;
    const q = c.nHead * c.headDim;
    const bind = (name: string, cols: number, rows: number) => bindWeight(g, placed, name, [cols, rows]);
    this.w = {
      tokenEmbd: bind('token_embd.weight', c.nEmbd, c.nVocab),
      outputNorm: bind('output_norm.weight', c.nEmbd, 1),
      output: g.tensorsByName.has('output.weight') ? bind('output.weight', c.nEmbd, c.nVocab) : bind('token_embd.weight', c.nEmbd, c.nVocab),
      layers: Array.from({ length: c.nLayer }, (_, i) => ({
        attnNorm: bind(`blk.${i}.attn_norm.weight`, c.nEmbd, 1),
        wq: bind(`blk.${i}.attn_q.weight`, c.nEmbd, q),
        wk: bind(`blk.${i}.attn_k.weight`, c.nEmbd, kv),
        wv: bind(`blk.${i}.attn_v.weight`, c.nEmbd, kv),
        wo: bind(`blk.${i}.attn_output.weight`, q, c.nEmbd),
        ffnNorm: bind(`blk.${i}.ffn_norm.weight`, c.nEmbd, 1),
        ffnGate: bind(`blk.${i}.ffn_gate.weight`, c.nEmbd, c.nFf),
        ffnUp: bind(`blk.${i}.ffn_up.weight`, c.nEmbd, c.nFf),
        ffnDown: bind(`blk.${i}.ffn_down.weight`, c.nFf, c.nEmbd),
      })),
    };
    this.s = this.allocScratch();
  }

  private allocScratch() {
    return allocActivations((bytes) => this.core.alloc(bytes), llamaActivations(this.config, this.maxBatch));
  }

  /** Bytes one KV cache of nCtx cells takes (K and V in f16 for every layer). */
  kvBytes(nCtx: number): number {
    return llamaKvBytesPerLayer(this.config, nCtx).reduce((a, b) => a + b, 0);
  }

  createKv(nCtx: number): KvCache {
    const c = this.config;
    // whole groups of 32 cells: attention then always spans a multiple of 32 (see forward)
    const cells = pad32(nCtx);
    const rowBytes = c.nHeadKv * c.headDim * 2;
    // each layer's cache lives in the memory group that holds the layer's weights
    const layers = this.w.layers.map((L) => {
      const group = this.core.groupOf(L.wq.ptr);
      return { k: this.core.alloc(cells * rowBytes, group), v: this.core.alloc(cells * rowBytes, group), cells };
    });
    return { size: nCtx, used: 0, layers };
  }

  forward(seqs: ForwardSeq[]): Float32Array[][] {
    const { core, config: c, w, s } = this;
    const n = batchColumns(seqs, this.maxBatch);
    if (n === 0) return seqs.map(() => []);

    // token ids and positions, column by column
    const pos = core.i32(s.pos, n);
    writeBatchColumns(seqs, core.i32(s.ids, n), pos);
    ropeCosSin(c.rope, pos, core.f32(s.cosSin, n * c.rope.nRot));
    core.broadcast(s.ids, n * 4);
    core.broadcast(s.pos, n * 4);
    core.broadcast(s.cosSin, n * c.rope.nRot * 4);

    const E = c.nEmbd;
    const qDim = c.nHead * c.headDim;
    const kvDim = c.nHeadKv * c.headDim;
    // the residual stream is the only state that crosses from one memory group to the next
    const residual = [[s.x, n * E * 4]] as const;
    core.use(core.groupOf(w.tokenEmbd.ptr));
    core.getRows(w.tokenEmbd, s.ids, n, s.x);

    for (let l = 0; l < c.nLayer; l++) {
      const L = w.layers[l];
      core.use(core.groupOf(L.wq.ptr), residual);
      // attention block
      core.rmsNorm(s.x, L.attnNorm.ptr, s.xb, E, n, c.eps);
      core.matmul(L.wq, s.xb, n, s.q);
      core.matmul(L.wk, s.xb, n, s.k);
      core.matmul(L.wv, s.xb, n, s.v);
      core.rope(s.q, n, c.nHead, c.headDim, c.rope.nRot, qDim, s.cosSin, 0);
      core.rope(s.k, n, c.nHeadKv, c.headDim, c.rope.nRot, kvDim, s.cosSin, 0);
      let c0 = 0;
      for (const seq of seqs) {
        const m = seq.tokens.length;
        const cells = s.pos + c0 * 4; // llama keeps every position: cell index = position
        const layer = seq.kv.layers[l];
        const capacity = layer.cells ?? seq.kv.size;
        core.kvStore(s.k + c0 * kvDim * 4, kvDim, layer.k, kvDim, m, cells);
        // V is kept transposed (as llama.cpp does without flash attention), one row of cells per dimension
        core.kvStore(s.v + c0 * kvDim * 4, kvDim, layer.v, kvDim, m, cells, capacity);
        // llama.cpp attends over whole blocks of cells (masked past the query), which fixes its summation lanes;
        // spanning a multiple of 32 cells gives the same lanes and groups
        const nCells = Math.min(capacity, pad32(seq.pos0 + m));
        core.attention({
          q: s.q + c0 * qDim * 4,
          qStride: qDim,
          kCache: layer.k,
          vCache: layer.v,
          out: s.attn + c0 * qDim * 4,
          outStride: qDim,
          nTokens: m,
          nHead: c.nHead,
          nHeadKv: c.nHeadKv,
          headDimK: c.headDim,
          headDimV: c.headDim,
          nCells,
          cellPos: core.identityPositions(nCells),
          qPos: cells,
          scale: c.kqScale,
          window: 0,
          softcap: 0,
          vStride: capacity,
        });
        c0 += m;
      }
      core.matmul(L.wo, s.attn, n, s.xb2);
      core.add(s.x, s.xb2, s.x, n * E);
      // feed-forward block
      core.rmsNorm(s.x, L.ffnNorm.ptr, s.xb, E, n, c.eps);
      core.matmul(L.ffnGate, s.xb, n, s.hb);
      core.matmul(L.ffnUp, s.xb, n, s.hb2);
      core.siluMul(s.hb, s.hb2, s.hb, n * c.nFf);
      core.matmul(L.ffnDown, s.hb, n, s.xb2);
      core.add(s.x, s.xb2, s.x, n * E);
    }
    for (const seq of seqs) seq.kv.used = Math.max(seq.kv.used, seq.pos0 + seq.tokens.length);

    // LM head only for the columns that want logits
    const want = logitColumns(seqs);
    core.use(core.groupOf(w.output.ptr), residual);
    if (want.length > 0) {
      const x = core.f32(s.x, n * E);
      const xb = core.f32(s.xb, want.length * E);
      want.forEach((from, to) => xb.set(x.subarray(from * E, from * E + E), to * E));
      core.rmsNorm(s.xb, w.outputNorm.ptr, s.xb, E, want.length, c.eps);
      core.matmul(w.output, s.xb, want.length, s.logits);
    }
    return splitRows(seqs, core.f32(s.logits, want.length * c.nVocab), c.nVocab);
  }
}
