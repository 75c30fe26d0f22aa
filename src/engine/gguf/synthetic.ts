/**
 * Synthetic llama-architecture models of any shape and weight type, for tests and benchmarks: seeded random weights
 * scaled so activations stay O(1) through many layers, and a SentencePiece ("llama") vocabulary laid out as llama.cpp
 * expects (spec gguf.md §5). The result is a GgufWriteSpec whose tensors are produced row-chunk by row-chunk when the
 * writer reaches them, so even a ~7 GB model is written with bounded memory.
 */
import { GGML_TYPE, GGUF_TYPE, ggmlType } from './types.ts';
import { dequantize, quantize } from './quantize.ts';
import { gv, type GgufTensorInput, type GgufTypedValue, type GgufWriteSpec } from './writer.ts';

export interface SyntheticLlamaOptions {
  /** ggml type of the big matrices (attention, FFN, token_embd, output). Norms are always F32. */
  type: number;
  embd: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ff: number;
  /** At least 260: 3 control tokens, 256 byte tokens, then pieces. */
  vocab: number;
  ctx: number;
  seed: number;
  /** Type of token_embd.weight (default: `type`). */
  embdType?: number;
  /** No output.weight: llama.cpp then uses token_embd as the LM head. */
  tiedOutput?: boolean;
  /** Add rope_freqs.weight (Llama-3-style per-frequency factors). */
  ropeFreqs?: boolean;
  ropeFreqBase?: number;
  rmsEps?: number;
  name?: string;
  /**
   * Store each big matrix as F32 holding exactly its dequantized `type` values: the F32 twin of the quantized model
   * (same seed → same effective weights), to check a quantized path against an F32 one.
   */
  f32Twin?: boolean;
}

// ---- seeded random numbers ----------------------------------------------------------------------------------------

/** sfc32: small, fast, good enough for weights; seeded from a string so each tensor has its own stream. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: string) {
    let h = 0x811c9dc5 ^ seed;
    const mix = () => {
      for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193);
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
      h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
      return (h ^= h >>> 15) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.uniform();
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /**
   * Fill with N(0, std²) samples, two per 32-bit draw, from a table of 65,536 normal quantiles. Generation is the hot
   * loop of writing a big model, and a table lookup is ~10x faster than Box–Muller's log, sqrt, cos and sin; 65,536
   * levels (tails to ±4.3σ) are indistinguishable from a continuous Gaussian for random weights.
   */
  fillNormal(x: Float32Array, std: number): void {
    const table = normalQuantiles();
    const n = x.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const t = this.u32();
      x[i] = std * table[t & 0xffff];
      x[i + 1] = std * table[t >>> 16];
    }
    if (i < n) x[i] = std * table[this.u32() & 0xffff];
  }
}

let quantiles: Float64Array | undefined;

/** Φ⁻¹((i + ½) / 65536) for i < 65536, by integrating the normal density (Simpson) and inverting the running sum. */
function normalQuantiles(): Float64Array {
  if (quantiles) return quantiles;
  const levels = 1 << 16;
  const lo = -9;
  const h = 1 / 2048;
  const steps = (2 * -lo) / h;
  const pdf = (z: number) => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  const table = new Float64Array(levels);
  let cdf = 0; // Φ(lo) is ~1e-19: zero for our purposes
  let k = 0;
  for (let s = 0; s < steps && k < levels; s++) {
    const z0 = lo + s * h;
    const step = (h / 6) * (pdf(z0) + 4 * pdf(z0 + h / 2) + pdf(z0 + h));
    while (k < levels && (k + 0.5) / levels <= cdf + step) {
      table[k] = z0 + (h * ((k + 0.5) / levels - cdf)) / step; // linear within the step
      k++;
    }
    cdf += step;
  }
  quantiles = table;
  return table;
}

// ---- vocabulary ---------------------------------------------------------------------------------------------------

const SPACE = '\u2581'; // SentencePiece's "▁"
const TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_BYTE = 6;

export interface SyntheticVocab {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
}

/**
 * `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0xXX>`, then pieces: single characters first, then ▁-prefixed
 * words and subwords built by joining earlier pieces, with scores 0, −1, −2, … so earlier pieces merge first.
 */
export function syntheticVocab(size: number, seed: number): SyntheticVocab {
  if (!Number.isInteger(size) || size < 260) throw new Error(`vocabulary size ${size} must be an integer >= 260`);
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_BYTE);
  }
  const want = size - tokens.length;
  const pieces: string[] = [];
  const seen = new Set<string>();
  const add = (p: string) => {
    if (pieces.length < want && !seen.has(p)) {
      seen.add(p);
      pieces.push(p);
    }
  };
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  for (const ch of SPACE + letters) add(ch);
  for (const ch of 'ETAOINSHRDLUCMFWYPVBGKJQXZ0123456789.,!?\'"-:;()') add(ch);
  for (const ch of letters) add(SPACE + ch);
  const random = new Random(seed, 'vocab');
  const pick = (n: number) => Math.floor(random.uniform() * n);
  // Join two earlier pieces, preferring early (short, frequent) ones; "▁" only ever starts a piece.
  for (let tries = 0; pieces.length < want && tries < want * 200; tries++) {
    const reach = Math.min(pieces.length, 32 + pieces.length / 2);
    const left = pieces[pick(reach)];
    const right = pieces[pick(reach)];
    if (right.startsWith(SPACE) || left === SPACE) continue;
    const joined = left + right;
    if (joined.length <= 12) add(joined);
  }
  // Very large vocabularies outgrow the joining rule: fill up with numbered words.
  for (let i = 0; pieces.length < want; i++) add(`${SPACE}w${i}`);
  for (const p of pieces) {
    tokens.push(p);
    types.push(TOKEN_NORMAL);
  }
  const scores = new Float32Array(size);
  for (let i = 0; i < pieces.length; i++) scores[259 + i] = -i;
  return { tokens, scores, types: Int32Array.from(types) };
}

// ---- tensors ------------------------------------------------------------------------------------------------------

// llama_ftype values for general.file_type (informational: llama.cpp prints it).
export const fileTypeOf: Record<number, number> = {
  [GGML_TYPE.F32]: 0, [GGML_TYPE.F16]: 1, [GGML_TYPE.Q4_0]: 2, [GGML_TYPE.Q4_1]: 3, [GGML_TYPE.Q8_0]: 7,
  [GGML_TYPE.Q4_K]: 15, [GGML_TYPE.Q5_K]: 17, [GGML_TYPE.Q6_K]: 18, [GGML_TYPE.BF16]: 32,
};

const CHUNK_VALUES = 1 << 20; // values generated per chunk: bounds memory whatever the tensor size

/**
 * A [cols, rows] matrix with N(0, std²) entries, encoded as `type`, produced a few rows at a time.
 * `twin` stores them as F32 holding the dequantized `type` values instead.
 */
export function matrix(
  name: string, cols: number, rows: number, type: number, std: number, seed: number, twin: boolean, rowScales?: Float32Array,
): GgufTensorInput {
  const t = ggmlType(type)!;
  if (cols % t.blockSize !== 0) {
    throw new Error(`${name}: rows of ${cols} values cannot be stored as ${t.name} (block size ${t.blockSize})`);
  }
  return {
    name,
    dims: [cols, rows],
    type: twin ? GGML_TYPE.F32 : type,
    data: function* () {
      const random = new Random(seed, name);
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK_VALUES / cols));
      for (let r = 0; r < rows; r += rowsPerChunk) {
        const nRows = Math.min(rowsPerChunk, rows - r);
        const n = nRows * cols;
        const x = new Float32Array(n);
        if (rowScales) {
          for (let i = 0; i < nRows; i++) random.fillNormal(x.subarray(i * cols, (i + 1) * cols), std * rowScales[r + i]);
        } else {
          random.fillNormal(x, std);
        }
        yield twin ? quantize(GGML_TYPE.F32, dequantize(type, quantize(type, x), n)) : quantize(type, x);
      }
    },
  };
}

export function vector(name: string, values: Float32Array): GgufTensorInput {
  return { name, dims: [values.length], type: GGML_TYPE.F32, data: new Uint8Array(values.buffer) };
}

export function normWeights(n: number, seed: number, name: string): Float32Array {
  const w = new Float32Array(n);
  new Random(seed, name).fillNormal(w, 1);
  // around 1, never near 0: a non-trivial scale still exercises the norm's weight multiply
  for (let i = 0; i < n; i++) w[i] = 1 + 0.1 * Math.max(-3, Math.min(3, w[i]));
  return w;
}

export function makeSyntheticLlama(o: SyntheticLlamaOptions): GgufWriteSpec {
  for (const [k, v] of Object.entries({ embd: o.embd, layers: o.layers, heads: o.heads, kvHeads: o.kvHeads, ff: o.ff, ctx: o.ctx })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} must be a positive integer, got ${v}`);
  }
  if (o.embd % o.heads !== 0) throw new Error(`embd ${o.embd} is not a multiple of heads ${o.heads}`);
  if (o.heads % o.kvHeads !== 0) throw new Error(`heads ${o.heads} is not a multiple of kv-heads ${o.kvHeads}`);
  const headDim = o.embd / o.heads;
  if (headDim % 2 !== 0) throw new Error(`head dimension ${headDim} must be even for RoPE`);
  if (!ggmlType(o.type)) throw new Error(`unknown weight type ${o.type}`);
  const vocab = syntheticVocab(o.vocab, o.seed);
  const embdType = o.embdType ?? o.type;
  const kvDim = o.kvHeads * headDim;
  const seed = o.seed;
  const twin = o.f32Twin ?? false;
  // N(0, 1/in): each output is a sum of `in` unit-scale terms, so it stays O(1)
  const w = (name: string, cols: number, rows: number) => matrix(name, cols, rows, o.type, 1 / Math.sqrt(cols), seed, twin);

  const tensors: GgufTensorInput[] = [
    matrix('token_embd.weight', o.embd, o.vocab, embdType, 1, seed, twin),
    vector('output_norm.weight', normWeights(o.embd, seed, 'output_norm.weight')),
  ];
  // LM-head rows scaled by e^N(0,1): with plain Gaussian rows the top two logits of a 1k vocabulary are within 1% of
  // the logit spread in ~3% of steps; heavy-tailed row norms make that ~10x rarer, so greedy decoding has a clear
  // winner far above any rounding difference between implementations (a near-tie would make comparisons flaky).
  const headScales = new Float32Array(o.vocab);
  new Random(seed, 'lm head row scales').fillNormal(headScales, 1);
  for (let i = 0; i < o.vocab; i++) headScales[i] = Math.exp(headScales[i]);
  tensors[0] = matrix('token_embd.weight', o.embd, o.vocab, embdType, 1, seed, twin, o.tiedOutput ? headScales : undefined);
  if (!o.tiedOutput) tensors.push(matrix('output.weight', o.embd, o.vocab, o.type, 1 / Math.sqrt(o.embd), seed, twin, headScales));
  if (o.ropeFreqs) {
    const factors = new Float32Array(headDim / 2);
    // Llama-3 style: high frequencies untouched (1), low frequencies stretched up to 8x
    for (let i = 0; i < factors.length; i++) factors[i] = 1 + (7 * i) / Math.max(1, factors.length - 1);
    tensors.push(vector('rope_freqs.weight', factors));
  }
  for (let b = 0; b < o.layers; b++) {
    const p = `blk.${b}.`;
    tensors.push(
      vector(`${p}attn_norm.weight`, normWeights(o.embd, seed, `${p}attn_norm.weight`)),
      w(`${p}attn_q.weight`, o.embd, o.embd),
      w(`${p}attn_k.weight`, o.embd, kvDim),
      w(`${p}attn_v.weight`, o.embd, kvDim),
      w(`${p}attn_output.weight`, o.embd, o.embd),
      vector(`${p}ffn_norm.weight`, normWeights(o.embd, seed, `${p}ffn_norm.weight`)),
      w(`${p}ffn_gate.weight`, o.embd, o.ff),
      w(`${p}ffn_up.weight`, o.embd, o.ff),
      w(`${p}ffn_down.weight`, o.ff, o.embd),
    );
  }

  const metadata: [string, GgufTypedValue][] = [
    ['general.architecture', gv.str('llama')],
    ['general.name', gv.str(o.name ?? `synthetic-llama-${ggmlType(o.type)!.name}`)],
    ['general.file_type', gv.u32(twin ? 0 : (fileTypeOf[o.type] ?? 0))],
    ['llama.context_length', gv.u32(o.ctx)],
    ['llama.embedding_length', gv.u32(o.embd)],
    ['llama.feed_forward_length', gv.u32(o.ff)],
    ['llama.block_count', gv.u32(o.layers)],
    ['llama.attention.head_count', gv.u32(o.heads)],
    ['llama.attention.head_count_kv', gv.u32(o.kvHeads)],
    ['llama.rope.dimension_count', gv.u32(headDim)],
    ['llama.rope.freq_base', gv.f32(o.ropeFreqBase ?? 10000)],
    ['llama.attention.layer_norm_rms_epsilon', gv.f32(o.rmsEps ?? 1e-5)],
    ['llama.vocab_size', gv.u32(o.vocab)],
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.tokens', gv.array(GGUF_TYPE.STRING, vocab.tokens)],
    ['tokenizer.ggml.scores', gv.array(GGUF_TYPE.FLOAT32, vocab.scores)],
    ['tokenizer.ggml.token_type', gv.array(GGUF_TYPE.INT32, vocab.types)],
    ['tokenizer.ggml.unknown_token_id', gv.u32(0)],
    ['tokenizer.ggml.bos_token_id', gv.u32(1)],
    ['tokenizer.ggml.eos_token_id', gv.u32(2)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ['tokenizer.ggml.add_eos_token', gv.bool(false)],
  ];
  return { metadata, tensors };
}
