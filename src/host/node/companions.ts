/**
 * Files that go with a model by naming convention: a multimodal projector beside `NAME.gguf` is `NAME-mmproj.gguf`
 * or `mmproj-NAME.gguf` (the two spellings llama.cpp's published files use); a Gemma 4 MTP assistant is
 * `NAME-assistant.gguf` (hearth-nano ships that way).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function mmprojBeside(modelPath: string): string | null {
  return beside(modelPath, (name) => [`${name}-mmproj.gguf`, `mmproj-${name}.gguf`]);
}

export function assistantBeside(modelPath: string): string | null {
  return beside(modelPath, (name) => [`${name}-assistant.gguf`]);
}

function beside(modelPath: string, names: (name: string) => string[]): string | null {
  const dir = dirname(modelPath);
  const name = basename(modelPath).replace(/\.gguf$/i, '');
  for (const candidate of names(name)) {
    const path = join(dir, candidate);
    if (existsSync(path)) return path;
  }
  return null;
}
