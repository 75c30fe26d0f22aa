import type { SpeculativeOptions, SpeculativeType } from './speculative/drafter.ts';

export type { SpeculativeOptions, SpeculativeType };

/**
 * What the rest of hearth (http/, cli, library users) sees of the engine. Nothing here knows about wasm or HTTP.
 */

export interface ModelInfo {
  /** Model id as served in /v1/models: the file's base name without ".gguf", never a path. */
  id: string;
  /** `general.architecture` ("llama", "gemma4", ...). */
  arch: string;
  /** `general.name` if present. */
  name: string | null;
  /** Trained context length from the GGUF. */
  trainedContext: number;
  vocabSize: number;
  /** Parameter count, summed over tensors. */
  parameters: number;
  /** Total bytes of weights. */
  weightBytes: number;
  /** `tokenizer.chat_template` if the GGUF has one. */
  chatTemplate: string | null;
  bosToken: string | null;
  eosToken: string | null;
}

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  topK: number; // 0 = off
  topP: number; // 1 = off
  minP: number; // 0 = off
  repeatPenalty: number; // 1 = off
  repeatLastN: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** Token id → additive bias. */
  logitBias?: Record<number, number>;
  seed?: number;
}

export const defaultSampling: SamplingParams = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
  repeatLastN: 64,
  frequencyPenalty: 0,
  presencePenalty: 0,
};

/**
 * Image or audio in a prompt: the prompt holds `rows` placeholder ids (`<|image|>` / `<|audio|>`) at
 * [start, start + rows); prefill runs the projector on `input` and feeds its embedding rows there instead of the
 * placeholders' token embeddings. An image span is decoded as one batch (non-causal on sliding layers), audio
 * causally.
 */
export interface MediaSpan {
  start: number;
  kind: 'image' | 'audio';
  rows: number;
  /** Patches (rows × 6912, CHW order per patch) or frames (rows × 640 samples). */
  input: Float32Array;
  /** Image grid columns (patch k sits at column k % cols, row k / cols). Required for images. */
  cols?: number;
}

/** What an engine with an mmproj accepts (absent without one). */
export interface EngineMedia {
  image: null | { mean: number[]; std: number[]; minTokens: number; maxTokens: number };
  audio: null | { sampleRate: number; frameSamples: number };
  /** Media token ids (looked up by text in the vocabulary; -1 where it has none, only possible for a part the
   * projector lacks). */
  tokens: { imageBegin: number; imageEnd: number; imageSoft: number; audioBegin: number; audioEnd: number; audioSoft: number };
}

export interface GenerateRequest {
  /** Prompt token ids, already tokenized (BOS included if the model wants it). */
  prompt: number[];
  /** Media spans of the prompt, in any order, not overlapping (needs an engine with `media`). */
  media?: MediaSpan[];
  maxTokens: number;
  sampling: SamplingParams;
  /** Stop strings: generation ends before the first occurrence; the stop string is not returned. */
  stop?: string[];
  /** Stop on end-of-generation tokens (EOS, end-of-turn). Default true. */
  stopOnEog?: boolean;
  /** Return the chosen token's logprob and this many alternatives per step (0 = chosen only; undefined = none). */
  logprobs?: number;
  signal?: AbortSignal;
  /** Speculative decoding for this request (default: the engine's). */
  speculative?: SpeculativeOptions;
}

export interface TokenLogprob {
  id: number;
  text: string;
  logprob: number;
}

export type GenerationEvent =
  | {
      type: 'token';
      id: number;
      /** Text this token completes (may be '' while a UTF-8 sequence or a possible stop string is pending). */
      text: string;
      logprob?: TokenLogprob & { top: TokenLogprob[] };
    }
  | {
      type: 'done';
      finishReason: 'stop' | 'length' | 'abort';
      /** Any text held back (pending stop-string prefix that turned out not to be one). */
      text: string;
      usage: Usage;
      timings: Timings;
    };

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Present when the generation speculated. */
  speculative?: {
    type: SpeculativeType;
    draftedTokens: number;
    acceptedTokens: number;
    acceptanceRate: number;
    /** Tokens emitted per target forward while decoding (1 without speculation). */
    tokensPerStep: number;
  };
}

export interface Timings {
  /** Wait in the queue before a slot was free. */
  queueMs: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokS: number;
  decodeTokS: number;
}

/** A running or queued generation. Iterate for events; cancel() frees its slot at once. */
export interface Generation extends AsyncIterable<GenerationEvent> {
  cancel(): void;
}

export interface EngineStats {
  /** No generation queued or running, and the step loop has stopped. */
  idle: boolean;
  slots: number;
  active: number;
  queued: number;
  queueLimit: number;
  contextPerSlot: number;
  requestsTotal: number;
  promptTokensTotal: number;
  completionTokensTotal: number;
  draftedTokensTotal: number;
  acceptedTokensTotal: number;
  /** Target forwards while decoding, summed over generations (completion tokens ÷ this ≈ tokens per step). */
  decodeStepsTotal: number;
  /** Decode tokens/s over the recent window. */
  decodeTokS: number;
}

export type EngineErrorCode = 'queue_full' | 'context_overflow' | 'invalid_request' | 'internal';

/** An error with the HTTP-relevant meaning attached; http/ maps code → status. */
export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface Engine {
  readonly info: ModelInfo;
  /** Image/audio input, when the model was loaded with an mmproj. */
  readonly media?: EngineMedia;
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): number[];
  detokenize(ids: number[], options?: { removeSpecial?: boolean }): string;
  /** The text of one token (for logprobs, /detokenize pieces). */
  tokenText(id: number): string;
  /** Queue a generation. Throws EngineError('queue_full' | 'context_overflow' | 'invalid_request'). */
  submit(request: GenerateRequest): Generation;
  stats(): EngineStats;
  close(): Promise<void>;
}

export interface LoadProgress {
  phase: 'header' | 'weights' | 'ready';
  loadedBytes: number;
  totalBytes: number;
}
