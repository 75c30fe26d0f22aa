/**
 * Adaptive draft length (`speculative.adaptive`): n_max becomes a ceiling and each step drafts the length with the
 * best expected tokens per unit of time, from what this request has measured so far:
 *   - a, the chance a drafted token is accepted given the ones before it were (a geometric model: of a draft of n,
 *     the first rejection ends the run), estimated from recent drafts with older ones decaying;
 *   - the time of a target forward of 1 + n tokens, timed on steps where this request was alone in the batch, and
 *     the drafter's own time per drafted token.
 * A draft of n yields 1 + a + ... + a^n tokens on average; it costs the (1 + n)-token forward plus n drafted tokens.
 * Drafting 0 (a plain step) wins when verification costs more than acceptance repays: on a compute-bound host a
 * wider forward is not free, and a low acceptance makes speculation slower than plain decoding. While drafting is
 * off, every PROBE-th step drafts one token, so that the estimates follow the text.
 * The choice only changes how many tokens are proposed, never which are kept: output stays the target's.
 */
const DECAY = 0.9;
const PROBE = 8;

export class DraftLength {
  /** decayed accepted drafted tokens / decayed Bernoulli trials (a rejection is a trial too) */
  private hits = 1;
  private trials = 2;
  /** forward ms by width (1 + drafts), exponentially averaged; 0: not timed yet */
  private readonly forwardMs: number[];
  private draftMsPerToken = 0;
  private plainSteps = 0;

  constructor(readonly nMax: number) {
    this.forwardMs = new Array(nMax + 2).fill(0);
  }

  /** Per-token acceptance estimate. */
  get acceptance(): number {
    return this.hits / this.trials;
  }

  /** The draft length for the next step, 0..min(nMax, room). */
  choose(room: number): number {
    const limit = Math.min(this.nMax, room);
    if (limit <= 0) return 0;
    const base = this.forwardMs[1];
    if (base === 0) return limit; // nothing timed yet: draft, and learn
    const a = this.acceptance;
    let best = 0, bestRate = 1 / base;
    let expected = 1;
    for (let n = 1; n <= limit; n++) {
      expected += a ** n;
      // an untimed width is assumed to cost what the widest timed one below it costs per extra token
      const ms = this.costOf(n) + n * this.draftMsPerToken;
      const rate = expected / ms;
      if (rate > bestRate) {
        best = n;
        bestRate = rate;
      }
    }
    if (best === 0 && ++this.plainSteps % PROBE === 0) return 1;
    if (best > 0) this.plainSteps = 0;
    return best;
  }

  /** A step's outcome: drafted and accepted counts; forwardMs when the request was alone in its forward. */
  observe(drafted: number, accepted: number, forwardMs?: number, draftMs?: number): void {
    if (drafted > 0) {
      this.hits = this.hits * DECAY + accepted;
      this.trials = this.trials * DECAY + accepted + (accepted < drafted ? 1 : 0);
      if (draftMs !== undefined) this.draftMsPerToken = average(this.draftMsPerToken, draftMs / drafted);
    }
    if (forwardMs !== undefined && forwardMs > 0) {
      const w = 1 + drafted;
      this.forwardMs[w] = average(this.forwardMs[w], forwardMs);
    }
  }

  private costOf(n: number): number {
    const w = 1 + n;
    if (this.forwardMs[w] > 0) return this.forwardMs[w];
    let lo = w - 1;
    while (lo > 1 && this.forwardMs[lo] === 0) lo--;
    const perToken = lo > 1 ? (this.forwardMs[lo] - this.forwardMs[1]) / (lo - 1) : 0.25 * this.forwardMs[1];
    return this.forwardMs[lo] + (w - lo) * Math.max(0, perToken);
  }
}

const average = (old: number, sample: number): number => (old === 0 ? sample : old * 0.8 + sample * 0.2);
