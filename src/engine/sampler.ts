/**
 * Turning logits into the next token, in llama.cpp's order: logit bias → penalties → (greedy) | top-k → top-p →
 * min-p → temperature → draw. Greedy (temperature 0) takes the first maximum, as llama.cpp's greedy sampler does.
 */
import type { SamplingParams, TokenLogprob } from './api.ts';

/** Seeded PRNG (xoshiro128**): reproducible draws for a given seed on every host. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    // splitmix32 spreads one seed over the 128-bit state
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = logits[0];
  for (let i = 1; i < logits.length; i++) {
    if (logits[i] > bestValue) {
      bestValue = logits[i];
      best = i;
    }
  }
  return best;
}

/** log-softmax of one entry, computed stably over the whole vector. */
export function logSoftmaxStats(logits: Float32Array): { max: number; logSum: number } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return { max, logSum: Math.log(sum) };
}

/** The n most likely tokens of a logit vector with their log-probabilities (for OpenAI logprobs). */
export function topLogprobs(
  logits: Float32Array,
  n: number,
  text: (id: number) => string,
): { stats: { max: number; logSum: number }; top: TokenLogprob[] } {
  const stats = logSoftmaxStats(logits);
  const ids = topKIndices(logits, n);
  return {
    stats,
    top: ids.map((id) => ({ id, text: text(id), logprob: logits[id] - stats.max - stats.logSum })),
  };
}

/** Indices of the k largest values, largest first (ties: lower id first). */
export function topKIndices(values: Float32Array, k: number): number[] {
  k = Math.min(k, values.length);
  if (k <= 0) return [];
  // a small min-heap of the best k seen so far: O(n log k) instead of sorting the whole vocabulary
  const heap: number[] = [];
  const worse = (a: number, b: number) => values[a] < values[b] || (values[a] === values[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l], heap[m])) m = l;
      if (r < heap.length && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let id = 0; id < values.length; id++) {
    if (heap.length < k) {
      heap.push(id);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    } else if (worse(heap[0], id)) {
      heap[0] = id;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (values[b] - values[a]) || a - b);
}

/** Per-sequence sampling state: the parameters, the RNG and the recent tokens the penalties look at. */
export class Sampler {
  private readonly rng: Rng;
  private readonly recent: number[] = [];

  constructor(
    readonly params: SamplingParams,
    history: readonly number[] = [],
  ) {
    this.rng = new Rng(params.seed ?? (Math.random() * 2 ** 32) >>> 0);
    for (const t of history) this.remember(t);
  }

  /** Record a token the sequence has seen (prompt or generated), for the penalties. */
  remember(token: number): void {
    if (this.params.repeatLastN === 0) return;
    this.recent.push(token);
    const window = this.params.repeatLastN < 0 ? Infinity : this.params.repeatLastN;
    if (this.recent.length > window) this.recent.shift();
  }

  /** Apply bias and penalties in place; returns the (same) array. */
  adjust(logits: Float32Array): Float32Array {
    const p = this.params;
    if (p.logitBias) for (const [id, bias] of Object.entries(p.logitBias)) logits[Number(id)] += bias;
    const penalise = p.repeatPenalty !== 1 || p.frequencyPenalty !== 0 || p.presencePenalty !== 0;
    if (penalise && this.recent.length > 0) {
      const counts = new Map<number, number>();
      for (const t of this.recent) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [id, count] of counts) {
        // as llama.cpp: the repeat penalty pushes a logit towards "less likely" whatever its sign
        if (logits[id] <= 0) logits[id] *= p.repeatPenalty;
        else logits[id] /= p.repeatPenalty;
        logits[id] -= count * p.frequencyPenalty + (count > 0 ? p.presencePenalty : 0);
      }
    }
    return logits;
  }

  /**
   * The distribution the next token is drawn from, given adjusted logits: greedy → all mass on the first maximum;
   * otherwise top-k → top-p → min-p on the temperature-1 softmax (as llama.cpp orders them), then temperature.
   */
  distribution(logits: Float32Array): Distribution {
    const p = this.params;
    if (p.temperature <= 0) return { ids: [argmax(logits)], probs: [1] };
    let ids: number[];
    if (p.topK > 0) ids = topKIndices(logits, p.topK);
    else {
      ids = Array.from({ length: logits.length }, (_, i) => i);
      ids.sort((a, b) => logits[b] - logits[a] || a - b);
    }
    const max = logits[ids[0]];
    let weights = ids.map((id) => Math.exp(logits[id] - max));
    if (p.topP < 1) {
      const sum = weights.reduce((a, b) => a + b, 0);
      let cum = 0;
      let keep = ids.length;
      for (let i = 0; i < ids.length; i++) {
        cum += weights[i] / sum;
        if (cum >= p.topP) {
          keep = i + 1;
          break;
        }
      }
      ids = ids.slice(0, keep);
      weights = weights.slice(0, keep);
    }
    if (p.minP > 0) {
      // weights are relative to the max (weights[0] = 1), so the threshold is minP itself
      let keep = 1;
      while (keep < ids.length && weights[keep] >= p.minP) keep++;
      ids = ids.slice(0, keep);
    }
    const probs = ids.map((id) => Math.exp((logits[id] - max) / p.temperature));
    const sum = probs.reduce((a, b) => a + b, 0);
    return { ids, probs: probs.map((x) => x / sum) };
  }

  /** Draw from a distribution with this sampler's RNG. */
  draw(d: Distribution): number {
    if (d.ids.length === 1) return d.ids[0];
    let r = this.rng.next();
    for (let i = 0; i < d.ids.length; i++) {
      r -= d.probs[i];
      if (r < 0) return d.ids[i];
    }
    return d.ids[d.ids.length - 1];
  }

  /** Adjust, draw, and remember the choice. */
  sample(logits: Float32Array): number {
    const id = this.draw(this.distribution(this.adjust(logits)));
    this.remember(id);
    return id;
  }

  /**
   * Speculative verification (Leviathan et al. / Chen et al., with a deterministic draft, i.e. q = one-hot):
   * rows[i] are the target's logits after the context and draft[0..i-1]. Draft token i is accepted with
   * probability p(draft[i]); on rejection the token is drawn from p with draft[i] removed (the residual
   * max(p − q, 0) renormalised); if every draft token is accepted, one more is drawn from the last row. The
   * emitted tokens are therefore distributed exactly as plain sampling would give; greedy keeps the longest
   * agreeing prefix plus the target's own next token. Returns the emitted tokens (accepted drafts + 1).
   */
  verify(rows: Float32Array[], draft: readonly number[]): number[] {
    const out: number[] = [];
    for (let i = 0; i <= draft.length; i++) {
      const dist = this.distribution(this.adjust(rows[i]));
      if (i === draft.length) {
        out.push(this.draw(dist));
      } else {
        const d = draft[i];
        const at = dist.ids.indexOf(d);
        const pd = at < 0 ? 0 : dist.probs[at];
        if (pd >= 1 || (pd > 0 && this.rng.next() < pd)) {
          out.push(d);
          this.remember(d);
          continue;
        }
        out.push(this.draw(at < 0 ? dist : withoutToken(dist, at)));
      }
      this.remember(out[out.length - 1]);
      break;
    }
    return out;
  }
}

export interface Distribution {
  ids: number[];
  probs: number[];
}

function withoutToken(d: Distribution, at: number): Distribution {
  const rest = 1 - d.probs[at];
  const ids = d.ids.filter((_, i) => i !== at);
  const probs = d.probs.filter((_, i) => i !== at).map((x) => x / rest);
  return { ids, probs };
}
