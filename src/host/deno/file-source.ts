/**
 * A ModelSource over a local file on Deno (`deno serve --allow-read`), reading straight into the target view
 * (wasm memory) with positioned reads: no staging copy, never the whole file in the JS heap.
 */
import type { ModelSource } from '../../engine/gguf/source.ts';

/** The little of the Deno namespace used here (the bundle is type-checked without Deno's types). */
interface DenoFile {
  seek(offset: number, whence: number): Promise<number>;
  read(p: Uint8Array): Promise<number | null>;
  close(): void;
}
interface DenoFs {
  open(path: string, options: { read: boolean }): Promise<DenoFile>;
  stat(path: string): Promise<{ size: number; isFile: boolean }>;
}

const seekStart = 0;

export async function denoFileSource(deno: DenoFs, path: string): Promise<ModelSource> {
  const stat = await deno.stat(path);
  if (!stat.isFile) throw new Error(`${path}: not a file`);
  const file = await deno.open(path, { read: true });
  const name = path.replace(/^.*[\\/]/, '');

  const fill = async (offset: number, target: Uint8Array, onBytes?: (n: number) => void): Promise<number> => {
    await file.seek(offset, seekStart);
    let filled = 0;
    while (filled < target.byteLength) {
      // reads of at most 16 MiB keep progress reports flowing on big tensors
      const view = target.subarray(filled, Math.min(target.byteLength, filled + (16 << 20)));
      const n = await file.read(view);
      if (n === null || n === 0) break;
      filled += n;
      onBytes?.(n);
    }
    return filled;
  };

  return {
    name,
    size: stat.size,
    async read(offset, length) {
      const out = new Uint8Array(Math.max(0, Math.min(length, stat.size - offset)));
      const n = await fill(offset, out);
      return out.subarray(0, n);
    },
    async readInto(offset, target, onBytes) {
      if (offset + target.byteLength > stat.size) throw new RangeError(`${name}: read past end`);
      const n = await fill(offset, target, onBytes);
      if (n < target.byteLength) throw new Error(`${name}: short read at ${offset} (${n} of ${target.byteLength} bytes)`);
    },
    async close() {
      file.close();
    },
  };
}
