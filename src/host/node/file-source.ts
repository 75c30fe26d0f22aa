/**
 * A ModelSource over a local file (Node, and Deno through its node: compatibility). Reads go straight into the
 * caller's view — possibly wasm memory — in steps of at most 16 MiB, so loading a multi-GB model never stages it in
 * the JS heap.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ModelSource } from '../../engine/gguf/source.ts';

const STEP = 16 << 20;

export async function fileSource(path: string): Promise<ModelSource> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  const name = basename(path);

  // FileHandle.read may return fewer bytes than asked even before the end; loop until done or EOF.
  async function fill(target: Uint8Array, offset: number, onBytes?: (n: number) => void): Promise<number> {
    let done = 0;
    while (done < target.byteLength) {
      const want = Math.min(STEP, target.byteLength - done);
      const { bytesRead } = await handle.read(target, done, want, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
      onBytes?.(bytesRead);
    }
    return done;
  }

  return {
    name,
    size,
    async read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const out = new Uint8Array(n);
      const got = await fill(out, offset);
      return got === n ? out : out.subarray(0, got);
    },
    async readInto(offset, target, onBytes) {
      if (offset < 0 || offset + target.byteLength > size) {
        throw new RangeError(`${name}: read of ${target.byteLength} bytes at ${offset} is past the end (${size} bytes)`);
      }
      const got = await fill(target, offset, onBytes);
      if (got !== target.byteLength) throw new RangeError(`${name}: file shrank while reading at ${offset}`);
    },
    async close() {
      await handle.close();
    },
  };
}
