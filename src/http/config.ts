import type { SpeculativeOptions } from '../engine/api.ts';
import { defaultMediaLimits, type MediaLimits } from './media.ts';

/**
 * Server settings, the same on every host. Hosts fill them from their environment (process.env, workerd/wrangler
 * `env` bindings, Deno.env) through `configFromEnv`; the Node CLI overrides from its flags.
 */

export interface ServerConfig {
  /** Bearer key every route but /health requires; null = open. */
  apiKey: string | null;
  /** Origins allowed by CORS; null = CORS off (no headers, preflights get 404); ['*'] = any origin. */
  corsOrigins: string[] | null;
  /** Largest request body accepted (413 above). */
  maxBodyBytes: number;
  /** How long an API request waits for a model that is still loading before it gets a 503 with Retry-After. */
  loadWaitMs: number;
  /** Limits on images and audio in requests. */
  media: MediaLimits;
}

export interface EngineConfig {
  /** Parallel slots, each with its own KV cache. */
  parallel: number;
  /** Requests allowed to wait for a slot; more get 429. */
  queueLimit: number;
  /** Context per slot in tokens; null = the model's trained context, capped at 4096. */
  context: number | null;
  /** Threads for the core (Node/Deno; workerd has one). null = the engine's choice by model size. */
  threads: number | null;
  /** Speculative decoding for requests that do not ask for their own (null = none). */
  speculative?: SpeculativeOptions | null;
  /** Soft tokens per image, least and most (null = llama.cpp's 70 / 1120). */
  imageMinTokens?: number | null;
  imageMaxTokens?: number | null;
}

export const defaultServerConfig: ServerConfig = {
  apiKey: null,
  corsOrigins: null,
  // a 20 MB image as base64 in JSON is ~27 MB
  maxBodyBytes: 32 * 1024 * 1024,
  loadWaitMs: 5000,
  media: defaultMediaLimits,
};

export const defaultEngineConfig: EngineConfig = { parallel: 4, queueLimit: 64, context: null, threads: null, speculative: null };

/** "ngram", "ngram:4", "draft:3", "mtp:2:fixed", "none" → speculative options. */
export function speculativeFromText(value: string, name: string): SpeculativeOptions | null {
  const m = /^(none|ngram|draft|mtp)(?::(\d+))?(:fixed)?$/.exec(value.trim());
  if (!m) throw new ConfigError(`${name} must be TYPE, TYPE:N or TYPE:N:fixed with TYPE one of none, ngram, draft, mtp (got '${value}')`);
  if (m[1] === 'none') return null;
  return { type: m[1] as SpeculativeOptions['type'], nMax: m[2] ? wholeNumber(m[2], name, 1, 16) : 4, ...(m[3] ? { adaptive: false } : {}) };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, unknown>;

function text(env: Env, name: string): string | null {
  const v = env[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

export function wholeNumber(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

function flag(env: Env, name: string): boolean | null {
  const v = text(env, name);
  if (v === null) return null;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name} must be 1/true or 0/false, got '${v}'`);
}

function integerFrom(env: Env, name: string, max: number, min = 1): number | null {
  const v = text(env, name);
  return v === null ? null : wholeNumber(v, name, min, max);
}

/**
 * HEARTH_API_KEY, HEARTH_CORS_ORIGINS (comma-separated, or *), HEARTH_MAX_BODY_BYTES, HEARTH_LOAD_WAIT_MS,
 * HEARTH_PARALLEL, HEARTH_QUEUE_LIMIT, HEARTH_CONTEXT, HEARTH_THREADS, HEARTH_SPECULATIVE (TYPE or TYPE:N),
 * HEARTH_MAX_MEDIA_BYTES, HEARTH_MAX_IMAGE_PIXELS, HEARTH_MAX_AUDIO_SECONDS, HEARTH_MAX_MEDIA_ITEMS,
 * HEARTH_ALLOW_REMOTE_MEDIA (1/true to fetch http(s) image URLs), HEARTH_IMAGE_MIN_TOKENS, HEARTH_IMAGE_MAX_TOKENS.
 */
export function configFromEnv(env: Env): { server: ServerConfig; engine: EngineConfig } {
  const cors = text(env, 'HEARTH_CORS_ORIGINS');
  return {
    server: {
      apiKey: text(env, 'HEARTH_API_KEY'),
      corsOrigins: cors === null ? null : cors.split(',').map((o) => o.trim()).filter(Boolean),
      maxBodyBytes: integerFrom(env, 'HEARTH_MAX_BODY_BYTES', 1 << 30) ?? defaultServerConfig.maxBodyBytes,
      loadWaitMs: integerFrom(env, 'HEARTH_LOAD_WAIT_MS', 3_600_000, 0) ?? defaultServerConfig.loadWaitMs,
      media: {
        maxMediaBytes: integerFrom(env, 'HEARTH_MAX_MEDIA_BYTES', 1 << 30) ?? defaultMediaLimits.maxMediaBytes,
        maxImagePixels: integerFrom(env, 'HEARTH_MAX_IMAGE_PIXELS', 1 << 30) ?? defaultMediaLimits.maxImagePixels,
        maxAudioSeconds: integerFrom(env, 'HEARTH_MAX_AUDIO_SECONDS', 3600) ?? defaultMediaLimits.maxAudioSeconds,
        maxMediaItems: integerFrom(env, 'HEARTH_MAX_MEDIA_ITEMS', 256) ?? defaultMediaLimits.maxMediaItems,
        allowRemoteMedia: flag(env, 'HEARTH_ALLOW_REMOTE_MEDIA') ?? defaultMediaLimits.allowRemoteMedia,
      },
    },
    engine: {
      parallel: integerFrom(env, 'HEARTH_PARALLEL', 256) ?? defaultEngineConfig.parallel,
      queueLimit: integerFrom(env, 'HEARTH_QUEUE_LIMIT', 1 << 16, 0) ?? defaultEngineConfig.queueLimit,
      context: integerFrom(env, 'HEARTH_CONTEXT', 1 << 24),
      threads: integerFrom(env, 'HEARTH_THREADS', 256),
      imageMinTokens: integerFrom(env, 'HEARTH_IMAGE_MIN_TOKENS', 1 << 16),
      imageMaxTokens: integerFrom(env, 'HEARTH_IMAGE_MAX_TOKENS', 1 << 16),
      speculative: text(env, 'HEARTH_SPECULATIVE') === null ? null : speculativeFromText(text(env, 'HEARTH_SPECULATIVE')!, 'HEARTH_SPECULATIVE'),
    },
  };
}
