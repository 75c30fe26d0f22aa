/**
 * OpenAI request parameters → the engine's GenerateRequest. Parameters the client leaves out keep the engine's
 * defaults (llama.cpp's server defaults). Length limits are checked here so the client gets OpenAI's 400
 * `context_length_exceeded` before anything is queued.
 */
import { defaultSampling, type SamplingParams, type SpeculativeOptions } from '../engine/api.ts';
import { invalidRequest } from './errors.ts';

export interface SamplingFields {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repeat_penalty?: number | null;
  repeat_last_n?: number | null;
  seed?: number | null;
  logit_bias?: Record<string, number> | null;
  stop?: string | string[] | null;
}

export function samplingFrom(body: SamplingFields, vocabSize: number): SamplingParams {
  const sampling: SamplingParams = { ...defaultSampling };
  if (body.temperature != null) sampling.temperature = body.temperature;
  if (body.top_p != null) sampling.topP = body.top_p;
  if (body.top_k != null) sampling.topK = body.top_k;
  if (body.min_p != null) sampling.minP = body.min_p;
  if (body.presence_penalty != null) sampling.presencePenalty = body.presence_penalty;
  if (body.frequency_penalty != null) sampling.frequencyPenalty = body.frequency_penalty;
  if (body.repeat_penalty != null) sampling.repeatPenalty = body.repeat_penalty;
  if (body.repeat_last_n != null) sampling.repeatLastN = body.repeat_last_n;
  if (body.seed != null) sampling.seed = body.seed;
  if (body.logit_bias != null) sampling.logitBias = logitBiasFrom(body.logit_bias, vocabSize);
  return sampling;
}

function logitBiasFrom(bias: Record<string, number>, vocabSize: number): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [key, value] of Object.entries(bias)) {
    const id = Number(key);
    if (!/^\d+$/.test(key) || !Number.isSafeInteger(id) || id >= vocabSize) {
      throw invalidRequest(
        `Invalid value for 'logit_bias': '${key}' is not a token id of this model (0..${vocabSize - 1}).`,
        'logit_bias',
        'invalid_value',
      );
    }
    out[id] = value;
  }
  return out;
}

/** `speculative: { type, n_max, adaptive }` → the engine's options (undefined: the server default applies). */
export function speculativeFrom(
  spec: { type: SpeculativeOptions['type']; n_max?: number | null; adaptive?: boolean | null } | null | undefined,
): SpeculativeOptions | undefined {
  if (spec == null) return undefined;
  return { type: spec.type, nMax: spec.n_max ?? 4, ...(spec.adaptive === false ? { adaptive: false } : {}) };
}

export function stopsFrom(stop: string | string[] | null | undefined): string[] {
  const stops = stop == null ? [] : typeof stop === 'string' ? [stop] : stop;
  if (stops.some((s) => s.length === 0)) {
    throw invalidRequest("Invalid value for 'stop': stop strings must not be empty.", 'stop', 'invalid_value');
  }
  return stops;
}

/**
 * How many tokens to generate. `requested` over the per-request context, a prompt that fills it, or the sum of the
 * two over it are 400s, as OpenAI answers; left out, the generation may use what the prompt leaves (capped by
 * `defaultMax` when the endpoint has one).
 */
export function maxTokensFor(
  requested: number | null | undefined,
  promptTokens: number,
  context: number,
  param: string,
  defaultMax?: number,
): number {
  if (requested != null && requested > context) {
    throw invalidRequest(
      `'${param}' is too large: ${requested}. This model's context per request is ${context} tokens.`,
      param,
      'context_length_exceeded',
    );
  }
  if (promptTokens >= context) {
    throw invalidRequest(
      `This model's context per request is ${context} tokens. However, your prompt has ${promptTokens} tokens. ` +
        'Please reduce the length of the prompt.',
      'messages',
      'context_length_exceeded',
    );
  }
  const room = context - promptTokens;
  if (requested == null) return Math.min(room, defaultMax ?? room);
  if (requested > room) {
    throw invalidRequest(
      `This model's context per request is ${context} tokens. However, you requested ${promptTokens + requested} ` +
        `tokens (${promptTokens} in the prompt, ${requested} in the completion). Please reduce the length of the ` +
        `prompt or '${param}'.`,
      param,
      'context_length_exceeded',
    );
  }
  return requested;
}

