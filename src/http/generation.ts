/**
 * What chat and completions share: running a generation to the end (non-streaming), the finish reason and usage in
 * OpenAI's words, and logprobs in the two shapes OpenAI uses (chat's per-token objects, completions' parallel
 * arrays).
 */
import type { GenerationEvent, Generation, Timings, TokenLogprob, Usage } from '../engine/api.ts';

type TokenEvent = Extract<GenerationEvent, { type: 'token' }>;
type DoneEvent = Extract<GenerationEvent, { type: 'done' }>;

export interface Collected {
  text: string;
  finishReason: 'stop' | 'length';
  usage: Usage;
  timings: Timings;
  /** Per generated token, with its logprobs when they were asked for. */
  tokens: TokenEvent[];
}

export async function collect(generation: Generation): Promise<Collected> {
  let text = '';
  const tokens: TokenEvent[] = [];
  for await (const event of generation) {
    if (event.type === 'token') {
      text += event.text;
      tokens.push(event);
    } else {
      text += event.text;
      return { text, finishReason: finishReason(event), usage: event.usage, timings: event.timings, tokens };
    }
  }
  throw new Error('the generation ended without a done event');
}

/** 'abort' only happens when the client is gone; nobody reads it, but it must still be one of OpenAI's values. */
export function finishReason(done: DoneEvent): 'stop' | 'length' {
  return done.finishReason === 'length' ? 'length' : 'stop';
}

export function usageOf(usage: Usage) {
  const out: Record<string, unknown> = {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
  // a hearth extension beside OpenAI's fields: what speculation drafted and what the target kept
  if (usage.speculative) {
    const s = usage.speculative;
    out.speculative = {
      type: s.type,
      drafted_tokens: s.draftedTokens,
      accepted_tokens: s.acceptedTokens,
      acceptance_rate: s.acceptanceRate,
      tokens_per_step: s.tokensPerStep,
    };
  }
  return out;
}

/**
 * llama.cpp's server `timings` object, with its names so clients written for llama.cpp read it: prompt processing
 * and decoding speed. Beside `usage` (never inside it: OpenAI clients check usage's shape) on whole responses and on
 * the last chunk of a stream, as llama.cpp sends it.
 */
export function timingsOf(usage: Usage, timings: Timings) {
  const perToken = (tokS: number) => (tokS > 0 ? 1000 / tokS : 0);
  return {
    prompt_n: usage.promptTokens,
    prompt_ms: timings.prefillMs,
    prompt_per_token_ms: perToken(timings.prefillTokS),
    prompt_per_second: timings.prefillTokS,
    predicted_n: usage.completionTokens,
    predicted_ms: timings.decodeMs,
    predicted_per_token_ms: perToken(timings.decodeTokS),
    predicted_per_second: timings.decodeTokS,
  };
}

const encoder = new TextEncoder();

function chatEntry(t: TokenLogprob) {
  return { token: t.text, logprob: t.logprob, bytes: [...encoder.encode(t.text)] };
}

/** Chat: `{ content: [{ token, logprob, bytes, top_logprobs: [...] }] }`. */
export function chatLogprobs(tokens: TokenEvent[]) {
  return {
    content: tokens
      .filter((t) => t.logprob)
      .map((t) => ({ ...chatEntry(t.logprob!), top_logprobs: t.logprob!.top.map(chatEntry) })),
    refusal: null,
  };
}

/** Completions: parallel arrays, `top_logprobs` as `{ text: logprob }` maps, offsets into the returned text. */
export function completionLogprobs(tokens: TokenEvent[], textOffset: number) {
  const out = {
    tokens: [] as string[],
    token_logprobs: [] as number[],
    top_logprobs: [] as Record<string, number>[],
    text_offset: [] as number[],
  };
  let offset = textOffset;
  for (const t of tokens) {
    if (!t.logprob) continue;
    out.tokens.push(t.logprob.text);
    out.token_logprobs.push(t.logprob.logprob);
    out.top_logprobs.push(Object.fromEntries(t.logprob.top.map((e) => [e.text, e.logprob])));
    out.text_offset.push(offset);
    offset += t.logprob.text.length;
  }
  return out;
}

export function requestId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
