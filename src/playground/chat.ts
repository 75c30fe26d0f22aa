/**
 * One streamed chat completion: POST /v1/chat/completions with `stream: true`, the text as it comes, and what the
 * last chunks carry: usage (with hearth's `speculative` extension) and llama.cpp-style `timings`.
 */
import { apiFetch, ApiError, errorOf } from './api.ts';
import type { ContentPart } from './media.ts';
import { sseEvents } from './sse.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

export interface ChatRequest {
  model?: string;
  messages: ChatMessage[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  speculative?: { type: string };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  /** hearth: present when the reply was speculated. */
  speculative?: {
    type: string;
    drafted_tokens: number;
    accepted_tokens: number;
    acceptance_rate: number;
    tokens_per_step: number;
  };
}

/** llama.cpp's server names, in the last chunk. */
export interface Timings {
  prompt_n: number;
  prompt_ms: number;
  prompt_per_second: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_second: number;
}

export interface ReplyEnd {
  finishReason: string | null;
  usage: Usage | null;
  timings: Timings | null;
}

interface Chunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: Usage | null;
  timings?: Timings;
  error?: { message: string; code?: string | null; param?: string | null };
}

/**
 * Streams one reply. `onText` gets each piece of text as it arrives. Aborting `signal` (the stop button) closes the
 * connection, which is how the server learns to free the slot; it rejects with the AbortError.
 */
export async function streamChat(request: ChatRequest, signal: AbortSignal, onText: (text: string) => void): Promise<ReplyEnd> {
  const res = await apiFetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!res.ok) throw await errorOf(res);
  if (!res.body) throw new ApiError('The server sent no body.', res.status);
  const end: ReplyEnd = { finishReason: null, usage: null, timings: null };
  for await (const event of sseEvents(res.body)) {
    const chunk = event as Chunk;
    if (chunk.error) {
      // headers were sent already: the server reports a failure as an event
      throw new ApiError(chunk.error.message, res.status, chunk.error.code ?? null, chunk.error.param ?? null);
    }
    const choice = chunk.choices?.[0];
    if (choice?.delta?.content) onText(choice.delta.content);
    if (choice?.finish_reason) end.finishReason = choice.finish_reason;
    if (chunk.usage) end.usage = chunk.usage;
    if (chunk.timings) end.timings = chunk.timings;
  }
  if (end.finishReason === null) throw new ApiError('The stream ended before the reply was finished.', res.status);
  return end;
}
