/**
 * BERT WordPiece as llama.cpp runs it (LC:src/llama-vocab.cpp `llm_tokenizer_wpm_session`). The GGUF spells
 * word-initial pieces with a leading U+2581 and continuation pieces bare (the converter drops BERT's "##").
 * - Normalize: optionally map each code point to the first code point of its NFD form and drop accent marks;
 *   optionally lower-case; drop NUL, U+FFFD and control characters.
 * - Split at whitespace; punctuation, ASCII symbols and CJK ideographs become one-character words.
 * - Each word, prefixed with U+2581, is cut greedily into the longest vocabulary pieces; a word that cannot be cut
 *   completely becomes one UNK token.
 */

import {
  CAT_CONTROL, CAT_MARK, CAT_PUNCTUATION, CAT_SYMBOL, WHITESPACE, codepointFlags, codepointsOf, decompositionBase,
  simpleLowercase, utf8Length,
} from './unicode.ts';
import { TokenizerError } from './errors.ts';
import { NO_TOKEN, type Vocab } from './vocab.ts';

function isCjkIdeograph(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) ||
    // 0x2B920, not 0x2B820: Hugging Face's BERT pre-tokenizer has this range so, and llama.cpp follows it
    (cp >= 0x2b920 && cp <= 0x2ceaf) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

function splitWords(vocab: Vocab, text: string): string[] {
  const words: string[] = [];
  let word = '';
  const finish = () => {
    if (word.length > 0) words.push(word);
    word = '';
  };
  for (let cp of codepointsOf(text)) {
    if (vocab.stripAccents) cp = decompositionBase(cp);
    const flags = codepointFlags(cp);
    if (flags & WHITESPACE) {
      finish();
      continue;
    }
    if (cp === 0 || cp === 0xfffd || flags & CAT_CONTROL) continue;
    if (vocab.stripAccents && flags & CAT_MARK) continue;
    const s = String.fromCodePoint(vocab.lowercase ? simpleLowercase(cp) : cp);
    if (flags & CAT_PUNCTUATION || (cp < 0x7f && flags & CAT_SYMBOL) || isCjkIdeograph(cp)) {
      finish();
      words.push(s);
    } else {
      word += s;
    }
  }
  finish();
  return words;
}

export function wordPieceEncode(vocab: Vocab, text: string, out: number[]): void {
  for (const word of splitWords(vocab, text)) {
    const chars = [...('\u2581' + word)];
    const bytes = chars.map(utf8Length);
    const before = out.length;
    for (let i = 0; i < chars.length; ) {
      // longest piece first, up to the longest token (llama.cpp measures in bytes)
      let end = i;
      let size = 0;
      while (end < chars.length && size + bytes[end] <= vocab.maxTokenBytes + 1) size += bytes[end++];
      let id: number | undefined;
      for (; end > i; end--) {
        id = vocab.tokenToId.get(chars.slice(i, end).join(''));
        if (id !== undefined) break;
      }
      if (id === undefined) {
        out.length = before; // the word cannot be spelled: drop its pieces
        break;
      }
      out.push(id);
      i = end;
    }
    if (out.length === before) {
      if (vocab.unk === NO_TOKEN) throw new TokenizerError('bad_vocab', 'a word needs the UNK token but the vocabulary has none');
      out.push(vocab.unk);
    }
  }
}
