/**
 * Code point classes as llama.cpp's pre-tokenizers see them (LC:src/unicode.h `unicode_cpt_flags`): one general
 * category group (\p{N}, \p{L}, \p{Z}, \p{M}, \p{P}, \p{S}, \p{C}, or "undefined" for unassigned code points) plus a
 * separate White_Space bit. A flags value of 0 means "outside the text" (llama.cpp's default-constructed flags).
 *
 * We take the categories from the JS engine's own Unicode tables (`\p{…}` in `u` regexes), but llama.cpp's tables
 * stop at Unicode 15.1 while current engines ship 16.0/17.0: code points assigned since then are unassigned to
 * llama.cpp, so we treat them as such (see LATER_ASSIGNMENTS).
 */

export const CAT_UNDEFINED = 0x01;
export const CAT_NUMBER = 0x02;
export const CAT_LETTER = 0x04;
export const CAT_SEPARATOR = 0x08;
export const CAT_MARK = 0x10;
export const CAT_PUNCTUATION = 0x20;
export const CAT_SYMBOL = 0x40;
export const CAT_CONTROL = 0x80;
export const CAT_MASK = 0xff;
export const WHITESPACE = 0x100;

const MAX_CODEPOINT = 0x10ffff;

/**
 * Code points assigned in Unicode 16.0 and 17.0 (inclusive ranges). llama.cpp v0.5.0's unicode-data.cpp was generated
 * from Unicode 15.1 and files them as unassigned; found by comparing its category of every code point with V8's.
 */
const LATER_ASSIGNMENTS: readonly (readonly [number, number])[] = [
  [0x88f, 0x88f], [0x897, 0x897], [0xc5c, 0xc5c], [0xcdc, 0xcdc], [0x1acf, 0x1add], [0x1ae0, 0x1aeb],
  [0x1b4e, 0x1b4f], [0x1b7f, 0x1b7f], [0x1c89, 0x1c8a], [0x20c1, 0x20c1], [0x2427, 0x2429], [0x2b96, 0x2b96],
  [0x31e4, 0x31e5], [0xa7cb, 0xa7cf], [0xa7d2, 0xa7d2], [0xa7d4, 0xa7d4], [0xa7da, 0xa7dc], [0xa7f1, 0xa7f1],
  [0xfbc3, 0xfbd2], [0xfd90, 0xfd91], [0xfdc8, 0xfdce], [0x105c0, 0x105f3], [0x10940, 0x10959], [0x10d40, 0x10d65],
  [0x10d69, 0x10d85], [0x10d8e, 0x10d8f], [0x10ec2, 0x10ec7], [0x10ed0, 0x10ed8], [0x10efa, 0x10efc],
  [0x11380, 0x11389], [0x1138b, 0x1138b], [0x1138e, 0x1138e], [0x11390, 0x113b5], [0x113b7, 0x113c0],
  [0x113c2, 0x113c2], [0x113c5, 0x113c5], [0x113c7, 0x113ca], [0x113cc, 0x113d5], [0x113d7, 0x113d8],
  [0x113e1, 0x113e2], [0x116d0, 0x116e3], [0x11b60, 0x11b67], [0x11bc0, 0x11be1], [0x11bf0, 0x11bf9],
  [0x11db0, 0x11ddb], [0x11de0, 0x11de9], [0x11f5a, 0x11f5a], [0x13460, 0x143fa], [0x16100, 0x16139],
  [0x16d40, 0x16d79], [0x16ea0, 0x16eb8], [0x16ebb, 0x16ed3], [0x16ff2, 0x16ff6], [0x187f8, 0x187ff],
  [0x18cff, 0x18cff], [0x18d09, 0x18d1e], [0x18d80, 0x18df2], [0x1cc00, 0x1ccfc], [0x1cd00, 0x1ceb3],
  [0x1ceba, 0x1ced0], [0x1cee0, 0x1cef0], [0x1e5d0, 0x1e5fa], [0x1e5ff, 0x1e5ff], [0x1e6c0, 0x1e6de],
  [0x1e6e0, 0x1e6f5], [0x1e6fe, 0x1e6ff], [0x1f6d8, 0x1f6d8], [0x1f777, 0x1f77a], [0x1f8b2, 0x1f8bb],
  [0x1f8c0, 0x1f8c1], [0x1f8d0, 0x1f8d8], [0x1fa54, 0x1fa57], [0x1fa89, 0x1fa8a], [0x1fa8e, 0x1fa8f],
  [0x1fabe, 0x1fabe], [0x1fac6, 0x1fac6], [0x1fac8, 0x1fac8], [0x1facd, 0x1facd], [0x1fadc, 0x1fadc],
  [0x1fadf, 0x1fadf], [0x1fae9, 0x1faea], [0x1faef, 0x1faef], [0x1fbcb, 0x1fbef], [0x1fbfa, 0x1fbfa],
  [0x2b73a, 0x2b73f], [0x2cea2, 0x2cead], [0x323b0, 0x33479],
];

const CATEGORY_TESTS: readonly (readonly [number, RegExp])[] = [
  [CAT_LETTER, /^\p{L}$/u],
  [CAT_NUMBER, /^\p{N}$/u],
  [CAT_PUNCTUATION, /^\p{P}$/u],
  [CAT_SYMBOL, /^\p{S}$/u],
  [CAT_MARK, /^\p{M}$/u],
  [CAT_SEPARATOR, /^\p{Z}$/u],
  [CAT_CONTROL, /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u],
];
const WHITE_SPACE = /^\p{White_Space}$/u;

function isLaterAssignment(cp: number): boolean {
  let lo = 0;
  let hi = LATER_ASSIGNMENTS.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [start, end] = LATER_ASSIGNMENTS[mid];
    if (cp < start) hi = mid - 1;
    else if (cp > end) lo = mid + 1;
    else return true;
  }
  return false;
}

function classify(cp: number): number {
  const s = String.fromCodePoint(cp);
  let flags = CAT_UNDEFINED;
  if (!isLaterAssignment(cp)) {
    for (const [cat, re] of CATEGORY_TESTS) {
      if (re.test(s)) {
        flags = cat;
        break;
      }
    }
  }
  if (WHITE_SPACE.test(s)) flags |= WHITESPACE;
  return flags;
}

// Filled on demand: 0 = not classified yet (every real code point has a non-zero category).
let table: Uint16Array | null = null;

/** The flags of a code point (never 0 for a valid code point). */
export function codepointFlags(cp: number): number {
  if (cp < 0 || cp > MAX_CODEPOINT) return CAT_UNDEFINED;
  if (table === null) {
    table = new Uint16Array(MAX_CODEPOINT + 1);
    for (let c = 0; c < 128; c++) table[c] = classify(c);
  }
  let f = table[cp];
  if (f === 0) {
    f = classify(cp);
    table[cp] = f;
  }
  return f;
}

/** Code points of a string; lone surrogates become U+FFFD, as the UTF-8 conversion at llama.cpp's boundary does. */
export function codepointsOf(text: string): Uint32Array {
  const out = new Uint32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    out[n++] = c;
  }
  return out.subarray(0, n);
}

/** Replace lone surrogates by U+FFFD (what TextEncoder and node's UTF-8 conversion do). */
export function wellFormed(text: string): string {
  const s = text as string & { toWellFormed?: () => string };
  if (typeof s.toWellFormed === 'function') return s.toWellFormed();
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decode UTF-8, replacing invalid sequences by U+FFFD (as V8 does for node-llama-cpp's strings). */
export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * GPT-2's reversible byte ↔ printable-character mapping: bytes that are printable Latin-1 map to themselves, the
 * other 68 map to U+0100.. in byte order. Byte-level BPE vocabularies spell every token in these characters.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const map: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(printable(b) ? b : next++);
  return map;
})();

/** Inverse of BYTE_TO_CHAR, indexed by code point (all mapped code points are below 0x144); -1 = not a byte char. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const inv = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) inv[BYTE_TO_CHAR[b].charCodeAt(0)] = b;
  return inv;
})();

/** C `isspace` in the "C" locale, which llama.cpp uses to strip around special tokens. */
export function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * Simple (one code point) lower-case mapping, as UnicodeData.txt's field that llama.cpp's unicode_tolower uses.
 * JS toLowerCase applies the full mapping, which differs only for U+0130 (→ "i̇"; simple mapping: "i").
 */
export function simpleLowercase(cp: number): number {
  if (cp === 0x130) return 0x69;
  if (isLaterAssignment(cp) || (cp >= 0xd800 && cp <= 0xdfff)) return cp;
  const lower = String.fromCodePoint(cp).toLowerCase();
  const first = lower.codePointAt(0)!;
  return lower.length === (first > 0xffff ? 2 : 1) ? first : cp;
}

/** The first code point of a code point's NFD decomposition (llama.cpp's unicode_cpts_normalize_nfd keeps only it). */
export function decompositionBase(cp: number): number {
  if (cp < 0xc0 || isLaterAssignment(cp) || (cp >= 0xd800 && cp <= 0xdfff)) return cp;
  return String.fromCodePoint(cp).normalize('NFD').codePointAt(0)!;
}
