/**
 * The synthetic Gemma 4 target + MTP assistant pairs of the MTP parity fixtures (scripts/mtp-fixtures.ts writes them
 * for llama.cpp, test/mtp.test.ts re-creates them byte for byte from the same description).
 *
 * An assistant with random weights drafts tokens the target almost never accepts. A "bigram" assistant is rewritten
 * so that its drafts follow a table of (token → next token) pairs taken from the target's own greedy output: its
 * pre-projection maps the target embedding of each table token to a direction of its own, its LM head row of the
 * next token points along that direction, and its layers' residual contributions are scaled down so the direction
 * survives them. Drafts of table tokens then usually match the target and the others usually do not, so runs mix
 * accepted and rejected drafts; the layers (attention over the target's cache) and the hidden-state half of the
 * pre-projection still move every logit, so a wrong cache row or hidden state still changes drafts.
 */
import { createHash } from 'node:crypto';
import { makeSyntheticGemma4, makeSyntheticGemma4Assistant, type SyntheticGemma4Options } from '../../src/engine/gguf/synthetic-gemma4.ts';
import { normWeights, Random, vector } from '../../src/engine/gguf/synthetic.ts';
import { dequantize, quantize } from '../../src/engine/gguf/quantize.ts';
import { ggmlType } from '../../src/engine/gguf/types.ts';
import { encodeGguf, type GgufTensorInput, type GgufWriteSpec } from '../../src/engine/gguf/writer.ts';

export interface MtpPairSpec {
  target: SyntheticGemma4Options;
  assistant: { embd: number; layers: number; ff: number; type?: number };
  /** (token, next token) pairs the assistant is rewritten to draft; absent: random weights. */
  bigrams?: [number, number][];
}

export interface MtpPairBytes {
  target: Uint8Array;
  assistant: Uint8Array;
  /** sha256 (hex, first 16) of each file: fixtures record them, so a changed writer is named, not guessed. */
  targetHash: string;
  assistantHash: string;
}

const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16);

async function tensorValues(t: GgufTensorInput, n: number): Promise<Float32Array> {
  const data = typeof t.data === 'function' ? await t.data() : t.data;
  const chunks: Uint8Array[] = [];
  if (data instanceof Uint8Array) chunks.push(data);
  else for await (const c of data as AsyncIterable<Uint8Array>) chunks.push(c);
  const bytes = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    bytes.set(c, o);
    o += c.length;
  }
  return dequantize(t.type, bytes, n);
}

/** Solve the symmetric positive definite system M x = b in place of b (Cholesky, float64). */
function cholSolve(m: Float64Array, n: number, rhs: Float64Array[]): void {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = m[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = i === j ? Math.sqrt(s) : s / l[j * n + j];
    }
  }
  for (const b of rhs) {
    for (let i = 0; i < n; i++) {
      let s = b[i];
      for (let k = 0; k < i; k++) s -= l[i * n + k] * b[k];
      b[i] = s / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i];
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
      b[i] = s / l[i * n + i];
    }
  }
}

function tensorOf(name: string, cols: number, rows: number, type: number, values: Float32Array): GgufTensorInput {
  return { name, dims: [cols, rows], type, data: quantize(type, values) };
}

/** Rewrite a random assistant's weights so that it drafts `bigrams` (see the file comment). */
async function bigramAssistant(spec: MtpPairSpec, target: GgufWriteSpec, assistant: GgufWriteSpec): Promise<GgufWriteSpec> {
  const T = spec.target.embd;
  const A = spec.assistant.embd;
  const V = spec.target.vocab;
  const type = spec.assistant.type ?? spec.target.type;
  const pairs = new Map<number, number>();
  for (const [t, s] of spec.bigrams!) if (!pairs.has(t)) pairs.set(t, s);
  const sources = [...pairs.keys()];
  const n = sources.length;
  if (n === 0 || n >= T) throw new Error(`bigram table of ${n} tokens: need 1..${T - 1}`);
  const random = new Random(spec.target.seed, 'mtp bigram assistant');

  // the target's (scaled) input embedding of each source token: the columns of X (T × n)
  const embd = target.tensors.find((t) => t.name === 'token_embd.weight')!;
  const table = await tensorValues(embd, T * V);
  const scale = Math.fround(Math.sqrt(T));
  const X = sources.map((t) => Float64Array.from(table.subarray(t * T, (t + 1) * T), (v) => v * scale));
  // a unit direction per source token
  const U = sources.map(() => {
    const u = new Float32Array(A);
    random.fillNormal(u, 1);
    const norm = Math.hypot(...u);
    return Float64Array.from(u, (v) => v / norm);
  });
  // P (A × T) with P·x_t = c·u_t for every source: P = c·U·(XᵀX)⁻¹·Xᵀ; y = P x then has an rms of about 1
  const c = Math.sqrt(A);
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) gram[i * n + j] = X[i].reduce((a, v, k) => a + v * X[j][k], 0);
  // row r of U as a vector over sources, solved against the Gram matrix: coefficients per source
  const coef = Array.from({ length: A }, (_, r) => Float64Array.from(U, (u) => c * u[r]));
  cholSolve(gram, n, coef);
  // pre_projection rows: [P row | Q row], Q small and random (the drafts still depend on h)
  const pre = new Float32Array(A * 2 * T);
  const q = new Float32Array(A * T);
  random.fillNormal(q, 0.5 / Math.sqrt(T));
  for (let r = 0; r < A; r++) {
    const row = pre.subarray(r * 2 * T, (r + 1) * 2 * T);
    for (let i = 0; i < n; i++) for (let k = 0; k < T; k++) row[k] += coef[r][i] * X[i][k];
    row.set(q.subarray(r * T, (r + 1) * T), T);
  }
  // LM head: small random rows; the next token of each source points along its direction
  const head = new Float32Array(A * V);
  random.fillNormal(head, 0.5 / Math.sqrt(A));
  sources.forEach((t, i) => {
    const row = head.subarray(pairs.get(t)! * A, (pairs.get(t)! + 1) * A);
    for (let k = 0; k < A; k++) row[k] += U[i][k];
  });
  const replaced = new Map<string, GgufTensorInput>([
    ['nextn.pre_projection.weight', tensorOf('nextn.pre_projection.weight', 2 * T, A, type, pre)],
    ['token_embd.weight', tensorOf('token_embd.weight', A, V, type, head)],
    ['output_norm.weight', vector('output_norm.weight', normWeights(A, spec.target.seed, 'mtp output norm'))],
  ]);
  for (let i = 0; i < spec.assistant.layers; i++) {
    for (const name of [`blk.${i}.post_attention_norm.weight`, `blk.${i}.post_ffw_norm.weight`]) {
      replaced.set(name, vector(name, normWeights(A, spec.target.seed, name).map((x) => 0.2 * x)));
    }
  }
  return { ...assistant, tensors: assistant.tensors.map((t) => replaced.get(t.name) ?? t) };
}

export async function mtpPair(spec: MtpPairSpec): Promise<MtpPairBytes> {
  const target = makeSyntheticGemma4(spec.target);
  let assistant = makeSyntheticGemma4Assistant({ target: spec.target, ...spec.assistant });
  if (spec.bigrams) {
    if (!ggmlType(spec.assistant.type ?? spec.target.type)) throw new Error('unknown assistant weight type');
    assistant = await bigramAssistant(spec, target, assistant);
  }
  const t = await encodeGguf(target);
  const a = await encodeGguf(assistant);
  return { target: t, assistant: a, targetHash: hash(t), assistantHash: hash(a) };
}
