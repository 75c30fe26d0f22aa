/**
 * hearth's tokenizer: llama.cpp's tokenization and detokenization, token for token, built from GGUF metadata.
 * Supports SentencePiece vocabularies (`llama`), byte-level BPE (`gpt2`, pre-tokenizer chosen by tokenizer.ggml.pre),
 * Gemma 4's SentencePiece-style BPE (`gemma4`) and BERT WordPiece (`bert`). See spec gguf.md §5.4 and gemma4.md §3.
 */

import { detokenize, PieceTable } from './detokenize.ts';
import { TokenizerError } from './errors.ts';
import { bpeEncodeWord, spmEncode } from './merge.ts';
import type { Metadata } from './metadata.ts';
import { splitSpecial } from './special-split.ts';
import { BYTE_TO_CHAR, codepointsOf, utf8Decode, utf8Encode, wellFormed } from './unicode.ts';
import { ATTR_CONTROL, loadVocab, NO_TOKEN, type Vocab } from './vocab.ts';
import { wordPieceEncode } from './wordpiece.ts';

export { TokenizerError } from './errors.ts';
export type { TokenizerErrorCode } from './errors.ts';

export interface EncodeOptions {
  /** Add BOS/EOS as the vocabulary asks (tokenizer.ggml.add_bos_token / add_eos_token). Default true. */
  addSpecial?: boolean;
  /** Recognise CONTROL tokens (e.g. "<|im_start|>") written in the text. Default false. */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop a leading BOS and a trailing EOS that the vocabulary would have added. Default false. */
  removeSpecial?: boolean;
  /** Render CONTROL and UNKNOWN tokens as their text (otherwise they render as nothing). Default false. */
  unparseSpecial?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  /** tokenizer.ggml.model: 'llama' | 'gpt2' | 'gemma4' | 'bert'. */
  readonly model: string;
  readonly bos: number | null;
  readonly eos: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** Text → ids, as llama_tokenize(text, add_special, parse_special). */
  encode(text: string, options?: EncodeOptions): number[];
  /** Ids → text, as llama_detokenize(ids, remove_special, unparse_special); invalid UTF-8 becomes U+FFFD. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /**
   * One token's text, as llama_token_to_piece(id, lstrip 0, special) gives it. A byte token or a byte-level token
   * may hold part of a character (shown as U+FFFD here): stream with tokenBytes instead.
   * With `special` false (default true), CONTROL and UNKNOWN tokens give "".
   */
  tokenText(id: number, special?: boolean): string;
  /** The bytes one token contributes to the output (same rules as tokenText). Do not modify the result. */
  tokenBytes(id: number, special?: boolean): Uint8Array;
  isEog(id: number): boolean;
  readonly eogIds: ReadonlySet<number>;
  isControl(id: number): boolean;
  /** The id of the token spelled exactly `text` in the vocabulary (GGUF spelling: "▁" for space, "Ġ" in GPT-2). */
  tokenId(text: string): number | undefined;
}

/** Builds a tokenizer from a GGUF metadata map (as readGguf returns it). */
export function createTokenizer(metadata: Metadata): Tokenizer {
  const vocab = loadVocab(metadata);
  return new GgufTokenizer(vocab);
}

class GgufTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly model: string;
  readonly bos: number | null;
  readonly eos: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly eogIds: ReadonlySet<number>;
  private readonly pieces: PieceTable;

  constructor(private readonly vocab: Vocab) {
    this.vocabSize = vocab.texts.length;
    this.model = vocab.model;
    this.bos = vocab.bos === NO_TOKEN ? null : vocab.bos;
    this.eos = vocab.eos === NO_TOKEN ? null : vocab.eos;
    this.addBos = vocab.addBos;
    this.addEos = vocab.addEos;
    this.eogIds = vocab.eog;
    this.pieces = new PieceTable(vocab);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const parseSpecial = options.parseSpecial ?? false;
    const vocab = this.vocab;
    const input = wellFormed(text);
    const fragments = splitSpecial(vocab, input, parseSpecial);
    const out: number[] = [];
    if (vocab.kind === 'wpm') {
      // BERT: [CLS] text [SEP] whenever special tokens are added (llama.cpp ignores add_bos here).
      if (addSpecial) out.push(this.required(vocab.bos, 'BOS'));
      for (const f of fragments) {
        if ('token' in f) out.push(f.token);
        else wordPieceEncode(vocab, input.slice(f.start, f.end), out);
      }
      if (addSpecial) out.push(this.required(vocab.sep, 'SEP'));
      return out;
    }
    if (addSpecial && vocab.addBos) out.push(this.required(vocab.bos, 'BOS'));
    if (vocab.kind === 'spm') {
      // A space goes in front of the text, and again after every special token (llama.cpp's is_prev_special).
      let afterSpecial = true;
      for (const f of fragments) {
        if ('token' in f) {
          out.push(f.token);
          afterSpecial = true;
          continue;
        }
        const raw = (vocab.addSpacePrefix && afterSpecial ? ' ' : '') + input.slice(f.start, f.end);
        spmEncode(vocab, raw.replaceAll(' ', '\u2581'), out);
        afterSpecial = false;
      }
    } else {
      for (const f of fragments) {
        if ('token' in f) out.push(f.token);
        else this.encodeBpeFragment(input.slice(f.start, f.end), out);
      }
    }
    if (addSpecial && vocab.addEos) out.push(this.required(vocab.eos, 'EOS'));
    return out;
  }

  private encodeBpeFragment(raw: string, out: number[]): void {
    const vocab = this.vocab;
    const pre = vocab.pre!;
    const text = pre.escapeWhitespaces ? raw.replaceAll(' ', '\u2581') : raw;
    const cps = codepointsOf(text);
    let segments = [cps.length];
    for (const split of pre.splitters) segments = split(cps, segments);
    let unit = 0; // UTF-16 offset of the current word in `text`
    let cp = 0;
    for (const length of segments) {
      const wordStart = unit;
      for (const end = cp + length; cp < end; cp++) unit += cps[cp] > 0xffff ? 2 : 1;
      const word = text.slice(wordStart, unit);
      bpeEncodeWord(vocab, pre.byteEncode ? byteEncode(word) : word, out);
    }
  }

  private required(id: number, what: string): number {
    if (id === NO_TOKEN) throw new TokenizerError('bad_vocab', `the vocabulary asks for ${what} but has no ${what} token`);
    return id;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError('bad_token_id', `token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    }
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) this.checkId(id);
    const bytes = detokenize(this.vocab, this.pieces, ids, {
      removeSpecial: options.removeSpecial ?? false,
      unparseSpecial: options.unparseSpecial ?? false,
    });
    return utf8Decode(bytes);
  }

  tokenBytes(id: number, special = true): Uint8Array {
    this.checkId(id);
    return this.pieces.bytes(id, special);
  }

  tokenText(id: number, special = true): string {
    return utf8Decode(this.tokenBytes(id, special));
  }

  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }

  isControl(id: number): boolean {
    return id >= 0 && id < this.vocabSize && (this.vocab.attrs[id] & ATTR_CONTROL) !== 0;
  }

  tokenId(text: string): number | undefined {
    return this.vocab.tokenToId.get(text);
  }
}

/** A word's UTF-8 bytes spelled in GPT-2's byte alphabet. */
function byteEncode(word: string): string {
  let s = '';
  for (const b of utf8Encode(word)) s += BYTE_TO_CHAR[b];
  return s;
}

