/**
 * Synthetic llama models for tests and benches, written once per shape into a cache folder (os.tmpdir()) and reused:
 * the file name is derived from every option, so a changed generator option makes a new file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSyntheticLlama, type SyntheticLlamaOptions } from '../../src/engine/gguf/synthetic.ts';
import { writeGguf } from '../../src/engine/gguf/writer.ts';
import { fileSink } from '../../src/host/node/file-sink.ts';

export const syntheticDir = process.env.HEARTH_SYNTHETIC_DIR ?? join(tmpdir(), 'hearth-synthetic');

export async function syntheticLlamaFile(options: SyntheticLlamaOptions): Promise<string> {
  mkdirSync(syntheticDir, { recursive: true });
  const key = createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 16);
  const path = join(syntheticDir, `llama-${key}.gguf`);
  if (existsSync(path)) return path;
  const sink = await fileSink(`${path}.partial`);
  await writeGguf(sink, makeSyntheticLlama(options));
  await sink.close();
  await rename(`${path}.partial`, path);
  return path;
}
