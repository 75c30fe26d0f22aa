/**
 * Where model bytes come from. The GGUF reader and the weight loader only ever ask for byte ranges, so a model never
 * has to sit whole in the JS heap: a file on Node/Deno, a disk-directory service binding with Range requests on
 * workerd, an embedded buffer, or a URL all implement this.
 */
export interface ModelSource {
  /** A short name for messages ("stories260K.gguf"). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Read exactly `length` bytes at `offset` (fewer only at end of source). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Stream [offset, offset + length) into `target` (a view that may live in wasm memory), calling `onBytes` as data
   * arrives. Sources that can read in place (files) avoid a staging copy.
   */
  readInto(offset: number, target: Uint8Array, onBytes?: (n: number) => void): Promise<void>;
  close?(): Promise<void>;
}

/** A source over bytes already in memory (tests, the embedded demo model). */
export function bufferSource(input: Uint8Array, name = 'buffer'): ModelSource {
  // a plain view: a Node Buffer's slice() is a view, not the copy readers expect of a Uint8Array's
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      return bytes.subarray(offset, Math.min(bytes.byteLength, offset + length));
    },
    async readInto(offset, target, onBytes) {
      if (offset + target.byteLength > bytes.byteLength) throw new RangeError(`${name}: read past end`);
      target.set(bytes.subarray(offset, offset + target.byteLength));
      onBytes?.(target.byteLength);
    },
  };
}
