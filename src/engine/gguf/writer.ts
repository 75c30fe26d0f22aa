/**
 * The GGUF writer (v3, little-endian; spec gguf.md §1). One writer for scripts, tests and the model exporter: the
 * header is built in memory (it is small), tensor data is pulled from each tensor's producer in file order and
 * streamed to a sink, so a multi-GB model never sits in memory. `encodeGguf` is the in-memory form for small files.
 */
import { GgufError } from './errors.ts';
import { GGUF_TYPE, ggmlType } from './types.ts';
import type { GgufFile, GgufValue } from './reader.ts';

/** A metadata value with its GGUF type made explicit (a JS number alone does not say UINT32 or FLOAT32). */
export type GgufTypedValue =
  | { type: number; value: number | bigint | boolean | string }
  | { type: typeof GGUF_TYPE.ARRAY; elementType: number; items: ArrayLike<number | bigint | boolean | string> | GgufTypedArrayValue[] };

/** An array value, also the element form of a nested array. */
export type GgufTypedArrayValue = Extract<GgufTypedValue, { items: unknown }>;

/** Constructors for typed metadata values: `gv.u32(2048)`, `gv.array(GGUF_TYPE.STRING, tokens)`. */
export const gv = {
  u8: (value: number) => ({ type: GGUF_TYPE.UINT8, value }),
  i8: (value: number) => ({ type: GGUF_TYPE.INT8, value }),
  u16: (value: number) => ({ type: GGUF_TYPE.UINT16, value }),
  i16: (value: number) => ({ type: GGUF_TYPE.INT16, value }),
  u32: (value: number) => ({ type: GGUF_TYPE.UINT32, value }),
  i32: (value: number) => ({ type: GGUF_TYPE.INT32, value }),
  f32: (value: number) => ({ type: GGUF_TYPE.FLOAT32, value }),
  bool: (value: boolean) => ({ type: GGUF_TYPE.BOOL, value }),
  str: (value: string) => ({ type: GGUF_TYPE.STRING, value }),
  u64: (value: number | bigint) => ({ type: GGUF_TYPE.UINT64, value }),
  i64: (value: number | bigint) => ({ type: GGUF_TYPE.INT64, value }),
  f64: (value: number) => ({ type: GGUF_TYPE.FLOAT64, value }),
  array: (
    elementType: number,
    items: ArrayLike<number | bigint | boolean | string> | GgufTypedArrayValue[],
  ): GgufTypedArrayValue => ({ type: GGUF_TYPE.ARRAY, elementType, items }),
} satisfies Record<string, (...args: never[]) => GgufTypedValue>;

/** Tensor bytes: whole, or as a sequence of chunks (e.g. a few rows at a time) whose lengths add up to the size. */
export type TensorBytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface GgufTensorInput {
  name: string;
  /** ggml order: dims[0] is the contiguous dimension. */
  dims: number[];
  /** ggml type id. */
  type: number;
  /** The data, or a producer the writer calls once, when it reaches this tensor. */
  data: TensorBytes | (() => TensorBytes | Promise<TensorBytes>);
}

export interface GgufWriteSpec {
  /** Keys in file order. `general.alignment` (UINT32), if present, sets the alignment (default 32). */
  metadata: Iterable<readonly [string, GgufTypedValue]>;
  tensors: readonly GgufTensorInput[];
  /**
   * Skip the checks on names, shapes and data sizes, and take tensor offsets from `offsets` (relative to the data
   * section) when given — for tests that build malformed files on purpose.
   */
  unchecked?: { offsets?: number[]; version?: number };
}

/** Where the bytes go: a file (host/node/file-sink.ts), an array of chunks, a network stream. */
export interface GgufSink {
  write(bytes: Uint8Array): void | Promise<void>;
}

export interface GgufLayout {
  /** Magic, counts, metadata, tensor infos and the padding up to the data section. */
  header: Uint8Array;
  dataOffset: number;
  /** Offset of each tensor's data, relative to the data section. */
  offsets: number[];
  sizes: number[];
  alignment: number;
  /** Total file size. */
  size: number;
}

const MAX_NAME = 64;
const MAX_DIMS = 4;

/** A growable little-endian byte buffer for the header. */
class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private static utf8 = new TextEncoder();

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // room() may replace the buffer, so it must run before this.buf / this.view are read
  u8(v: number) { const at = this.room(1); this.view.setUint8(at, v); }
  i8(v: number) { const at = this.room(1); this.view.setInt8(at, v); }
  u16(v: number) { const at = this.room(2); this.view.setUint16(at, v, true); }
  i16(v: number) { const at = this.room(2); this.view.setInt16(at, v, true); }
  u32(v: number) { const at = this.room(4); this.view.setUint32(at, v, true); }
  i32(v: number) { const at = this.room(4); this.view.setInt32(at, v, true); }
  f32(v: number) { const at = this.room(4); this.view.setFloat32(at, v, true); }
  f64(v: number) { const at = this.room(8); this.view.setFloat64(at, v, true); }
  u64(v: number | bigint) { const at = this.room(8); this.view.setBigUint64(at, BigInt(v), true); }
  i64(v: number | bigint) { const at = this.room(8); this.view.setBigInt64(at, BigInt(v), true); }
  bytes(b: Uint8Array) { const at = this.room(b.length); this.buf.set(b, at); }
  string(s: string) {
    const b = ByteBuilder.utf8.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  zeros(n: number) { const at = this.room(n); this.buf.fill(0, at, this.length); }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

function writeScalar(out: ByteBuilder, type: number, v: number | bigint | boolean | string, key: string): void {
  const bad = () => new GgufError('bad_value_type', `key '${key}': value ${String(v)} does not match type ${type}`, key);
  if (type === GGUF_TYPE.STRING) {
    if (typeof v !== 'string') throw bad();
    return out.string(v);
  }
  if (type === GGUF_TYPE.BOOL) {
    if (typeof v !== 'boolean') throw bad();
    return out.u8(v ? 1 : 0);
  }
  if (type === GGUF_TYPE.UINT64 || type === GGUF_TYPE.INT64) {
    if (typeof v !== 'number' && typeof v !== 'bigint') throw bad();
    return type === GGUF_TYPE.UINT64 ? out.u64(v) : out.i64(v);
  }
  if (typeof v !== 'number') throw bad();
  switch (type) {
    case GGUF_TYPE.UINT8: return out.u8(v);
    case GGUF_TYPE.INT8: return out.i8(v);
    case GGUF_TYPE.UINT16: return out.u16(v);
    case GGUF_TYPE.INT16: return out.i16(v);
    case GGUF_TYPE.UINT32: return out.u32(v);
    case GGUF_TYPE.INT32: return out.i32(v);
    case GGUF_TYPE.FLOAT32: return out.f32(v);
    case GGUF_TYPE.FLOAT64: return out.f64(v);
  }
  throw new GgufError('bad_value_type', `key '${key}': invalid value type ${type}`, key);
}

// Array payload: element type, count, elements (nested arrays repeat this form for each element).
function writeArray(out: ByteBuilder, a: GgufTypedArrayValue, key: string): void {
  out.u32(a.elementType);
  out.u64(a.items.length);
  if (a.elementType === GGUF_TYPE.ARRAY) {
    for (const inner of a.items as GgufTypedArrayValue[]) writeArray(out, inner, key);
    return;
  }
  const items = a.items as ArrayLike<number | bigint | boolean | string>;
  for (let i = 0; i < items.length; i++) writeScalar(out, a.elementType, items[i], key);
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Build the header and the data layout (no tensor data is touched). */
export function layoutGguf(spec: GgufWriteSpec): GgufLayout {
  const checked = !spec.unchecked;
  const metadata = [...spec.metadata];
  const out = new ByteBuilder();
  out.bytes(new Uint8Array([0x47, 0x47, 0x55, 0x46]));
  out.u32(spec.unchecked?.version ?? 3);
  out.u64(spec.tensors.length);
  out.u64(metadata.length);

  let alignment = 32;
  const keys = new Set<string>();
  for (const [key, value] of metadata) {
    if (checked && keys.has(key)) throw new GgufError('duplicate_key', `duplicate key '${key}'`, key);
    keys.add(key);
    if (key === 'general.alignment' && checked) {
      const a = 'value' in value ? value.value : undefined;
      if (value.type !== GGUF_TYPE.UINT32 || typeof a !== 'number' || a <= 0 || (a & (a - 1)) !== 0) {
        throw new GgufError('bad_alignment', `general.alignment must be a UINT32 power of two`, key);
      }
      alignment = a;
    }
    out.string(key);
    out.u32(value.type);
    if ('items' in value) writeArray(out, value, key);
    else writeScalar(out, value.type, value.value, key);
  }

  const offsets: number[] = [];
  const sizes: number[] = [];
  const names = new Set<string>();
  let next = 0;
  spec.tensors.forEach((t, i) => {
    const type = ggmlType(t.type);
    if (checked) {
      const nameBytes = new TextEncoder().encode(t.name).length;
      if (nameBytes === 0 || nameBytes >= MAX_NAME) {
        throw new GgufError('bad_tensor_name', `tensor name '${t.name}' must be 1..${MAX_NAME - 1} bytes`, t.name);
      }
      if (names.has(t.name)) throw new GgufError('duplicate_tensor', `duplicate tensor '${t.name}'`, t.name);
      if (t.dims.length === 0 || t.dims.length > MAX_DIMS || t.dims.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
        throw new GgufError('bad_dims', `tensor '${t.name}' has shape [${t.dims}]`, t.name);
      }
      if (!type) throw new GgufError('unknown_tensor_type', `tensor '${t.name}' has unknown type ${t.type}`, t.name);
      if (t.dims[0] % type.blockSize !== 0) {
        throw new GgufError('bad_block_alignment', `tensor '${t.name}': ${t.dims[0]} is not a multiple of ${type.name}'s block size ${type.blockSize}`, t.name);
      }
    }
    names.add(t.name);
    const elements = t.dims.reduce((a, b) => a * b, 1);
    const size = type ? (elements / type.blockSize) * type.typeSize : 0;
    const offset = spec.unchecked?.offsets?.[i] ?? next;
    offsets.push(offset);
    sizes.push(size);
    next = alignUp(Math.max(next, offset + size), alignment);

    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(offset);
  });

  const dataOffset = spec.tensors.length > 0 ? alignUp(out.length, alignment) : out.length;
  out.zeros(dataOffset - out.length);
  const end = spec.tensors.length > 0 ? Math.max(...offsets.map((o, i) => o + sizes[i])) : 0;
  return { header: out.result(), dataOffset, offsets, sizes, alignment, size: dataOffset + end };
}

async function* chunksOf(input: GgufTensorInput['data']): AsyncGenerator<Uint8Array> {
  const data = typeof input === 'function' ? await input() : input;
  if (data instanceof Uint8Array) yield data;
  else yield* data;
}

/**
 * Stream a GGUF file into `sink`: the header, then each tensor's data (produced on demand) with zero padding to the
 * alignment. Returns the number of bytes written.
 */
export async function writeGguf(
  sink: GgufSink,
  spec: GgufWriteSpec,
  onProgress?: (written: number, total: number) => void,
): Promise<number> {
  const layout = layoutGguf(spec);
  await sink.write(layout.header);
  let written = layout.header.length;
  const padding = new Uint8Array(layout.alignment);
  for (let i = 0; i < spec.tensors.length; i++) {
    const t = spec.tensors[i];
    const start = layout.dataOffset + layout.offsets[i];
    if (start < written) {
      throw new GgufError('tensors_overlap', `tensor '${t.name}' starts before the end of the previous one; write overlapping layouts with encodeGguf`, t.name);
    }
    while (written < start) {
      const n = Math.min(padding.length, start - written);
      await sink.write(padding.subarray(0, n));
      written += n;
    }
    let got = 0;
    for await (const chunk of chunksOf(t.data)) {
      got += chunk.length;
      if (!spec.unchecked && got > layout.sizes[i]) break;
      await sink.write(chunk);
      written += chunk.length;
      onProgress?.(written, layout.size);
    }
    if (!spec.unchecked && got !== layout.sizes[i]) {
      throw new GgufError('bad_tensor_data', `tensor '${t.name}' has ${got > layout.sizes[i] ? 'more than' : 'only'} ${got} bytes of data, its shape and type need ${layout.sizes[i]}`, t.name);
    }
  }
  return written;
}

/**
 * A whole GGUF file in memory (small files: tests, fixtures). Tensor data may be given as chunks or producers. In
 * unchecked mode the file holds exactly the data given, wherever the offsets put it, whatever the shapes claim.
 */
export async function encodeGguf(spec: GgufWriteSpec): Promise<Uint8Array> {
  const layout = layoutGguf(spec);
  const data: Uint8Array[][] = [];
  let size = layout.dataOffset;
  for (let i = 0; i < spec.tensors.length; i++) {
    const chunks: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of chunksOf(spec.tensors[i].data)) {
      chunks.push(chunk);
      length += chunk.length;
    }
    if (!spec.unchecked && length !== layout.sizes[i]) {
      throw new GgufError('bad_tensor_data', `tensor '${spec.tensors[i].name}' has ${length} bytes of data, its shape and type need ${layout.sizes[i]}`, spec.tensors[i].name);
    }
    data.push(chunks);
    size = Math.max(size, layout.dataOffset + layout.offsets[i] + length);
  }
  if (!spec.unchecked) size = layout.size;
  const out = new Uint8Array(size);
  out.set(layout.header);
  data.forEach((chunks, i) => {
    let at = layout.dataOffset + layout.offsets[i];
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
  });
  return out;
}

/**
 * A key of a parsed file as a typed value for the writer (re-exporting or editing a model's metadata). Inner types
 * of nested arrays are recovered from the decoded values.
 */
export function typedValueOf(file: GgufFile, key: string): GgufTypedValue {
  const type = file.metadataTypes.get(key);
  const value = file.metadata.get(key);
  if (type === undefined || value === undefined) throw new GgufError('missing_key', `key '${key}' is missing`, key);
  if (type !== GGUF_TYPE.ARRAY) return { type, value: value as number | bigint | boolean | string };
  return arrayValue(value, file.arrayTypes.get(key)!);
}

function arrayValue(value: GgufValue, elementType: number): GgufTypedArrayValue {
  if (elementType === GGUF_TYPE.ARRAY) {
    return gv.array(GGUF_TYPE.ARRAY, (value as GgufValue[]).map((inner) => arrayValue(inner, inferElementType(inner))));
  }
  return gv.array(elementType, value as ArrayLike<number | bigint | boolean | string>);
}

function inferElementType(v: GgufValue): number {
  if (v instanceof Uint8Array) return GGUF_TYPE.UINT8;
  if (v instanceof Int8Array) return GGUF_TYPE.INT8;
  if (v instanceof Uint16Array) return GGUF_TYPE.UINT16;
  if (v instanceof Int16Array) return GGUF_TYPE.INT16;
  if (v instanceof Uint32Array) return GGUF_TYPE.UINT32;
  if (v instanceof Int32Array) return GGUF_TYPE.INT32;
  if (v instanceof Float32Array) return GGUF_TYPE.FLOAT32;
  if (v instanceof Float64Array) return GGUF_TYPE.FLOAT64;
  if (v instanceof BigUint64Array) return GGUF_TYPE.UINT64;
  if (v instanceof BigInt64Array) return GGUF_TYPE.INT64;
  const first = (v as GgufValue[])[0];
  // an empty nested array has lost its element type; UINT8 is as good as any
  if (first === undefined) return GGUF_TYPE.UINT8;
  if (typeof first === 'string') return GGUF_TYPE.STRING;
  if (typeof first === 'boolean') return GGUF_TYPE.BOOL;
  return GGUF_TYPE.ARRAY;
}
