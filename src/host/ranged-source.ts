/**
 * A ModelSource over HTTP Range requests: a workerd disk-directory service binding (`env.MODELS.fetch`) or a plain
 * URL (`MODEL_URL`, through the global fetch). Each read is one ranged GET, so only the bytes asked for travel.
 *
 * Bulk reads use workerd's BYOB `readAtLeast(16 MiB)` where it exists: the default reader hands out 4 KiB chunks
 * (0.1 GB/s), 16 MiB reads reach ~1.4 GB/s (runtimes.md Q5). BYOB detaches the buffer it is given, so bytes land in
 * a staging buffer and are copied into the target (which may be wasm memory).
 */
import type { ModelSource } from '../engine/gguf/source.ts';

export type RangeFetch = (range: string) => Promise<Response>;

const stagingBytes = 16 << 20;

export class SourceError extends Error {
  override name = 'SourceError';
}

/** Open a ranged source; the first request learns the size and checks that the server honours Range. */
export async function rangedSource(name: string, fetchRange: RangeFetch): Promise<ModelSource> {
  const probe = await fetchRange('bytes=0-0');
  await probe.body?.cancel();
  if (probe.status === 404) throw new SourceError(`${name}: not found`);
  if (probe.status === 416) throw new SourceError(`${name}: the file is empty`);
  if (probe.status !== 206) {
    throw new SourceError(`${name}: expected 206 Partial Content for a Range request, got ${probe.status}`);
  }
  const size = Number(/\/(\d+)\s*$/.exec(probe.headers.get('content-range') ?? '')?.[1]);
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new SourceError(`${name}: the server sent no usable Content-Range (${probe.headers.get('content-range')})`);
  }

  const rangeOf = async (offset: number, length: number): Promise<Response> => {
    const res = await fetchRange(`bytes=${offset}-${offset + length - 1}`);
    if (res.status !== 206) {
      await res.body?.cancel();
      throw new SourceError(`${name}: Range ${offset}+${length} answered ${res.status}`);
    }
    return res;
  };

  return {
    name,
    size,
    async read(offset, length) {
      const n = Math.min(length, size - offset);
      if (n <= 0) return new Uint8Array(0);
      return new Uint8Array(await (await rangeOf(offset, n)).arrayBuffer());
    },
    async readInto(offset, target, onBytes) {
      if (target.byteLength === 0) return;
      if (offset + target.byteLength > size) throw new RangeError(`${name}: read past end`);
      const res = await rangeOf(offset, target.byteLength);
      if (!res.body) throw new SourceError(`${name}: empty body for a ranged read`);
      await copyBody(res.body, target, onBytes, name);
    },
  };
}

interface ByobReaderWithReadAtLeast extends ReadableStreamBYOBReader {
  readAtLeast?(minBytes: number, view: Uint8Array): Promise<ReadableStreamReadResult<Uint8Array>>;
}

async function copyBody(
  body: ReadableStream<Uint8Array>,
  target: Uint8Array,
  onBytes: ((n: number) => void) | undefined,
  name: string,
): Promise<void> {
  let filled = 0;
  let byob: ByobReaderWithReadAtLeast | null = null;
  try {
    byob = body.getReader({ mode: 'byob' }) as ByobReaderWithReadAtLeast;
  } catch {
    byob = null; // not a byte stream on this host
  }
  if (byob && typeof byob.readAtLeast === 'function') {
    let staging = new Uint8Array(Math.min(stagingBytes, target.byteLength));
    while (filled < target.byteLength) {
      const want = Math.min(staging.byteLength, target.byteLength - filled);
      const { done, value } = await byob.readAtLeast(want, new Uint8Array(staging.buffer, 0, want));
      if (value) {
        target.set(value, filled);
        filled += value.byteLength;
        onBytes?.(value.byteLength);
        staging = new Uint8Array(value.buffer as ArrayBuffer);
      }
      if (done) break;
    }
    byob.releaseLock();
  } else {
    byob?.releaseLock();
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const n = Math.min(value.byteLength, target.byteLength - filled);
      target.set(value.subarray(0, n), filled);
      filled += n;
      onBytes?.(n);
      if (filled >= target.byteLength) {
        await reader.cancel();
        break;
      }
    }
  }
  if (filled < target.byteLength) {
    throw new SourceError(`${name}: the body ended after ${filled} of ${target.byteLength} bytes`);
  }
}
