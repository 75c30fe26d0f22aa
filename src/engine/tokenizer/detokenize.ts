/**
 * Token → bytes (LC:src/llama-vocab.cpp `token_to_piece`) and whole-sequence detokenization (`detokenize`).
 * Pieces are bytes, not text: a byte-fallback token or a byte-level BPE token may carry part of a UTF-8 character.
 */

import { CHAR_TO_BYTE, codepointsOf, utf8Encode } from './unicode.ts';
import {
  ATTR_BYTE, ATTR_CONTROL, ATTR_NORMAL, ATTR_UNKNOWN, ATTR_USER_DEFINED, type Vocab,
} from './vocab.ts';

const EMPTY = new Uint8Array(0);
const SPACE = 0x20;

/** Byte-level BPE text back to bytes; characters outside the byte alphabet are written as llama.cpp writes them. */
function byteLevelBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const cp of codepointsOf(text)) {
    const b = cp < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[cp] : -1;
    if (b >= 0) {
      out.push(b);
    } else {
      const hex = [...utf8Encode(String.fromCodePoint(cp))].map((x) => x.toString(16).padStart(2, '0')).join('');
      out.push(...utf8Encode(`[UNK_BYTE_0x${hex}${text}]`));
    }
  }
  return Uint8Array.from(out);
}

export class PieceTable {
  // Filled on first use: most of a 262k vocabulary is never decoded in a session.
  private readonly cache: (Uint8Array | undefined)[];

  constructor(private readonly vocab: Vocab) {
    this.cache = new Array(vocab.texts.length);
  }

  /** The bytes of a token; with `special` false, CONTROL and UNKNOWN tokens give nothing. */
  bytes(id: number, special: boolean): Uint8Array {
    const attr = this.vocab.attrs[id];
    if (!special && attr & (ATTR_UNKNOWN | ATTR_CONTROL)) return EMPTY;
    let piece = this.cache[id];
    if (piece === undefined) {
      piece = this.compute(id, attr);
      this.cache[id] = piece;
    }
    return piece;
  }

  private compute(id: number, attr: number): Uint8Array {
    const vocab = this.vocab;
    const text = vocab.texts[id];
    if (attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) return utf8Encode(text);
    if (attr & ATTR_NORMAL) {
      if (vocab.kind !== 'bpe' || vocab.escapeWhitespaces) return utf8Encode(text.replaceAll('\u2581', ' '));
      return byteLevelBytes(text);
    }
    if (attr & ATTR_BYTE) {
      // "<0xXX>": like strtol, parse what hex digits there are
      const value = parseInt(text.substr(3, 2), 16);
      return Uint8Array.of(Number.isNaN(value) ? 0 : value);
    }
    return EMPTY; // UNUSED and UNDEFINED tokens render as nothing
  }
}

export interface DetokenizeOptions {
  removeSpecial: boolean;
  unparseSpecial: boolean;
}

export function detokenize(vocab: Vocab, pieces: PieceTable, ids: readonly number[], opts: DetokenizeOptions): Uint8Array {
  let first = 0;
  let last = ids.length;
  // SentencePiece added a space in front of the text; take it off the first piece, unless BOS was dropped.
  let removeSpace = vocab.addSpacePrefix;
  if (opts.removeSpecial && vocab.addBos && last > 0 && ids[0] === vocab.bos) {
    removeSpace = false;
    first++;
  }
  if (opts.removeSpecial && vocab.addEos && last > first && ids[last - 1] === vocab.eos) last--;

  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = first; i < last; i++) {
    let piece = pieces.bytes(ids[i], opts.unparseSpecial);
    if (removeSpace && piece.length > 0 && piece[0] === SPACE) piece = piece.subarray(1);
    removeSpace = false; // only the first token, even when it rendered as nothing
    parts.push(piece);
    total += piece.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return vocab.cleanSpaces ? cleanUpSpaces(out) : out;
}

const QUOTE = 0x27;

/**
 * Hugging Face's clean_up_tokenization_spaces as llama.cpp does it, in three in-place passes over the bytes:
 * drop the space before ? ! . ,; turn " ' " into "'"; drop the space before 's 'm 're 've.
 * The passes are in place on purpose: the second pass blanks the byte after a collapsed quote, which the next
 * comparison then sees, exactly as llama.cpp's loop does.
 */
export function cleanUpSpaces(input: Uint8Array): Uint8Array {
  const t = input.slice();
  let total = t.length;

  const n1 = total;
  total = n1 > 0 ? 1 : 0;
  for (let i = 1; i < n1; i++) {
    const x = t[i];
    if (t[i - 1] === SPACE && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) total--;
    t[total++] = x;
  }

  const n2 = total;
  total = n2 > 0 ? 1 : 0;
  for (let i = 1; i < n2; i++) {
    const x = t[i];
    if (x === QUOTE && i + 1 < n2 && t[i - 1] === SPACE && t[i + 1] === SPACE) {
      total--;
      t[++i] = 0;
    }
    t[total++] = x;
  }

  const n3 = total;
  total = n3 > 0 ? 1 : 0;
  for (let i = 1; i < n3; i++) {
    const x = t[i];
    if (t[i - 1] === SPACE && x === QUOTE && i + 1 < n3) {
      const x1 = t[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) {
        total--; // 's 'm
      } else if (i + 2 < n3) {
        const x2 = t[i + 2];
        if ((x1 === 0x72 && x2 === 0x65) || (x1 === 0x76 && x2 === 0x65)) total--; // 're 've
      }
    }
    t[total++] = x;
  }
  return t.subarray(0, total);
}
