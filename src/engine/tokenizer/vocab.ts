/**
 * The vocabulary as llama.cpp builds it from GGUF metadata (LC:src/llama-vocab.cpp `llama_vocab::impl::load`):
 * token texts, scores and attributes; special token ids with llama.cpp's per-model defaults; the BOS/EOS/space-prefix
 * flags; the end-of-generation set; the attribute fix-ups llama.cpp applies by token text; and the list of tokens that
 * are split out of raw text before tokenizing.
 */

import { TokenizerError } from './errors.ts';
import {
  type Metadata, optBool, optNumberArray, optString, optStringArray, optUint, reqString,
} from './metadata.ts';
import { preTokenizerFor, type PreTokenizer } from './pre-tokenizers.ts';
import { utf8Length } from './unicode.ts';

/** Token attributes (bit flags), as llama.cpp's llama_token_attr. */
export const ATTR_UNDEFINED = 0;
export const ATTR_UNKNOWN = 1 << 0;
export const ATTR_UNUSED = 1 << 1;
export const ATTR_NORMAL = 1 << 2;
export const ATTR_CONTROL = 1 << 3;
export const ATTR_USER_DEFINED = 1 << 4;
export const ATTR_BYTE = 1 << 5;
export const ATTR_LSTRIP = 1 << 7;
export const ATTR_RSTRIP = 1 << 8;

/** GGUF token_type values (gguf.md §5.4) → attributes. */
const TYPE_TO_ATTR: Record<number, number> = {
  1: ATTR_NORMAL, 2: ATTR_UNKNOWN, 3: ATTR_CONTROL, 4: ATTR_USER_DEFINED, 5: ATTR_UNUSED, 6: ATTR_BYTE,
};

export type VocabKind = 'spm' | 'bpe' | 'wpm';

export const NO_TOKEN = -1;

export interface Vocab {
  readonly model: string;
  readonly kind: VocabKind;
  /** Byte-level BPE only. */
  readonly pre: PreTokenizer | null;
  readonly texts: readonly string[];
  readonly scores: Float32Array;
  readonly attrs: Uint16Array;
  readonly tokenToId: ReadonlyMap<string, number>;
  /** BPE merge rank by "left right" text (the GGUF merges strings themselves). */
  readonly ranks: ReadonlyMap<string, number> | null;
  /** Token for each byte value in byte fallback, or NO_TOKEN. */
  readonly byteTokens: Int32Array;
  readonly bos: number;
  readonly eos: number;
  readonly unk: number;
  readonly sep: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly escapeWhitespaces: boolean;
  readonly cleanSpaces: boolean;
  readonly eog: ReadonlySet<number>;
  /** Tokens split out of raw text first (CONTROL, USER_DEFINED, UNKNOWN), longest text first. */
  readonly specials: readonly number[];
  /** WordPiece: BERT normalizer options and the longest token in UTF-8 bytes. */
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  readonly maxTokenBytes: number;
}

// Texts llama.cpp recognises as special when the GGUF does not name them (LC:src/llama-vocab.cpp, "auto-detect").
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>',
  '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_PRE_TEXTS = ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>',
  '<|code_prefix|>', '<|prefix|>'];
const FIM_SUF_TEXTS = ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>',
  '<|code_suffix|>', '<|suffix|>'];
const FIM_MID_TEXTS = ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>',
  '<|code_middle|>', '<|middle|>'];
const FIM_PAD_TEXTS = ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'];
const FIM_REP_TEXTS = ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'];
const FIM_SEP_TEXTS = ['<|file_sep|>'];
const ROLE_TEXTS: readonly (readonly [string, readonly string[]])[] = [
  ['eot', EOT_TEXTS], ['eom', EOM_TEXTS], ['fimPre', FIM_PRE_TEXTS], ['fimSuf', FIM_SUF_TEXTS],
  ['fimMid', FIM_MID_TEXTS], ['fimPad', FIM_PAD_TEXTS], ['fimRep', FIM_REP_TEXTS], ['fimSep', FIM_SEP_TEXTS],
];
const EOG_TEXTS = new Set(['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>',
  '<end_of_turn>', '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>',
  '<end_of_utterance>', '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[']);
// gpt-oss: rendered as text, whatever the GGUF says.
const ALWAYS_RENDERED = new Set(['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']);

const SPECIAL_ID_KEYS = [
  'bos', 'eos', 'eot', 'eom', 'unknown', 'seperator', 'padding', 'mask',
  'fim_pre', 'fim_suf', 'fim_mid', 'fim_pad', 'fim_rep', 'fim_sep', 'prefix', 'suffix', 'middle',
] as const;
type SpecialKey = (typeof SPECIAL_ID_KEYS)[number];
// The deprecated prefix/suffix/middle keys write the FIM ids (read after the fim_* keys, so they win).
const SLOT: Record<SpecialKey, string> = {
  bos: 'bos', eos: 'eos', eot: 'eot', eom: 'eom', unknown: 'unk', seperator: 'sep', padding: 'pad', mask: 'mask',
  fim_pre: 'fimPre', fim_suf: 'fimSuf', fim_mid: 'fimMid', fim_pad: 'fimPad', fim_rep: 'fimRep', fim_sep: 'fimSep',
  prefix: 'fimPre', suffix: 'fimSuf', middle: 'fimMid',
};

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

export function loadVocab(meta: Metadata): Vocab {
  const model = reqString(meta, 'tokenizer.ggml.model');
  let preName = optString(meta, 'tokenizer.ggml.pre');

  let kind: VocabKind;
  const ids: Record<string, number> = {
    bos: NO_TOKEN, eos: NO_TOKEN, eot: NO_TOKEN, eom: NO_TOKEN, unk: NO_TOKEN, sep: NO_TOKEN, pad: NO_TOKEN,
    mask: NO_TOKEN, fimPre: NO_TOKEN, fimSuf: NO_TOKEN, fimMid: NO_TOKEN, fimPad: NO_TOKEN, fimRep: NO_TOKEN,
    fimSep: NO_TOKEN,
  };
  let pre: PreTokenizer | null = null;
  let addSpacePrefix = false;
  let addBos = false;
  let addEos = false;
  let cleanSpaces = false;
  let escapeWhitespaces = true;
  let mergesNeeded = false;

  if (model === 'llama') {
    kind = 'spm';
    ids.bos = 1;
    ids.eos = 2;
    ids.unk = 0;
    addSpacePrefix = true;
    addBos = true;
  } else if (model === 'gpt2' || model === 'gemma4') {
    kind = 'bpe';
    mergesNeeded = true;
    if (model === 'gpt2') {
      ids.bos = 11;
      ids.eos = 11;
    } else {
      // llama.cpp ignores tokenizer.ggml.pre for gemma4 vocabularies and always uses its own pre-tokenizer.
      preName = 'gemma4';
    }
    pre = preTokenizerFor(preName);
    escapeWhitespaces = pre.escapeWhitespaces;
    cleanSpaces = pre.cleanSpaces;
    addBos = pre.addBos;
    if (pre.noBos) ids.bos = NO_TOKEN;
  } else if (model === 'bert') {
    kind = 'wpm';
    ids.bos = 101; // [CLS]
    ids.unk = 100;
    ids.sep = 102;
    ids.pad = 0;
    ids.mask = 103;
    cleanSpaces = true;
    addBos = true;
  } else {
    throw new TokenizerError('unsupported_model', `unsupported tokenizer model '${model}' (supported: llama, gpt2, gemma4, bert)`);
  }
  addSpacePrefix = optBool(meta, 'tokenizer.ggml.add_space_prefix') ?? addSpacePrefix;

  const rawTexts = optStringArray(meta, 'tokenizer.ggml.tokens');
  if (rawTexts === undefined) throw new TokenizerError('missing_key', 'tokenizer.ggml.tokens is missing');
  const n = rawTexts.length;
  if (n === 0) throw new TokenizerError('bad_vocab', 'tokenizer.ggml.tokens is empty');

  const rawScores = optNumberArray(meta, 'tokenizer.ggml.scores');
  if (rawScores !== undefined && rawScores.length < n) {
    throw new TokenizerError('bad_vocab', `tokenizer.ggml.scores has ${rawScores.length} entries for ${n} tokens`);
  }
  const types = optNumberArray(meta, 'tokenizer.ggml.token_type');
  if (types !== undefined && types.length < n) {
    throw new TokenizerError('bad_vocab', `tokenizer.ggml.token_type has ${types.length} entries for ${n} tokens`);
  }

  let maxTokenBytes = 0;
  const texts: string[] = new Array(n);
  const scores = new Float32Array(n);
  const attrs = new Uint16Array(n);
  const tokenToId = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const text = rawTexts[i] === '' ? `[EMPTY_${i}]` : rawTexts[i];
    texts[i] = text;
    tokenToId.set(text, i); // a repeated text maps to its last id, as in llama.cpp
    if (kind === 'wpm') maxTokenBytes = Math.max(maxTokenBytes, utf8Length(text));
    if (rawScores !== undefined) scores[i] = rawScores[i];
    attrs[i] = types === undefined ? ATTR_NORMAL : (TYPE_TO_ATTR[types[i]] ?? ATTR_UNDEFINED);
  }

  let ranks: Map<string, number> | null = null;
  if (mergesNeeded) {
    const merges = optStringArray(meta, 'tokenizer.ggml.merges');
    if (merges === undefined) throw new TokenizerError('missing_key', 'tokenizer.ggml.merges is missing');
    ranks = new Map();
    // Walk backwards so that a repeated merge keeps its first (best) rank, as llama.cpp's emplace does.
    for (let i = merges.length - 1; i >= 0; i--) ranks.set(merges[i], i);
  }

  // Special ids from the GGUF; an out-of-range default is dropped, an out-of-range key value is ignored.
  for (const key of SPECIAL_ID_KEYS) {
    const slot = SLOT[key];
    if (ids[slot] >= n) ids[slot] = NO_TOKEN;
    const v = optUint(meta, `tokenizer.ggml.${key}_token_id`);
    if (v !== undefined && v < n) ids[slot] = v;
  }

  addBos = optBool(meta, 'tokenizer.ggml.add_bos_token') ?? addBos;
  addEos = optBool(meta, 'tokenizer.ggml.add_eos_token') ?? addEos;
  // llama.cpp PR #21500: Gemma 4 always starts with BOS, whatever the key says.
  if (pre?.name === 'gemma4' && !addBos) addBos = true;
  const lowercase = optBool(meta, 'tokenizer.ggml.normalizer.lowercase') ?? true;
  const stripAccents = optBool(meta, 'tokenizer.ggml.normalizer.strip_accents') ?? lowercase;

  // One pass over the vocabulary for llama.cpp's fix-ups by token text (it runs them as separate loops over its hash
  // map; they touch only the token at hand, so one pass in id order gives the same result):
  // - a role the GGUF does not name goes to the first token spelled like it, which becomes CONTROL (with two
  //   candidates for one role llama.cpp's pick depends on hash order; we take the lower id);
  // - CONTROL tokens named "unused…" are UNUSED;
  // - tokens spelled like an end of generation join the EOG set and become CONTROL;
  // - gpt-oss's channel tokens are USER_DEFINED (rendered as text).
  const eog = new Set<number>();
  const roles = new Map<string, string[]>();
  for (const [slot, candidates] of ROLE_TEXTS) {
    if (ids[slot] !== NO_TOKEN) continue;
    for (const text of candidates) roles.set(text, [...(roles.get(text) ?? []), slot]);
  }
  for (const [text, id] of tokenToId) {
    for (const slot of roles.get(text) ?? []) {
      if (ids[slot] === NO_TOKEN) {
        ids[slot] = id;
        attrs[id] |= ATTR_CONTROL;
      }
    }
    if (attrs[id] & ATTR_CONTROL && text.includes('unused')) attrs[id] |= ATTR_UNUSED;
  }
  for (const slot of ['fimPad', 'fimRep', 'fimSep']) if (ids[slot] !== NO_TOKEN) eog.add(ids[slot]);
  for (const [text, id] of tokenToId) {
    if (EOG_TEXTS.has(text)) {
      eog.add(id);
      attrs[id] |= ATTR_CONTROL;
    }
    if (ALWAYS_RENDERED.has(text)) attrs[id] = ATTR_USER_DEFINED;
  }
  for (const slot of ['eos', 'eot', 'eom']) if (ids[slot] !== NO_TOKEN) eog.add(ids[slot]);

  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation, when the return/call tokens exist.
  {
    const inEog = (t: string) => [...eog].some((id) => texts[id] === t);
    const endId = [...eog].sort((a, b) => a - b).filter((id) => texts[id] === '<|end|>').pop();
    const hasCall = inEog('<|call|>') || inEog('<|calls|>');
    if (endId !== undefined && ((inEog('<|return|>') && hasCall) || (hasCall && inEog('<|flush|>')))) {
      eog.delete(endId);
      attrs[endId] = ATTR_USER_DEFINED;
    }
  }
  // Gemma 4 / PaddleOCR: "</s>" is ordinary text there, not an end of generation.
  {
    const sorted = [...eog].sort((a, b) => a - b);
    const sId = sorted.filter((id) => texts[id] === '</s>').pop();
    if (sId !== undefined && sorted.some((id) => texts[id] === '<|tool_response>')) {
      eog.delete(sId);
      attrs[sId] = ATTR_NORMAL;
    }
  }

  const specials: number[] = [];
  for (let id = 0; id < n; id++) {
    if (attrs[id] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) specials.push(id);
  }
  const byteLength = new Map(specials.map((id) => [id, utf8Length(texts[id])]));
  specials.sort((a, b) => byteLength.get(b)! - byteLength.get(a)! || a - b);

  applyPerModelAttrs(meta, attrs, tokenToId, specials);

  const byteTokens = new Int32Array(256).fill(NO_TOKEN);
  for (let b = 0; b < 256; b++) {
    const hexForm = tokenToId.get(`<0x${hex2(b)}>`);
    if (kind === 'spm') {
      // llama.cpp's byte_to_token: "<0xXX>", else the byte itself as a one-byte token text.
      byteTokens[b] = hexForm ?? (b > 0 && b < 0x80 ? tokenToId.get(String.fromCharCode(b)) ?? NO_TOKEN : NO_TOKEN);
    } else if (pre !== null && !pre.byteEncode) {
      byteTokens[b] = hexForm ?? NO_TOKEN;
    } else {
      // Byte-level BPE falls back to the one-byte string itself, which only ASCII bytes can spell.
      byteTokens[b] = b < 0x80 ? tokenToId.get(String.fromCharCode(b)) ?? NO_TOKEN : NO_TOKEN;
    }
  }

  return {
    model, kind, pre, texts, scores, attrs, tokenToId, ranks, byteTokens,
    bos: ids.bos, eos: ids.eos, unk: ids.unk, sep: ids.sep, addBos, addEos, addSpacePrefix, escapeWhitespaces,
    cleanSpaces, eog, specials, lowercase, stripAccents, maxTokenBytes,
  };
}

/** llama.cpp's "per token attributes" by model name (strip spaces around some special tokens). */
function applyPerModelAttrs(
  meta: Metadata, attrs: Uint16Array, tokenToId: ReadonlyMap<string, number>, specials: readonly number[],
): void {
  const str = (key: string) => {
    const v = meta.get(key);
    return typeof v === 'string' ? v : '';
  };
  const name = str('general.name').toLowerCase();
  const pre = str('tokenizer.ggml.pre');
  const arch = str('general.architecture');
  const has = (s: string, subs: string[]) => subs.some((x) => s.includes(x));
  const set = (text: string, attr: number, on: boolean) => {
    const id = tokenToId.get(text);
    if (id === undefined) return;
    attrs[id] = on ? attrs[id] | attr : attrs[id] & ~attr;
  };
  if (has(pre, ['jina-v2-de', 'jina-v2-es', 'jina-v2-code']) || has(arch, ['nomic-bert-moe', 'jina-bert-v3'])) {
    set('<mask>', ATTR_LSTRIP, true);
  } else if (has(name, ['phi-3', 'phi3'])) {
    for (const id of specials) attrs[id] |= ATTR_RSTRIP;
    set('</s>', ATTR_RSTRIP, true);
    for (const t of ['<unk>', '<s>', '<|endoftext|>']) set(t, ATTR_RSTRIP, false);
  } else if (has(name, ['modern-bert'])) {
    set('[MASK]', ATTR_LSTRIP, true);
  }
}
