/** Every host starts its engine the same way: load the model from a source into the core, then put a scheduler on it. */
import type { Engine, LoadProgress } from '../engine/api.ts';
import { createEngine } from '../engine/engine.ts';
import type { ModelSource } from '../engine/gguf/source.ts';
import { loadModelWithDraft } from '../engine/load.ts';
import type { EngineConfig } from '../http/config.ts';

export interface StartSources {
  onProgress?: (p: LoadProgress) => void;
  /** A smaller model ('draft') or a Gemma 4 MTP assistant ('mtp'), loaded beside the target. */
  draft?: ModelSource;
  /** A multimodal projector (mmproj) for image and audio input. */
  mmproj?: ModelSource;
}

export async function startEngine(
  source: ModelSource,
  core: WebAssembly.Module,
  config: EngineConfig,
  sources: StartSources = {},
): Promise<Engine> {
  const { onProgress, draft, mmproj } = sources;
  try {
    const kvReserve = { contextSize: config.context ?? 4096, sequences: config.parallel };
    const { model, draftModel, assistant } = await loadModelWithDraft(source, draft, {
      core, threads: config.threads ?? undefined, onProgress, kvReserve, mmproj,
      imageMinTokens: config.imageMinTokens ?? undefined, imageMaxTokens: config.imageMaxTokens ?? undefined,
    });
    return createEngine(model, {
      slots: config.parallel,
      queueLimit: config.queueLimit,
      contextPerSlot: config.context ?? undefined,
      speculative: config.speculative ?? undefined,
      draftModel,
      assistant,
    });
  } finally {
    // weights now live in wasm memory: the file / binding is no longer needed
    await source.close?.();
    await draft?.close?.();
    await mmproj?.close?.();
  }
}
