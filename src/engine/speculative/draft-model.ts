/**
 * A separate, smaller draft model sharing the target's vocabulary: it keeps its own KV cache per slot, catches up on
 * the tokens the target accepted, and proposes its greedy continuation.
 */
import { argmax } from '../sampler.ts';
import type { ArchModel, KvCache } from '../models/model.ts';
import type { Drafter } from './drafter.ts';

export class DraftModelDrafter implements Drafter {
  private readonly kv: KvCache;
  /** history[0 .. seen) is in the draft KV cache. */
  private seen = 0;
  private fed: number[] = [];

  constructor(
    private readonly model: ArchModel,
    contextSize: number,
    kv?: KvCache,
  ) {
    this.kv = kv ?? model.createKv(contextSize);
  }

  draft(history: readonly number[], n: number): number[] {
    // forget anything the draft model saw that is no longer the history (after a rejection)
    let keep = Math.min(this.seen, history.length);
    for (let i = 0; i < keep; i++) {
      if (this.fed[i] !== history[i]) {
        keep = i;
        break;
      }
    }
    // the draft model needs logits after the last history token, so that token is always (re)fed
    if (keep === history.length) keep--;
    this.seen = Math.max(0, keep);
    this.fed.length = this.seen;
    const room = this.kv.size - history.length;
    n = Math.min(n, room);
    if (n <= 0) return [];
    // catch up in chunks, then one token at a time
    let logits: Float32Array | undefined;
    while (this.seen < history.length) {
      const chunk = history.slice(this.seen, Math.min(history.length, this.seen + this.model.maxBatch));
      const last = this.seen + chunk.length === history.length;
      [[logits]] = this.model.forward([{ kv: this.kv, tokens: chunk, pos0: this.seen, logits: last ? 'last' : 'none' }]);
      this.fed.push(...chunk);
      this.seen += chunk.length;
    }
    const out: number[] = [];
    while (logits && out.length < n) {
      const t = argmax(logits);
      out.push(t);
      if (out.length === n) break;
      [[logits]] = this.model.forward([{ kv: this.kv, tokens: [t], pos0: this.seen, logits: 'last' }]);
      this.fed.push(t);
      this.seen++;
    }
    return out;
  }

  rollback(length: number): void {
    if (this.seen > length) {
      this.seen = length;
      this.fed.length = length;
    }
  }

  release(): void {}
}
