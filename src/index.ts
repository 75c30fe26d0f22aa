/**
 * The library, for Node and Deno: `import { loadModel, generate } from 'hearth'`.
 *
 *   const model = await loadModel('stories260K.gguf');
 *   for await (const ev of generate(model, 'Once upon a time', { temperature: 0, maxTokens: 64 })) ...
 *
 * The server pieces are here too: `createEngine(model, { slots, queueLimit, contextPerSlot })` and
 * `createApp(engine)`, a Hono app to mount or serve (`serveNode(app, { port, hostname })`, or `Deno.serve(app.fetch)`).
 */
import { readNodeCoreModule } from './core/node.ts';
import { bufferSource, type ModelSource } from './engine/gguf/source.ts';
import { loadModel as loadFromSource, type LoadOptions, type Model } from './engine/load.ts';
import { fileSource } from './host/node/file-source.ts';

/**
 * Load a GGUF model from a file path, a ModelSource, or bytes in memory. The core defaults to the build every
 * runtime computes right (DESIGN §2); pass `core` to choose.
 */
export async function loadModel(model: string | ModelSource | Uint8Array, options: Partial<LoadOptions> = {}): Promise<Model> {
  const source =
    typeof model === 'string' ? await fileSource(model) : model instanceof Uint8Array ? bufferSource(model, 'model.gguf') : model;
  try {
    return await loadFromSource(source, { ...options, core: options.core ?? readNodeCoreModule() });
  } finally {
    if (typeof model === 'string') await source.close?.();
  }
}

export { generate, type GenerateOptions } from './engine/generate.ts';
export { createEngine } from './engine/engine.ts';
export { bufferSource, type ModelSource } from './engine/gguf/source.ts';
export { createApp, type HearthApp } from './http/app.ts';
export { ServedModel } from './http/served-model.ts';
export { serveNode } from './host/node/serve.ts';
export type { LoadOptions, Model } from './engine/load.ts';
export * from './engine/api.ts';
export type { ServerConfig } from './http/config.ts';
