/** Where tests find the shared real models, and how they load them into hearth. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNodeCoreModule } from '../../src/core/node.ts';
import { loadModel, type LoadOptions, type Model } from '../../src/engine/load.ts';
import { fileSource } from '../../src/host/node/file-source.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedModels = resolve(repoRoot, '../shared/models');

/** Path of a file under ../shared/models; fails loudly (never skips) when CI's shared folder is missing. */
export function sharedModel(name: string): string {
  const path = join(sharedModels, name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: this test needs the shared models folder (../shared/models beside the repo)`);
  }
  return path;
}

export async function loadFile(path: string, options: Partial<LoadOptions> = {}): Promise<Model> {
  const source = await fileSource(path);
  try {
    return await loadModel(source, { core: readNodeCoreModule(), ...options });
  } finally {
    await source.close?.();
  }
}
