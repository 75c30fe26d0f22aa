/**
 * The two merge loops. Both start from one symbol per code point and repeatedly merge the best adjacent pair:
 * - SentencePiece (LC:src/llama-vocab.cpp `llm_tokenizer_spm_session`): a pair qualifies when its concatenation is a
 *   vocabulary token; best = highest token score.
 * - BPE (`llm_tokenizer_bpe_session`): a pair qualifies when "left right" is in the merges list; best = lowest rank.
 * Ties go to the leftmost pair. Symbols are spans of one JS string (UTF-16 offsets), linked as a list; a merge grows
 * the left span and unlinks the right one, so a queued pair is still valid exactly when both spans still have the
 * lengths they had when it was queued.
 */

import { TokenizerError } from './errors.ts';
import { PairQueue } from './pair-queue.ts';
import { utf8Encode } from './unicode.ts';
import { NO_TOKEN, type Vocab } from './vocab.ts';

class Symbols {
  start: Int32Array;
  len: Int32Array;
  next: Int32Array;
  prev: Int32Array;
  count = 0;

  constructor(text: string) {
    const n = text.length;
    this.start = new Int32Array(n);
    this.len = new Int32Array(n);
    this.next = new Int32Array(n);
    this.prev = new Int32Array(n);
    for (let i = 0; i < n; ) {
      const c = text.charCodeAt(i);
      const units = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
      this.start[this.count] = i;
      this.len[this.count] = units;
      this.count++;
      i += units;
    }
    for (let k = 0; k < this.count; k++) {
      this.prev[k] = k - 1;
      this.next[k] = k + 1 < this.count ? k + 1 : -1;
    }
  }

  text(source: string, k: number): string {
    return source.substr(this.start[k], this.len[k]);
  }

  /** Merge k's right neighbour into k. */
  mergeRight(k: number): void {
    const r = this.next[k];
    this.len[k] += this.len[r];
    this.len[r] = 0;
    this.next[k] = this.next[r];
    if (this.next[r] >= 0) this.prev[this.next[r]] = k;
  }
}

const queue = new PairQueue();

function emitBytes(vocab: Vocab, piece: string, out: number[], required: boolean): void {
  for (const b of utf8Encode(piece)) {
    const id = vocab.byteTokens[b];
    if (id !== NO_TOKEN) out.push(id);
    else if (required) {
      throw new TokenizerError('no_byte_token', `the vocabulary has no byte token for 0x${b.toString(16)}`);
    }
  }
}

/** SentencePiece merging of one fragment (spaces already escaped to U+2581). */
export function spmEncode(vocab: Vocab, text: string, out: number[]): void {
  if (text.length === 0) return;
  const sym = new Symbols(text);
  queue.clear();
  const tryPair = (l: number, r: number) => {
    if (l < 0 || r < 0) return;
    const size = sym.len[l] + sym.len[r];
    const id = vocab.tokenToId.get(text.substr(sym.start[l], size));
    if (id === undefined) return;
    queue.push(-vocab.scores[id], l, size); // highest score first
  };
  for (let k = 1; k < sym.count; k++) tryPair(k - 1, k);
  while (queue.length > 0) {
    const l = queue.topLeft();
    const size = queue.topSize();
    queue.pop();
    const r = sym.next[l];
    if (sym.len[l] === 0 || r < 0 || sym.len[l] + sym.len[r] !== size) continue;
    sym.mergeRight(l);
    tryPair(sym.prev[l], l);
    tryPair(l, sym.next[l]);
  }
  // Every merged symbol is a token; a symbol that is not is a single character: spell it in byte tokens.
  for (let k = sym.count > 0 ? 0 : -1; k !== -1; k = sym.next[k]) {
    const piece = sym.text(text, k);
    const id = vocab.tokenToId.get(piece);
    if (id !== undefined) out.push(id);
    else emitBytes(vocab, piece, out, true);
  }
}

/** BPE merging of one pre-tokenized word (already byte-encoded or space-escaped as the vocabulary spells it). */
export function bpeEncodeWord(vocab: Vocab, word: string, out: number[]): void {
  if (word.length === 0) return;
  const ranks = vocab.ranks!;
  const pre = vocab.pre!;
  if (pre.ignoreMerges) {
    const id = vocab.tokenToId.get(word);
    if (id !== undefined) {
      out.push(id);
      return;
    }
  }
  // llama.cpp PR #21343: in Gemma 4 a run of newlines that is itself a token is taken whole.
  if (pre.escapeWhitespaces && /^\n+$/.test(word)) {
    const id = vocab.tokenToId.get(word);
    if (id !== undefined) {
      out.push(id);
      return;
    }
  }
  const sym = new Symbols(word);
  queue.clear();
  const tryPair = (l: number, r: number) => {
    if (l < 0 || r < 0) return;
    const rank = ranks.get(sym.text(word, l) + ' ' + sym.text(word, r));
    if (rank === undefined) return;
    queue.push(rank, l, sym.len[l] + sym.len[r]);
  };
  for (let k = 1; k < sym.count; k++) tryPair(k - 1, k);
  while (queue.length > 0) {
    const l = queue.topLeft();
    const size = queue.topSize();
    queue.pop();
    const r = sym.next[l];
    if (sym.len[l] === 0 || r < 0 || sym.len[l] + sym.len[r] !== size) continue;
    sym.mergeRight(l);
    tryPair(sym.prev[l], l);
    tryPair(l, sym.next[l]);
  }
  // A symbol the merges built but the vocabulary lacks is spelled byte by byte (not re-split), as llama.cpp does;
  // bytes without a token are dropped.
  for (let k = 0; k !== -1; k = sym.next[k]) {
    const piece = sym.text(word, k);
    const id = vocab.tokenToId.get(piece);
    if (id !== undefined) out.push(id);
    else emitBytes(vocab, piece, out, false);
  }
}
