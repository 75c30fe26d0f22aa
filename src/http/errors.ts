/**
 * Every error leaves the server in OpenAI's shape: `{ "error": { "message", "type", "param", "code" } }`, with the
 * HTTP status a client library keys its behaviour on (the `openai` client retries 429/5xx, raises 400/401/404 as
 * typed errors).
 */
import { EngineError } from '../engine/api.ts';

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'rate_limit_error' | 'server_error';

export interface OpenAIErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

/** An error with its HTTP meaning attached; anything thrown in a route that is not one becomes a 500. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 413 | 429 | 500 | 503,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Seconds, sent as `Retry-After` (429, 503). */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get type(): ErrorType {
    if (this.status === 401) return 'authentication_error';
    if (this.status === 429) return 'rate_limit_error';
    if (this.status >= 500) return 'server_error';
    return 'invalid_request_error';
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, code, param);

/** Engine errors carry a code; this is where each becomes a status. */
export function fromEngineError(err: EngineError): ApiError {
  switch (err.code) {
    case 'queue_full':
      return new ApiError(429, err.message, 'queue_full', null, Math.max(1, Math.ceil(err.retryAfterS ?? 1)));
    case 'context_overflow':
      return new ApiError(400, err.message, 'context_length_exceeded', 'messages');
    case 'invalid_request':
      return new ApiError(400, err.message, 'invalid_request');
    default:
      return new ApiError(500, err.message, 'internal_error');
  }
}

/** Any thrown value → an ApiError; unknown errors become a 500 whose message names the problem (no stack). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof EngineError) return fromEngineError(err);
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, `internal error: ${message}`, 'internal_error');
}

export function errorResponse(err: ApiError, headers: Record<string, string> = {}): Response {
  const h: Record<string, string> = { 'content-type': 'application/json', ...headers };
  if (err.retryAfterS !== undefined) h['retry-after'] = String(err.retryAfterS);
  if (err.status === 401) h['www-authenticate'] = 'Bearer';
  return new Response(JSON.stringify(err.body()), { status: err.status, headers: h });
}
