/**
 * hearth-nano's vocabulary file (vocab.json), the tokenizer built from it, and the token layout of one example: the
 * same ids hearth's chat route produces for the same request, so training, evaluation and serving agree.
 *
 * The layout (HELPERS.md, hearth-nano contract): the chat template rendered with @huggingface/jinja, the text cut at
 * the media marker, each piece tokenized on its own (BOS only on the first, special tokens parsed), the medium put in
 * as `<|image>` + rows × `<|image|>` + `<image|>` (audio alike), then the answer and `<turn|>` — exactly what
 * src/http/media.ts mediaPrompt does with a request whose user content is the prompt text and one media part.
 */
import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import { createTokenizer, type Tokenizer } from '../../src/engine/tokenizer/index.ts';

/** What vocab.ts writes. ids of the special tokens are indices into `tokens`. */
export interface NanoVocab {
  tokens: string[];
  scores: number[];
  types: number[];
  merges: string[];
  bos: number;
  eos: number;
  pad: number;
  unk: number;
  mask: number;
  chatTemplate: string;
}

/** One line of data.py's train.jsonl / heldout.jsonl. */
export interface NanoExample {
  id: string;
  task: string;
  kind: 'text' | 'image' | 'audio';
  prompt: string;
  media: string | null;
  /** The medium before the prompt text (true) or after it. */
  mediaFirst?: boolean;
  answer: string;
}

/** One line of train.tokens.jsonl / heldout.tokens.jsonl. */
export interface NanoTokens {
  id: string;
  ids: number[];
  /** Index of the first answer token; the loss covers ids[lossFrom..], the closing `<turn|>` included. */
  lossFrom: number;
  media: null | { kind: 'image' | 'audio'; path: string; start: number; rows: number };
}

/** Gemma 4's special tokens, in the order of their ids in the nano vocabulary (ids 0–4 as in Gemma 4). */
export const SPECIAL_TOKENS = [
  '<pad>', '<eos>', '<bos>', '<unk>', '<mask>', '<|turn>', '<turn|>', '<|image>', '<image|>', '<|image|>',
  '<|audio>', '<audio|>', '<|audio|>', '<|channel>', '<channel|>', '<|think|>',
] as const;

// llama.cpp's token types (LLAMA_TOKEN_TYPE_*)
export const TOKEN_NORMAL = 1;
export const TOKEN_UNKNOWN = 2;
export const TOKEN_CONTROL = 3;

/**
 * A compact Gemma-4-style chat template: `<bos>`, then per message `<|turn>{role}\n{content}<turn|>\n` (assistant
 * called model), content trimmed as Gemma 4's own template does, content parts rendered with the placeholders
 * `<|image|>` / `<|audio|>`, and `<|turn>model\n` as the generation prompt. No thinking channel: the nano model
 * has none. Written in the subset of Jinja that both llama.cpp's and @huggingface/jinja's engines run.
 */
export const CHAT_TEMPLATE =
  "{{- bos_token -}}" +
  "{%- for message in messages -%}" +
  "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}" +
  "{{- '<|turn>' + role + '\\n' -}}" +
  "{%- if message['content'] is string -%}" +
  "{{- message['content'] | trim -}}" +
  "{%- else -%}" +
  "{%- for item in message['content'] -%}" +
  "{%- if item['type'] == 'text' -%}{{- item['text'] | trim -}}" +
  "{%- elif item['type'] == 'image' -%}{{- '<|image|>' -}}" +
  "{%- elif item['type'] == 'audio' -%}{{- '<|audio|>' -}}" +
  "{%- endif -%}" +
  "{%- endfor -%}" +
  "{%- endif -%}" +
  "{{- '<turn|>\\n' -}}" +
  "{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '<|turn>model\\n' -}}{%- endif -%}";

export function readVocab(path: string): NanoVocab {
  const v = JSON.parse(readFileSync(path, 'utf8')) as NanoVocab;
  if (!Array.isArray(v.tokens) || v.tokens.length !== v.types?.length || v.tokens.length !== v.scores?.length) {
    throw new Error(`${path}: tokens, scores and types must be arrays of one length`);
  }
  return v;
}

/** The GGUF tokenizer.* keys of a nano vocabulary (what export.ts writes, what hearth and llama.cpp read). */
export function tokenizerMetadata(v: NanoVocab): Map<string, unknown> {
  return new Map<string, unknown>([
    ['tokenizer.ggml.model', 'gemma4'],
    ['tokenizer.ggml.tokens', v.tokens],
    ['tokenizer.ggml.scores', Float32Array.from(v.scores)],
    ['tokenizer.ggml.token_type', Int32Array.from(v.types)],
    ['tokenizer.ggml.merges', v.merges],
    ['tokenizer.ggml.bos_token_id', v.bos],
    ['tokenizer.ggml.eos_token_id', v.eos],
    ['tokenizer.ggml.unknown_token_id', v.unk],
    ['tokenizer.ggml.padding_token_id', v.pad],
    ['tokenizer.ggml.mask_token_id', v.mask],
    ['tokenizer.ggml.add_bos_token', true],
    ['tokenizer.ggml.add_eos_token', false],
    ['tokenizer.ggml.add_space_prefix', false],
    ['tokenizer.chat_template', v.chatTemplate],
  ]);
}

/** hearth's own tokenizer (src/engine/tokenizer), built from the vocabulary as it would be from the GGUF. */
export function nanoTokenizer(v: NanoVocab): Tokenizer {
  return createTokenizer(tokenizerMetadata(v));
}

/** Stands for the medium in the rendered text (cannot occur in data text: data.py writes no '<_'). */
const MARKER = '<__nano_media__>';

/** Soft-token rows of a medium: a 480×336 image is the 10×7 patch grid; audio is one row per 640 samples. */
export function mediaRows(kind: 'image' | 'audio', imageSize: { width: number; height: number } | null, samples: number): number {
  if (kind === 'image') {
    const { width, height } = imageSize!;
    if (width % 48 || height % 48) throw new Error(`image ${width}×${height} is not on the 48-px grid`);
    return (width / 48) * (height / 48);
  }
  return Math.ceil(samples / 640);
}

/** The special tokens the layout puts in itself. */
const LAYOUT_TOKENS = ['<|turn>', '<turn|>', '<|image>', '<image|>', '<|image|>', '<|audio>', '<audio|>', '<|audio|>'] as const;

export interface Layout {
  tok: Tokenizer;
  template: Template;
  ids: Record<(typeof LAYOUT_TOKENS)[number], number>;
}

export function layoutFor(v: NanoVocab): Layout {
  return layoutOf(nanoTokenizer(v), v.chatTemplate);
}

/** The layout from any tokenizer and template: eval.ts passes the GGUF's own, as the server uses them. */
export function layoutOf(tok: Tokenizer, chatTemplate: string): Layout {
  const ids = {} as Layout['ids'];
  for (const s of LAYOUT_TOKENS) {
    const id = tok.tokenId(s);
    if (id === undefined) throw new Error(`the vocabulary has no ${s}`);
    ids[s] = id;
  }
  return { tok, template: new Template(chatTemplate), ids };
}

/**
 * The prompt ids of an example (up to and including `<|turn>model\n`) and where its medium's rows are, as hearth's
 * chat route builds them: the template's BOS is dropped because the tokenizer adds it (src/http/chat-template.ts).
 */
export function promptIds(
  L: Layout,
  ex: Pick<NanoExample, 'prompt' | 'media' | 'mediaFirst' | 'kind'>,
  rows: number,
): { ids: number[]; media: NanoTokens['media'] } {
  const content = ex.media ? (ex.mediaFirst ? MARKER + ex.prompt : ex.prompt + MARKER) : ex.prompt;
  let text = L.template.render({
    messages: [{ role: 'user', content }],
    add_generation_prompt: true,
    bos_token: '<bos>',
    eos_token: '<eos>',
  });
  if (text.startsWith('<bos>')) text = text.slice('<bos>'.length);
  const pieces = text.split(MARKER);
  if (pieces.length !== (ex.media ? 2 : 1)) throw new Error(`the chat template kept ${pieces.length - 1} media markers`);
  const ids = L.tok.encode(pieces[0], { addSpecial: true, parseSpecial: true });
  let media: NanoTokens['media'] = null;
  if (ex.media) {
    const kind = ex.kind as 'image' | 'audio';
    const [begin, soft, end] = kind === 'image'
      ? [L.ids['<|image>'], L.ids['<|image|>'], L.ids['<image|>']]
      : [L.ids['<|audio>'], L.ids['<|audio|>'], L.ids['<audio|>']];
    ids.push(begin);
    media = { kind, path: ex.media, start: ids.length, rows };
    for (let r = 0; r < rows; r++) ids.push(soft);
    ids.push(end);
    if (pieces[1] !== '') ids.push(...L.tok.encode(pieces[1], { addSpecial: false, parseSpecial: true }));
  }
  return { ids, media };
}

/** The answer's ids and the closing `<turn|>`; the answer is tokenized as the model writes it (no special parsing). */
export function answerIds(L: Layout, answer: string): number[] {
  return [...L.tok.encode(answer, { addSpecial: false, parseSpecial: false }), L.ids['<turn|>']];
}
