/**
 * Prompt lookup (n-gram) drafting: find the most recent earlier occurrence of the longest suffix of the history
 * (n from nGramMax down to nGramMin tokens) and propose the tokens that followed it. Free to compute, and strong on
 * repetitive text (code edits, quoting, structured output).
 */
import type { Drafter } from './drafter.ts';

export class NgramDrafter implements Drafter {
  constructor(
    private readonly nGramMax = 4,
    private readonly nGramMin = 1,
  ) {}

  draft(history: readonly number[], n: number): number[] {
    const len = history.length;
    for (let g = Math.min(this.nGramMax, len - 1); g >= this.nGramMin; g--) {
      // the suffix history[len-g .. len) searched for right to left, excluding itself
      for (let start = len - g - 1; start >= 0; start--) {
        let match = true;
        for (let j = 0; j < g; j++) {
          if (history[start + j] !== history[len - g + j]) {
            match = false;
            break;
          }
        }
        if (!match) continue;
        const from = start + g;
        const out = history.slice(from, Math.min(from + n, len));
        if (out.length > 0) return out;
      }
    }
    return [];
  }

  rollback(): void {}
  release(): void {}
}
