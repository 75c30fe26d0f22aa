/**
 * Pre-tokenizer splitters: they cut a fragment of text (as code points) into words before BPE runs on each word.
 * Each splitter refines a list of segment lengths (in code points), as llama.cpp's `unicode_regex_split` does: the
 * first splitter sees one segment (the whole fragment), the next splitter works inside each segment the previous one
 * produced, and so on.
 *
 * The GPT-2, Llama-3 and Qwen2 patterns are hand-written scanners, because llama.cpp runs hand-written scanners for
 * them (LC:src/unicode.cpp `unicode_regex_split_custom_*`) whose results differ from the regex in corner cases (e.g.
 * a lone trailing space, `\s*[\r\n]+` taking the last newline of a whitespace run). Other patterns run as JS regexes
 * over llama.cpp's "collapsed" text (see regexSplitter).
 */

import {
  CAT_LETTER, CAT_MARK, CAT_NUMBER, CAT_PUNCTUATION, CAT_SYMBOL, CAT_MASK, WHITESPACE, codepointFlags,
} from './unicode.ts';

export type Splitter = (cps: Uint32Array, segments: number[]) => number[];

const OUT_OF_SEGMENT = -1;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const APOSTROPHE = 0x27;

/** Lower-cases ASCII letters only: the contraction checks compare with ASCII letters, and no other code point lowers to one of s t m d r v e l. */
function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/**
 * Runs `scan` over each segment. `scan` gets accessors that answer OUT_OF_SEGMENT / 0 outside the segment, as
 * llama.cpp's `_get_cpt` / `_get_flags` do, and reports word ends through `cut`.
 */
function eachSegment(
  cps: Uint32Array,
  segments: number[],
  scan: (start: number, end: number, cp: (p: number) => number, fl: (p: number) => number, cut: (end: number) => void) => void,
): number[] {
  const out: number[] = [];
  let start = 0;
  for (const length of segments) {
    const segStart = start;
    const segEnd = start + length;
    start = segEnd;
    let prevEnd = segStart;
    const cp = (p: number) => (p >= segStart && p < segEnd ? cps[p] : OUT_OF_SEGMENT);
    const fl = (p: number) => (p >= segStart && p < segEnd ? codepointFlags(cps[p]) : 0);
    const cut = (end: number) => {
      if (end > prevEnd) out.push(end - prevEnd);
      prevEnd = end;
    };
    scan(segStart, segEnd, cp, fl, cut);
  }
  return out;
}

/** The length of a contraction ('s 't 'm 'd 're 've 'll) starting at `pos`, or 0. */
function contractionLength(pos: number, end: number, cp: (p: number) => number, caseless: boolean): number {
  if (cp(pos) !== APOSTROPHE || pos + 1 >= end) return 0;
  const norm = caseless ? lowerAscii : (c: number) => c;
  const a = norm(cp(pos + 1));
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 < end) {
    const b = norm(cp(pos + 2));
    if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  }
  return 0;
}

/** GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (scanner as llama.cpp's). */
export const gpt2Splitter: Splitter = (cps, segments) =>
  eachSegment(cps, segments, (segStart, segEnd, cp, fl, cut) => {
    let pos = segStart;
    while (pos < segEnd) {
      const c = cp(pos);
      const contraction = contractionLength(pos, segEnd, cp, false);
      if (contraction > 0) {
        pos += contraction;
        cut(pos);
        continue;
      }
      // An optional leading space joins the run that follows it.
      let f = c === SPACE ? fl(pos + 1) : fl(pos);
      const runOf = (test: (flags: number) => boolean) => {
        if (c === SPACE) pos++;
        while (test(f)) f = fl(++pos);
        cut(pos);
      };
      if (f & CAT_LETTER) {
        runOf((x) => (x & CAT_LETTER) !== 0);
        continue;
      }
      if (f & CAT_NUMBER) {
        runOf((x) => (x & CAT_NUMBER) !== 0);
        continue;
      }
      const isOther = (x: number) => (x & (WHITESPACE | CAT_LETTER | CAT_NUMBER)) === 0 && x !== 0;
      if (isOther(f)) {
        runOf(isOther);
        continue;
      }
      let spaces = 0;
      while (fl(pos + spaces) & WHITESPACE) spaces++;
      if (spaces > 1 && cp(pos + spaces) !== OUT_OF_SEGMENT) {
        // \s+(?!\S): leave the last whitespace to start the next word
        pos += spaces - 1;
        cut(pos);
        continue;
      }
      if (spaces > 0) {
        pos += spaces;
        cut(pos);
        continue;
      }
      cut(++pos);
    }
  });

/**
 * Llama-3 family: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
 * `maxDigits` 1 gives Qwen2's `\p{N}`; `marksAreLetters` gives Qwen3.5's `[\p{L}\p{M}]` letter runs.
 */
export function llama3Splitter(maxDigits: 1 | 3, marksAreLetters: boolean): Splitter {
  const letterish = marksAreLetters ? CAT_LETTER | CAT_MARK : CAT_LETTER;
  return (cps, segments) =>
    eachSegment(cps, segments, (segStart, segEnd, cp, fl, cut) => {
      let pos = segStart;
      while (pos < segEnd) {
        const c = cp(pos);
        const f = fl(pos);
        const contraction = contractionLength(pos, segEnd, cp, true);
        if (contraction > 0) {
          pos += contraction;
          cut(pos);
          continue;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (!(c === CR || c === LF || f & CAT_NUMBER) && (f & letterish || fl(pos + 1) & letterish)) {
          pos++;
          while (fl(pos) & letterish) pos++;
          cut(pos);
          continue;
        }
        // \p{N}{1,3}
        if (f & CAT_NUMBER) {
          if (maxDigits === 1) {
            cut(++pos);
            continue;
          }
          let groupStart = pos;
          while (fl(pos) & CAT_NUMBER) {
            if (++pos - groupStart >= maxDigits) {
              cut(pos);
              groupStart = pos;
            }
          }
          cut(pos);
          continue;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`; llama.cpp tests the current code point's flags for non-emptiness here, not the
        // next one's, so a lone space at the end of a segment takes this branch.
        const stop = WHITESPACE | letterish | CAT_NUMBER;
        let f2 = c === SPACE ? fl(pos + 1) : f;
        if ((f2 & stop) === 0 && f !== 0) {
          if (c === SPACE) pos++;
          while ((f2 & stop) === 0 && f2 !== 0) f2 = fl(++pos);
          let c2 = cp(pos);
          while (c2 === CR || c2 === LF) c2 = cp(++pos);
          cut(pos);
          continue;
        }
        let spaces = 0;
        let afterLastNewline = 0;
        while (fl(pos + spaces) & WHITESPACE) {
          const c2 = cp(pos + spaces);
          if (c2 === CR || c2 === LF) afterLastNewline = pos + spaces + 1;
          spaces++;
        }
        // \s*[\r\n]+
        if (afterLastNewline > 0) {
          pos = afterLastNewline;
          cut(pos);
          continue;
        }
        // \s+(?!\S)
        if (spaces > 1 && cp(pos + spaces) !== OUT_OF_SEGMENT) {
          pos += spaces - 1;
          cut(pos);
          continue;
        }
        // \s+
        if (spaces > 0) {
          pos += spaces;
          cut(pos);
          continue;
        }
        cut(++pos);
      }
    });
}

/** `[^\n]+|[\n]+`: runs of newlines and runs of anything else (Gemma 4). */
export const newlineSplitter: Splitter = (cps, segments) => {
  const out: number[] = [];
  let start = 0;
  for (const length of segments) {
    const end = start + length;
    let pos = start;
    while (pos < end) {
      const newline = cps[pos] === LF;
      const runStart = pos;
      while (pos < end && (cps[pos] === LF) === newline) pos++;
      out.push(pos - runStart);
    }
    start = end;
  }
  return out;
};

// The categories llama.cpp knows in its regex fallback, and the one-byte stand-in each gets in collapsed text.
const CATEGORY_ESCAPES: Record<string, number> = {
  '\\p{N}': CAT_NUMBER, '\\p{L}': CAT_LETTER, '\\p{P}': CAT_PUNCTUATION, '\\p{M}': CAT_MARK, '\\p{S}': CAT_SYMBOL,
  '\\p{Lu}': CAT_LETTER, '\\p{Ll}': CAT_LETTER, '\\p{Lt}': CAT_LETTER, '\\p{Lm}': CAT_LETTER, '\\p{Lo}': CAT_LETTER,
};
const STAND_IN: Record<number, string> = {
  [CAT_NUMBER]: '\\xD1', [CAT_LETTER]: '\\xD2', [CAT_PUNCTUATION]: '\\xD3', [CAT_MARK]: '\\xD4', [CAT_SYMBOL]: '\\xD5',
};
// The ASCII members of each category, which stay themselves in collapsed text.
const ASCII_MEMBERS: Record<number, string> = {
  [CAT_NUMBER]: '0-9',
  [CAT_LETTER]: 'A-Za-z',
  [CAT_PUNCTUATION]: '!-#%-*,-/:-;?-@\\[-\\]_\\{\\}',
  [CAT_MARK]: '',
  [CAT_SYMBOL]: '\\$\\+<->\\^`\\|~',
};

function collapsedChar(cp: number): number {
  if (cp < 128) return cp;
  const f = codepointFlags(cp);
  if (f & WHITESPACE) return 0x0b;
  const cat = f & CAT_MASK;
  switch (cat) {
    case CAT_NUMBER: return 0xd1;
    case CAT_LETTER: return 0xd2;
    case CAT_PUNCTUATION: return 0xd3;
    case CAT_MARK: return 0xd4;
    case CAT_SYMBOL: return 0xd5;
    default: return 0xd0;
  }
}

/**
 * A general regex splitter, as llama.cpp's std::regex fallback: when the pattern uses Unicode categories, every
 * code point ≥ 128 is replaced by one byte standing for its category (whitespace by \v) and each `\p{X}` in the
 * pattern by that byte plus the ASCII members of X; otherwise the pattern runs on the code points with non-ASCII
 * whitespace replaced by \v (std::wregex's `\s` is ASCII-only). After an empty match std::regex_iterator first retries
 * for a non-empty match at the same place while JS moves on, so patterns that can match empty may differ.
 */
export function regexSplitter(pattern: string): Splitter {
  const usesCategories = Object.keys(CATEGORY_ESCAPES).some((k) => pattern.includes(k));
  let regex: RegExp;
  if (usesCategories) {
    let collapsed = '';
    let inClass = false;
    for (let i = 0; i < pattern.length; i++) {
      const ch = pattern[i];
      if (ch === '[' && (i === 0 || pattern[i - 1] !== '\\')) {
        collapsed += ch;
        inClass = true;
        continue;
      }
      if (inClass && ch === ']' && pattern[i - 1] !== '\\') {
        collapsed += ch;
        inClass = false;
        continue;
      }
      if (ch === '\\' && pattern[i + 1] === 'p' && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i + 3);
        const cat = close > 0 ? CATEGORY_ESCAPES[pattern.slice(i, close + 1)] : undefined;
        if (cat !== undefined) {
          const members = STAND_IN[cat] + ASCII_MEMBERS[cat];
          collapsed += inClass ? members : `[${members}]`;
          i = close;
          continue;
        }
      }
      collapsed += ch;
    }
    regex = new RegExp(collapsed, 'g');
  } else {
    regex = new RegExp(pattern, 'gu');
  }

  return (cps, segments) => {
    const out: number[] = [];
    let start = 0;
    for (const length of segments) {
      // The text of this segment, one UTF-16 unit per code point when collapsed; with surrogate pairs otherwise,
      // so offsets are mapped back to code points.
      let text = '';
      const unitToCp: number[] = [];
      for (let p = start; p < start + length; p++) {
        const c = cps[p];
        if (usesCategories) {
          text += String.fromCharCode(collapsedChar(c));
        } else {
          const w = c > 0x7f && codepointFlags(c) & WHITESPACE ? 0x0b : c;
          unitToCp.push(p - start);
          if (w > 0xffff) unitToCp.push(p - start);
          text += String.fromCodePoint(w);
        }
      }
      unitToCp.push(length);
      const toCp = (unit: number) => (usesCategories ? unit : unitToCp[unit]);
      let last = 0;
      for (const m of text.matchAll(regex)) {
        const mStart = toCp(m.index);
        const mEnd = toCp(m.index + m[0].length);
        // An empty match still cuts the text before it (llama.cpp records a zero-length word, which yields nothing).
        if (mStart > last) out.push(mStart - last);
        if (mEnd > mStart) out.push(mEnd - mStart);
        last = mEnd;
      }
      if (last < length) out.push(length - last);
      start += length;
    }
    return out;
  };
}
