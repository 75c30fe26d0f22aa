/**
 * Speculative decoding (DESIGN §5): a drafter guesses the next few tokens cheaply; the target model scores the
 * guesses in one batched forward and the sampler keeps what it agrees with (Sampler.verify). Drafts are
 * deterministic (q is one-hot), which keeps the output distribution exactly the target's.
 */
export interface Drafter {
  /** Up to `n` guesses for the tokens that follow `history` (prompt + generated so far, the last one included). */
  draft(history: readonly number[], n: number): number[];
  /** The target kept history[0 .. length); drafters with state (a KV cache) drop what came after. */
  rollback(length: number): void;
  /** Free what the drafter holds (its slot in a draft model). */
  release(): void;
  /**
   * Drafters that read the target's hidden state (Gemma 4 MTP) have this: after every target forward of the
   * sequence that yields a token, the scheduler hands over the post-final-norm hidden row that produced the last
   * token of the history (the row of the last accepted position).
   */
  observeHidden?(hidden: Float32Array): void;
}

export type SpeculativeType = 'none' | 'ngram' | 'draft' | 'mtp';

export interface SpeculativeOptions {
  type: SpeculativeType;
  /** Most tokens drafted per step. */
  nMax: number;
  /**
   * Each step's draft length (0..nMax) by measured acceptance and forward times (draft-length.ts); false: nMax
   * every step the room allows. Default true.
   */
  adaptive?: boolean;
}
