/**
 * Splitting special tokens out of raw text before tokenizing (LC:src/llama-vocab.cpp `tokenizer_st_partition`).
 * Special tokens are tried longest text first; each one is cut out of every raw-text fragment left by the longer
 * ones. Without parse_special only USER_DEFINED tokens are cut out (as Hugging Face does for added tokens); CONTROL
 * and UNKNOWN tokens are then ordinary text. LSTRIP/RSTRIP tokens swallow ASCII whitespace next to them.
 */

import { isAsciiSpace } from './unicode.ts';
import { ATTR_CONTROL, ATTR_LSTRIP, ATTR_RSTRIP, ATTR_UNKNOWN, type Vocab } from './vocab.ts';

/** A piece of the input: raw text [start, end) of the input string, or a token id. */
export type Fragment = { readonly token: number } | { readonly start: number; readonly end: number };

export function splitSpecial(vocab: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [{ start: 0, end: text.length }] : [];
  for (const id of vocab.specials) {
    const attr = vocab.attrs[id];
    if (!parseSpecial && attr & (ATTR_CONTROL | ATTR_UNKNOWN)) continue;
    const special = vocab.texts[id];
    // Most special tokens do not occur at all; a token absent from the whole text is absent from every fragment.
    if (!text.includes(special)) continue;
    const next: Fragment[] = [];
    for (const f of fragments) {
      if ('token' in f) {
        next.push(f);
        continue;
      }
      let pos = f.start;
      for (;;) {
        const at = text.indexOf(special, pos);
        if (at < 0 || at + special.length > f.end) {
          if (pos < f.end) next.push({ start: pos, end: f.end });
          break;
        }
        let leftEnd = at;
        if (attr & ATTR_LSTRIP) while (leftEnd > pos && isAsciiSpace(text.charCodeAt(leftEnd - 1))) leftEnd--;
        if (leftEnd > pos) next.push({ start: pos, end: leftEnd });
        next.push({ token: id });
        pos = at + special.length;
        if (attr & ATTR_RSTRIP) while (pos < f.end && isAsciiSpace(text.charCodeAt(pos))) pos++;
        if (pos >= f.end) break;
      }
    }
    fragments = next;
  }
  return fragments;
}
