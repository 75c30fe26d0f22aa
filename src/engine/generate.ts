/**
 * The library's one-call generation API: text or token ids in, tokens out as they are made (async iterator), abortable
 * with an AbortSignal. It runs through the same scheduler as the server, with one slot.
 */
import { defaultSampling, type Engine, type GenerationEvent, type SamplingParams, type SpeculativeOptions } from './api.ts';
import { createEngine } from './engine.ts';
import type { Model } from './load.ts';

export interface GenerateOptions extends Partial<SamplingParams> {
  maxTokens?: number;
  stop?: string[];
  signal?: AbortSignal;
  /** Context size of the private slot (default: min(4096, trained context)). */
  contextSize?: number;
  logprobs?: number;
  speculative?: SpeculativeOptions;
}

const engines = new WeakMap<Model, { ctx: number; engine: Engine }>();

function engineFor(model: Model, ctx: number): Engine {
  const cached = engines.get(model);
  if (cached && cached.ctx === ctx) return cached.engine;
  if (cached) void cached.engine.close();
  const engine = createEngine(model, { slots: 1, queueLimit: 64, contextPerSlot: ctx });
  engines.set(model, { ctx, engine });
  return engine;
}

export function generate(model: Model, prompt: string | number[], options: GenerateOptions = {}): AsyncIterable<GenerationEvent> {
  const ctx = Math.min(options.contextSize ?? 4096, model.info.trainedContext);
  const engine = engineFor(model, ctx);
  const ids = typeof prompt === 'string' ? engine.tokenize(prompt, { addSpecial: true, parseSpecial: false }) : prompt;
  const { maxTokens, stop, signal, contextSize: _c, logprobs, speculative, ...sampling } = options;
  return engine.submit({
    prompt: ids,
    maxTokens: maxTokens ?? Math.max(1, ctx - ids.length),
    sampling: { ...defaultSampling, ...sampling },
    stop,
    signal,
    logprobs,
    speculative,
  });
}
