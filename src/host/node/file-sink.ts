/**
 * A GgufSink that writes a file through a FileHandle. Small writes (header fields, padding) are gathered into one
 * buffer; large chunks go straight through. Each write is awaited, so a producer can never run ahead of the disk.
 */
import { open } from 'node:fs/promises';
import type { GgufSink } from '../../engine/gguf/writer.ts';

const GATHER = 4 << 20;

export interface FileSink extends GgufSink {
  /** Flush and close; the file is complete only after this resolves. */
  close(): Promise<void>;
}

export async function fileSink(path: string): Promise<FileSink> {
  const handle = await open(path, 'w');
  const pending = new Uint8Array(GATHER);
  let used = 0;

  async function writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  }
  async function flush(): Promise<void> {
    if (used > 0) await writeAll(pending.subarray(0, used));
    used = 0;
  }

  return {
    async write(bytes) {
      // a large chunk goes straight to the file, so whatever is gathered must be written before it
      if (used + bytes.length > GATHER || bytes.length >= GATHER / 2) await flush();
      if (bytes.length >= GATHER / 2) return writeAll(bytes);
      pending.set(bytes, used);
      used += bytes.length;
    },
    async close() {
      try {
        await flush();
      } finally {
        await handle.close();
      }
    },
  };
}
