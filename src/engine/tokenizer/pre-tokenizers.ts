/**
 * The byte-level BPE pre-tokenizers, chosen by `tokenizer.ggml.pre`, with the vocabulary flags each name implies in
 * llama.cpp (LC:src/llama-vocab.cpp `llama_vocab::impl::load` and `llm_tokenizer_bpe`). The split patterns come from
 * the models' own tokenizer.json files; where llama.cpp runs a hand-written scanner we do too (see word-split.ts).
 */

import { TokenizerError } from './errors.ts';
import { gpt2Splitter, llama3Splitter, newlineSplitter, regexSplitter, type Splitter } from './word-split.ts';

export interface PreTokenizer {
  /** The name as matched (for messages). */
  readonly name: string;
  /** Applied in order; each refines the previous one's words. */
  readonly splitters: readonly Splitter[];
  /** Map every UTF-8 byte to GPT-2's printable stand-in before merging (false: merge raw UTF-8 text). */
  readonly byteEncode: boolean;
  /** Spaces become U+2581 before splitting (SentencePiece-style BPE: Gemma 4). */
  readonly escapeWhitespaces: boolean;
  /** Detokenize applies llama.cpp's clean_up_tokenization_spaces passes. */
  readonly cleanSpaces: boolean;
  /** A word that is itself a vocabulary token is emitted whole, without merging (tiktoken-style vocabularies). */
  readonly ignoreMerges: boolean;
  /** The BOS default before `tokenizer.ggml.add_bos_token` (llama.cpp sets it for some families). */
  readonly addBos: boolean;
  /** The family has no BOS token by default (chatglm). */
  readonly noBos: boolean;
}

// Patterns, as llama.cpp writes them (case-insensitive groups spelled out, as std::regex lacks `(?i:`).
const CONTRACTIONS = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`;
const P_DEFAULT_PUNCT = String.raw`[\p{P}\$\+<=>\^~\|]+`;
const P_FALCON_PUNCT = String.raw`[\p{P}\$\+<=>\^~\|` + '`' + String.raw`]+`;
const P_DIGITS = String.raw`\p{N}+`;
const P_DIGIT = String.raw`\p{N}`;
const P_DIGITS_1_3 = String.raw`\p{N}{1,3}`;
const P_THREE_ASCII_DIGITS = '[0-9][0-9][0-9]';
const P_CJK_KANA = '[一-龥぀-ゟ゠-ヿ]+';
const P_ASCII_PUNCT_WORD = String.raw`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + '`' + String.raw`{|}~][A-Za-z]+`;
const P_DEEPSEEK3 =
  P_ASCII_PUNCT_WORD + String.raw`|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_SPARK =
  P_ASCII_PUNCT_WORD + String.raw`|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+`;
const P_DEEPSEEK_CODER = ['[\r\n]', String.raw`\s?\p{L}+`, String.raw`\s?\p{P}+`, '[一-龥ࠀ-一가-퟿]+', P_DIGIT];
const P_TEKKEN = String.raw`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_GPT4O = String.raw`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+` + CONTRACTIONS +
  String.raw`?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*` + CONTRACTIONS +
  String.raw`?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_GRANITE_EMB_MULTI = String.raw`[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+` +
  CONTRACTIONS + String.raw`?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*` +
  CONTRACTIONS + String.raw`?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_YOUTU_CJK = '[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+';
const P_YOUTU = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` + CONTRACTIONS +
  String.raw`?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` + CONTRACTIONS +
  String.raw`?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_BLOOM = String.raw` ?[^(\s|.,!?…。，、।۔،)]+`;
const P_SEED_CODER = CONTRACTIONS +
  String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_BAILINGMOE = String.raw`'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`;
const P_UFAKZEKA = String.raw`[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_EXAONE_MOE = CONTRACTIONS +
  String.raw`|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+`;
const P_MINICPM5 = CONTRACTIONS +
  String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const P_JAIS2 = CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+` +
  String.raw`|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}`;
const P_CHAMELEON = ['<sentinel:[0-9]+>', '(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z', '([\\t\\n]|    |  )', P_DIGIT,
  String.raw`[\p{P}!-/:-@\[-` + '`' + String.raw`{-~]`];

type Step = Splitter | string;

interface Family {
  names: readonly string[];
  steps: readonly Step[];
  byteEncode?: boolean;
  escapeWhitespaces?: boolean;
  cleanSpaces?: boolean;
  ignoreMerges?: boolean;
  addBos?: boolean;
  noBos?: boolean;
}

const llama3 = llama3Splitter(3, false);
const qwen2 = llama3Splitter(1, false);
const qwen35 = llama3Splitter(1, true);

// One row per llama.cpp pre-tokenizer type; `names` are the tokenizer.ggml.pre values that select it. Flags not
// given keep llama.cpp's BPE defaults (byte-encoded, clean spaces on, no BOS, merges always applied).
const FAMILIES: readonly Family[] = [
  { names: ['default'], steps: [P_DEFAULT_PUNCT, gpt2Splitter, P_DIGITS, P_THREE_ASCII_DIGITS] },
  {
    names: ['gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum',
      'modern-bert', 'jina-v1-en', 'jina-v2-code', 'roberta-bpe', 'mpt', 'olmo', 'jais', 'exaone4'],
    steps: [gpt2Splitter],
  },
  { names: ['trillion', 'granite-docling'], steps: [gpt2Splitter], cleanSpaces: false },
  {
    names: ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'],
    steps: [llama3], ignoreMerges: true, addBos: true,
  },
  { names: ['dbrx', 'smaug-bpe'], steps: [llama3] },
  { names: ['glm4', 'chatglm-bpe'], steps: [llama3], noBos: true },
  { names: ['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2'], steps: [qwen2], cleanSpaces: false },
  { names: ['megrez', 'stablelm2'], steps: [qwen2] },
  { names: ['hunyuan', 'solar-open', 'grok-2'], steps: [qwen2], cleanSpaces: false },
  { names: ['qwen35'], steps: [qwen35], cleanSpaces: false },
  { names: ['starcoder', 'refact', 'codeshell', 'exaone', 'minerva-7b', 'mellum2'], steps: [P_DIGIT, gpt2Splitter] },
  { names: ['command-r', 'smollm'], steps: [P_DIGIT, gpt2Splitter], cleanSpaces: false },
  { names: ['falcon'], steps: [P_FALCON_PUNCT, gpt2Splitter, P_THREE_ASCII_DIGITS] },
  { names: ['deepseek-coder'], steps: P_DEEPSEEK_CODER, cleanSpaces: false },
  {
    names: ['deepseek-v3', 'hunyuan-dense', 'hy_v4', 'joyai-llm'],
    steps: [P_DIGITS_1_3, P_CJK_KANA, P_DEEPSEEK3], cleanSpaces: false,
  },
  { names: ['spark2_5'], steps: [P_DIGITS_1_3, P_CJK_KANA, P_SPARK, P_DIGIT], cleanSpaces: false },
  { names: ['youtu'], steps: [P_YOUTU_CJK, P_YOUTU], cleanSpaces: false, ignoreMerges: true },
  { names: ['tekken'], steps: [P_TEKKEN], cleanSpaces: false, ignoreMerges: true, addBos: true },
  { names: ['gpt-4o', 'llama4', 'kanana2', 'talkie', 'minimax-m2'], steps: [P_GPT4O], cleanSpaces: false },
  { names: ['granite-embed-multi-97m'], steps: [P_GRANITE_EMB_MULTI], cleanSpaces: false, ignoreMerges: true },
  { names: ['bloom', 'gpt3-finnish'], steps: [P_BLOOM] },
  { names: ['poro-chat'], steps: [P_BLOOM], cleanSpaces: false },
  { names: ['viking'], steps: [P_BLOOM, P_DIGIT], cleanSpaces: false },
  { names: ['jais-2'], steps: [P_JAIS2] },
  { names: ['seed-coder'], steps: [P_SEED_CODER], cleanSpaces: false },
  { names: ['bailingmoe', 'bailingmoe2', 'llada-moe'], steps: [P_BAILINGMOE], cleanSpaces: false },
  { names: ['ufakzeka'], steps: [P_UFAKZEKA], cleanSpaces: false },
  { names: ['laguna'], steps: [newlineSplitter, qwen2], cleanSpaces: false },
  { names: ['exaone-moe'], steps: [P_EXAONE_MOE] },
  { names: ['minicpm5'], steps: [P_DIGITS_1_3, P_MINICPM5], ignoreMerges: true },
  { names: ['chameleon'], steps: [...P_CHAMELEON, gpt2Splitter], cleanSpaces: false, addBos: true },
  // SentencePiece-style BPE: the normalizer turned spaces into U+2581, merges run on raw UTF-8; only newlines split.
  { names: ['gemma4', 'granite-embed-multi-311m'], steps: [newlineSplitter], byteEncode: false, escapeWhitespaces: true },
  { names: ['sarvam-moe'], steps: [newlineSplitter], byteEncode: false, escapeWhitespaces: true, cleanSpaces: false },
];

const byName = new Map<string, Family>();
for (const family of FAMILIES) for (const name of family.names) byName.set(name, family);

const built = new Map<Family, readonly Splitter[]>();

/**
 * The pre-tokenizer for a `tokenizer.ggml.pre` value. An absent value means llama.cpp's 'default' (which it warns
 * degrades quality); an unknown one is refused, as llama.cpp refuses to load it.
 */
export function preTokenizerFor(name: string | undefined): PreTokenizer {
  const key = name === undefined || name === '' ? 'default' : name;
  const family = byName.get(key);
  if (family === undefined) {
    throw new TokenizerError('unsupported_pre', `unknown or unsupported pre-tokenizer type: '${key}'`);
  }
  let splitters = built.get(family);
  if (splitters === undefined) {
    splitters = family.steps.map((s) => (typeof s === 'string' ? regexSplitter(s) : s));
    built.set(family, splitters);
  }
  return {
    name: key,
    splitters,
    byteEncode: family.byteEncode ?? true,
    escapeWhitespaces: family.escapeWhitespaces ?? false,
    cleanSpaces: family.cleanSpaces ?? true,
    ignoreMerges: family.ignoreMerges ?? false,
    addBos: family.addBos ?? false,
    noBos: family.noBos ?? false,
  };
}

/** Every name preTokenizerFor accepts (for tests). */
export const preTokenizerNames: readonly string[] = [...byName.keys()];
