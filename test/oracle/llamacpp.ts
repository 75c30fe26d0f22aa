/**
 * llama.cpp native (node-llama-cpp 3.22.1) as the independent oracle: greedy tokens and raw logits for a prompt given
 * as token ids, so tokenization differences can never hide a forward-pass difference.
 *
 * Flash attention is off: llama.cpp's non-flash CPU path is the one our attention kernel reproduces.
 */
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;
function llama(): Promise<Llama> {
  llamaPromise ??= getLlama({ build: 'never', gpu: false, logLevel: 'error' as never, maxThreads: 0 });
  return llamaPromise;
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

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
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
     * differently from its single-token path for some weight types (other matmul kernels); our kernels give the
     * single-token numbers at every batch size, so this makes the whole run comparable bit for bit.
     */
    promptByToken?: boolean;
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
      const next = argmax(lastLogits);
      tokens.push(next);
      input = [next];
    }
    return { tokens, lastLogits, firstLogits: firstLogits ?? lastLogits };
  } finally {
    await context.dispose();
  }
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
