/**
 * Big synthetic files for memory and speed work, written at disk speed: every quantized tensor of a synthetic spec
 * gets valid blocks from a fast PRNG with one fixed small scale, instead of quantized Gaussian rows. What the
 * weights say does not matter there (only where they live and how fast they stream), and the norms in every block
 * keep activations finite.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GGML_TYPE } from '../../src/engine/gguf/types.ts';
import { writeGguf, type GgufTensorInput, type GgufWriteSpec } from '../../src/engine/gguf/writer.ts';
import { fileSink } from '../../src/host/node/file-sink.ts';

/** Block layout: bytes per block of 32, and where the f16 scale sits. */
const layouts: Record<number, { blockBytes: number; quantMask: number; quantBias: number }> = {
  // Q4_0: d, then 16 bytes of two nibbles (any byte is valid)
  [GGML_TYPE.Q4_0]: { blockBytes: 18, quantMask: 0xff, quantBias: 0 },
  // Q8_0: d, then 32 int8 quants kept in −31..31
  [GGML_TYPE.Q8_0]: { blockBytes: 34, quantMask: 63, quantBias: 31 },
};

function* fastBlocks(type: number, rows: number, cols: number, seed: number): Generator<Uint8Array> {
  const { blockBytes, quantMask, quantBias } = layouts[type];
  const rowBytes = (cols / 32) * blockBytes;
  const rowsPerChunk = Math.max(1, Math.floor((8 << 20) / rowBytes));
  let x = seed >>> 0 || 1;
  for (let r = 0; r < rows; r += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, rows - r);
    const chunk = new Uint8Array(n * rowBytes);
    const words = new Uint32Array(chunk.buffer, 0, chunk.length >>> 2);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    for (let at = 0; at < chunk.length; at += blockBytes) {
      chunk[at] = 0x00;
      chunk[at + 1] = 0x18; // f16 0x1800 = 2^-9
      if (quantMask !== 0xff) for (let j = at + 2; j < at + blockBytes; j++) chunk[j] = (chunk[j] & quantMask) - quantBias;
    }
    yield chunk;
  }
}

/** The spec with its Q4_0/Q8_0 tensors' data replaced by fast random blocks. */
export function withFastWeights(spec: GgufWriteSpec): GgufWriteSpec {
  const tensors: GgufTensorInput[] = spec.tensors.map((t, i) =>
    layouts[t.type] ? { ...t, data: () => fastBlocks(t.type, t.dims.slice(1).reduce((a, b) => a * b, 1), t.dims[0], 7919 * (i + 1)) } : t,
  );
  return { ...spec, tensors };
}

/** Write once (to `path.partial`, then renamed); progress on stderr. */
export async function writeOnce(path: string, spec: GgufWriteSpec): Promise<string> {
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  const sink = await fileSink(`${path}.partial`);
  let last = 0;
  await writeGguf(sink, spec, (written, total) => {
    const now = Date.now();
    if (now - last > 2000) {
      last = now;
      process.stderr.write(`writing ${path}: ${((100 * written) / total).toFixed(0)}%\n`);
    }
  });
  await sink.close();
  await rename(`${path}.partial`, path);
  return path;
}
