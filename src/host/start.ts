/** Every host starts its engine the same way: load the model from a source into the core, then put a scheduler on it. */
import type { Engine, LoadProgress } from '../engine/api.ts';
import { createEngine } from '../engine/engine.ts';
import type { ModelSource } from '../engine/gguf/source.ts';
import { loadModelWithDraft } from '../engine/load.ts';
import type { EngineConfig } from '../http/config.ts';

export async function startEngine(
  source: ModelSource,
  core: WebAssembly.Module,
  config: EngineConfig,
  onProgress?: (p: LoadProgress) => void,
  draftSource?: ModelSource,
): Promise<Engine> {
  try {
    const kvReserve = { contextSize: config.context ?? 4096, sequences: config.parallel };
    // the draft file is a smaller model ('draft') or a Gemma 4 MTP assistant ('mtp'), loaded beside the target
    const { model, draftModel, assistant } = await loadModelWithDraft(source, draftSource, { core, threads: config.threads ?? undefined, onProgress, kvReserve });
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
    await draftSource?.close?.();
  }
}
