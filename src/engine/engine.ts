/** The Engine of api.ts: a loaded model behind a scheduler. */
import type { Engine, GenerateRequest, Generation } from './api.ts';
import type { Model } from './load.ts';
import type { Gemma4Assistant } from './models/gemma4-assistant.ts';
import { Scheduler, type SchedulerOptions } from './scheduler.ts';

export interface EngineOptions extends Omit<SchedulerOptions, 'draftModel'> {
  /** A smaller model with the same vocabulary, for speculative type 'draft'. */
  draftModel?: Model;
  /** A Gemma 4 MTP assistant loaded beside this model (loadAssistant), for speculative type 'mtp'. */
  assistant?: Gemma4Assistant;
}

export function createEngine(model: Model, options: Partial<EngineOptions> = {}): Engine {
  const scheduler = new Scheduler(model.arch, model.tokenizer, {
    slots: options.slots ?? 1,
    queueLimit: options.queueLimit ?? 16,
    contextPerSlot: Math.min(options.contextPerSlot ?? 4096, model.info.trainedContext),
    speculative: options.speculative,
    draftModel: options.draftModel?.arch,
    assistant: options.assistant,
    projector: model.projector,
    media: model.media,
  });
  const { tokenizer } = model;
  return {
    info: model.info,
    ...(model.media ? { media: model.media } : {}),
    tokenize: (text, o) => tokenizer.encode(text, { addSpecial: o?.addSpecial ?? true, parseSpecial: o?.parseSpecial ?? false }),
    detokenize: (ids, o) => tokenizer.decode(ids, { removeSpecial: o?.removeSpecial ?? false }),
    tokenText: (id) => tokenizer.tokenText(id),
    submit: (request: GenerateRequest): Generation => scheduler.submit(request),
    stats: () => scheduler.stats(),
    close: async () => scheduler.close(),
  };
}
