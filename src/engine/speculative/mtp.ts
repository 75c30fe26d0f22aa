/**
 * Multi-token prediction with a Gemma 4 assistant (spec gemma4.md §10.5, llama.cpp's `draft-mtp`): the assistant
 * reads the target's own KV cache, so the drafter keeps no cache and nothing to roll back; its one piece of state is
 * the target's hidden state of the row that produced the last token (`pending_h` in llama.cpp), which the scheduler
 * hands over after each target forward. A draft is the assistant's greedy chain from (last token, pending h) at the
 * target's next position.
 */
import type { Gemma4Assistant } from '../models/gemma4-assistant.ts';
import type { KvCache } from '../models/model.ts';
import type { Drafter } from './drafter.ts';

export class MtpDrafter implements Drafter {
  private pending: Float32Array | null = null;

  constructor(
    private readonly assistant: Gemma4Assistant,
    /** The target's cache of the sequence drafted for. */
    private readonly kv: KvCache,
  ) {}

  observeHidden(hidden: Float32Array): void {
    this.pending = hidden;
  }

  draft(history: readonly number[], n: number): number[] {
    // the last history token is the one the target decodes next, at position kv.used; its h must be the one handed
    // over for the row before (no h yet, or a cache that is not the history's: no draft rather than a wrong one)
    if (!this.pending || n <= 0 || history.length === 0 || this.kv.used !== history.length - 1) return [];
    return this.assistant.draft(this.kv, history[history.length - 1], this.pending, n);
  }

  rollback(): void {}

  release(): void {
    this.pending = null;
  }
}
