/**
 * llama.cpp native (node-llama-cpp 3.22.1) as the independent oracle: greedy tokens and raw logits for a prompt given
 * as token ids, so tokenization differences can never hide a forward-pass difference.
 *
 * Flash attention is off: llama.cpp's non-flash CPU path is the one our attention kernel reproduces.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;
/** llama.cpp for the oracle tests, on its AVX2 + FMA CPU build (see withHaswellBuild). */
function llama(): Promise<Llama> {
  llamaPromise ??= withHaswellBuild(() => getLlama({ build: 'never', gpu: false, logLevel: 'error' as never, maxThreads: 0 }));
  return llamaPromise;
}

/**
 * hearth reproduces the kernels of llama.cpp's AVX2 + FMA CPU build (ggml's "haswell" variant). node-llama-cpp's
 * prebuilt folder holds a dozen CPU variants and ggml loads the best one the CPU runs, so on an AVX-512 machine it
 * takes "zen4" or "skylakex", which sum in other orders. node-llama-cpp looks for a binary in its own
 * bins/<platform> folder before the prebuilt package, so on x64 Linux `load` runs with that folder present, made of
 * links to the prebuilt files minus every other CPU variant; the folder goes once the libraries are loaded (the
 * benches, which want the fastest native build, never see it).
 */
async function withHaswellBuild<T>(load: () => Promise<T>): Promise<T> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return load();
  // @ts-ignore: the platform package has no types
  const { getBinsDir } = (await import('@node-llama-cpp/linux-x64')) as { getBinsDir(): { binsDir: string } };
  const prebuilt = join(getBinsDir().binsDir, 'linux-x64');
  const own = join(dirname(dirname(fileURLToPath(import.meta.resolve('node-llama-cpp')))), 'bins', 'linux-x64');
  if (!existsSync(join(prebuilt, 'libggml-cpu-haswell.so')) || existsSync(own)) return load();
  mkdirSync(own, { recursive: true });
  try {
    for (const f of readdirSync(prebuilt)) {
      if (/^libggml-cpu-.*\.so$/.test(f) && f !== 'libggml-cpu-haswell.so') continue;
      symlinkSync(join(prebuilt, f), join(own, f));
    }
    return await load();
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
}

export interface OracleRun {
  /** Generated token ids (greedy on raw logits, ties to the lowest id as llama.cpp's greedy sampler). */
  tokens: number[];
  /** Raw logits of the last step (the distribution that chose tokens[n-1]). */
  lastLogits: Float32Array;
  /** Raw logits of the first step (after the prompt). */
  firstLogits: Float32Array;
}

const models = new Map<string, Promise<LlamaModel>>();
function loadModel(path: string): Promise<LlamaModel> {
  let m = models.get(path);
  if (!m) {
    m = llama().then((l) => l.loadModel({ modelPath: path, gpuLayers: 0 }));
    models.set(path, m);
  }
  return m;
}

function toArray(logits: Map<number, number>, nVocab: number): Float32Array {
  const out = new Float32Array(nVocab);
  for (const [id, v] of logits) out[id] = v;
  return out;
}

function argmax(x: Float32Array, banned: ReadonlySet<number>): number {
  let best = -1;
  for (let i = 0; i < x.length; i++) if (!banned.has(i) && (best < 0 || x[i] > x[best])) best = i;
  return best;
}

export async function llamacppGreedy(
  modelPath: string,
  prompt: number[],
  nTokens: number,
  options: {
    threads?: number;
    contextSize?: number;
    /**
     * Evaluate the prompt one token per decode call instead of as one batch. llama.cpp's multi-token path rounds
     * differently from its single-token path: with two or more query tokens the attention's F16 mul_mats (K·q, V·p)
     * and F32/F16/BF16 weights go through llamafile's tinyBLAS (one 8-lane FMA accumulator over k, where
     * ggml_vec_dot_* keeps 4 x 8 lanes), and repacked Q4_K weights through ggml_gemm_q4_K_8x8_q8_K (one FMA per 64
     * values, where the single-token gemv takes one per 256); Q8_0, Q4_0, Q4_1, Q5_K and Q6_K weights give the same
     * numbers either way. Our kernels give the single-token numbers at every batch size (a token's logits must not
     * depend on what it is batched with), so this makes a run comparable bit for bit.
     */
    promptByToken?: boolean;
    /**
     * Ids the greedy pick skips, as llama.cpp's common sampler does for tokenizer.ggml.suppress_tokens (a −∞ logit
     * bias before anything else). The returned logits stay raw, as llama_get_logits gives them.
     */
    suppressTokens?: number[];
  } = {},
): Promise<OracleRun> {
  const model = await loadModel(modelPath);
  const vocab = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
  const context = await model.createContext({
    contextSize: options.contextSize ?? Math.max(256, prompt.length + nTokens + 8),
    threads: options.threads ?? 1,
    flashAttention: false,
    batchSize: 512,
    sequences: 1,
  });
  try {
    const sequence = context.getSequence();
    const tokens: number[] = [];
    const banned = new Set(options.suppressTokens ?? []);
    let firstLogits: Float32Array | undefined;
    let lastLogits: Float32Array = new Float32Array(0);
    let input: number[] = prompt;
    if (options.promptByToken) {
      for (const t of prompt.slice(0, -1)) await sequence.controlledEvaluate([t] as never);
      input = prompt.slice(-1);
    }
    for (let step = 0; step < nTokens; step++) {
      const items = input.map((t, i) =>
        i === input.length - 1 ? ([t, { generateNext: { logits: true } }] as [number, { generateNext: { logits: true } }]) : t,
      );
      const results = await sequence.controlledEvaluate(items as never);
      const last = results[results.length - 1];
      if (!last?.next?.logits) throw new Error('node-llama-cpp returned no logits');
      lastLogits = toArray(last.next.logits, vocab);
      firstLogits ??= lastLogits;
      const next = argmax(lastLogits, banned);
      tokens.push(next);
      input = [next];
    }
    return { tokens, lastLogits, firstLogits: firstLogits ?? lastLogits };
  } finally {
    await context.dispose();
  }
}

/**
 * The CPU features of the ggml CPU backend node-llama-cpp loaded (it picks the best of its builds for this CPU).
 * hearth reproduces the AVX2 + FMA build's kernels (GGML "haswell"); an AVX-512 build sums in other orders.
 */
export async function llamacppCpuFeatures(): Promise<string> {
  return (await llama()).systemInfo;
}

export async function llamacppTokenize(modelPath: string, text: string): Promise<number[]> {
  const model = await loadModel(modelPath);
  return [...model.tokenize(text)];
}

export async function disposeOracle(): Promise<void> {
  for (const m of models.values()) await (await m).dispose();
  models.clear();
  if (llamaPromise) await (await llamaPromise).dispose();
  llamaPromise = undefined;
}
