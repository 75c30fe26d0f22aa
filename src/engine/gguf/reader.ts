/**
 * GGUF v2/v3 reader (spec gguf.md §1). Reads the header through a ModelSource in bounded windows — never the whole
 * file — and validates it so that a damaged or hostile file fails fast with a GgufError: every length and count is
 * checked against a limit and against the bytes left in the file before anything is allocated for it.
 */
import type { ModelSource } from './source.ts';
import { GgufError } from './errors.ts';
import { GGUF_TYPE, ggmlType, ggufTypeName } from './types.ts';

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue =
  | GgufScalar
  | GgufValue[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the contiguous dimension (spec gguf.md §1.3). */
  dims: number[];
  /** ggml type id (types.ts). */
  type: number;
  typeName: string;
  /** Absolute file offset of the tensor's data. */
  offset: number;
  /** Bytes of data. */
  size: number;
  elements: number;
}

export interface GgufFile {
  version: 2 | 3;
  metadata: Map<string, GgufValue>;
  /** GGUF value type id of each key (ARRAY = 9 for arrays). */
  metadataTypes: Map<string, number>;
  /** For array keys: the value type id of the elements. */
  arrayTypes: Map<string, number>;
  tensors: GgufTensorInfo[];
  tensorsByName: Map<string, GgufTensorInfo>;
  alignment: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
  /** File size in bytes. */
  size: number;
}

export interface GgufLimits {
  maxTensors: number;
  maxKv: number;
  /** Bytes of one string (key, value or tensor name). */
  maxStringLength: number;
  /** Elements of one array. */
  maxArrayLength: number;
  /** Bytes of the whole key/value section. */
  maxMetadataBytes: number;
  /** Arrays inside arrays: 1 = flat arrays only. */
  maxNestingDepth: number;
}

// Real models stay far below these: ~1,000s of tensors, a few dozen keys, 262k-token vocabularies, templates of
// tens of KB. The limits exist so a corrupt count cannot make us allocate or loop for long.
export const defaultGgufLimits: GgufLimits = {
  maxTensors: 1 << 16,
  maxKv: 1 << 16,
  maxStringLength: 16 << 20,
  maxArrayLength: 1 << 24,
  maxMetadataBytes: 512 << 20,
  maxNestingDepth: 8,
};

const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
const MAX_NAME = 64; // GGML_MAX_NAME: names must be shorter (room for the C NUL)
const WINDOW = 1 << 20;

// Payload bytes of the fixed-size value types; 0 for STRING and ARRAY.
const scalarSize = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
// Smallest encoding of one element of each type, to reject counts the remaining bytes cannot hold.
const minElementSize = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

/** A forward-only cursor over a ModelSource that keeps one window of bytes and refills it on demand. */
class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buf.buffer);
  private start = 0;
  pos = 0;
  /** Reads past this absolute offset fail with metadata_too_large (the KV section's budget). */
  budgetEnd = Infinity;

  constructor(
    private readonly source: ModelSource,
    readonly size: number,
  ) {}

  get remaining(): number {
    return this.size - this.pos;
  }

  /** True if the next n bytes are already in the window (the caller may then read synchronously). */
  has(n: number): boolean {
    return this.pos + n <= this.start + this.buf.length && this.pos + n <= this.budgetEnd;
  }

  /** Make the next n bytes readable, or throw naming `what` was being read. */
  async fill(n: number, what: string): Promise<void> {
    if (this.pos + n > this.budgetEnd) {
      throw new GgufError('metadata_too_large', `${this.source.name}: metadata is larger than the limit while reading ${what}`);
    }
    if (this.pos + n > this.size) {
      throw new GgufError('truncated', `${this.source.name}: file ends at byte ${this.size} while reading ${what} (needs ${n} bytes at ${this.pos})`);
    }
    if (this.has(n)) return;
    const length = Math.min(this.size - this.pos, Math.max(n, WINDOW));
    const bytes = await this.source.read(this.pos, length);
    if (bytes.byteLength < n) {
      throw new GgufError('truncated', `${this.source.name}: short read at byte ${this.pos} while reading ${what}`);
    }
    this.buf = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.start = this.pos;
  }

  u8(): number {
    return this.buf[this.pos++ - this.start];
  }
  u32(): number {
    const v = this.view.getUint32(this.pos - this.start, true);
    this.pos += 4;
    return v;
  }
  /** A uint64 as a number: exact up to 2^53, and at least 2^53 beyond (enough to compare against any limit). */
  u64n(): number {
    const lo = this.view.getUint32(this.pos - this.start, true);
    const hi = this.view.getUint32(this.pos - this.start + 4, true);
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }
  scalar(type: number): GgufScalar {
    const v = this.view;
    const o = this.pos - this.start;
    this.pos += scalarSize[type];
    switch (type) {
      case GGUF_TYPE.UINT8: return v.getUint8(o);
      case GGUF_TYPE.INT8: return v.getInt8(o);
      case GGUF_TYPE.UINT16: return v.getUint16(o, true);
      case GGUF_TYPE.INT16: return v.getInt16(o, true);
      case GGUF_TYPE.UINT32: return v.getUint32(o, true);
      case GGUF_TYPE.INT32: return v.getInt32(o, true);
      case GGUF_TYPE.FLOAT32: return v.getFloat32(o, true);
      // llama.cpp reads the byte as a C++ bool: anything non-zero is true.
      case GGUF_TYPE.BOOL: return v.getUint8(o) !== 0;
      case GGUF_TYPE.UINT64: return narrow(v.getBigUint64(o, true));
      case GGUF_TYPE.INT64: return narrow(v.getBigInt64(o, true));
      case GGUF_TYPE.FLOAT64: return v.getFloat64(o, true);
    }
    throw new Error(`not a scalar type: ${type}`);
  }
  /** A copy of the next n bytes in a fresh, aligned buffer. */
  take(n: number): Uint8Array {
    const o = this.pos - this.start;
    this.pos += n;
    return this.buf.slice(o, o + n);
  }
  /** The next length-prefixed string if it is wholly in the window and within `maxLength`; else undefined. */
  trySyncString(maxLength: number): string | undefined {
    if (!this.has(8)) return undefined;
    const o = this.pos - this.start;
    const length = this.view.getUint32(o, true) + this.view.getUint32(o + 4, true) * 0x1_0000_0000;
    if (length > maxLength || !this.has(8 + length)) return undefined;
    this.pos += 8 + length;
    return decodeUtf8(this.buf, o + 8, o + 8 + length);
  }
  text(n: number): string {
    const o = this.pos - this.start;
    this.pos += n;
    return decodeUtf8(this.buf, o, o + n);
  }
}

function narrow(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

const utf8 = new TextDecoder('utf-8');

// Keys and token pieces are short: decoding them by hand is several times faster than a TextDecoder call per string
// (a 262k-token vocabulary with its merges is ~750k strings). Anything unusual (invalid UTF-8, which some token lists
// contain) goes to TextDecoder, which replaces bad sequences with U+FFFD.
const units = new Uint16Array(64);

function decodeUtf8(b: Uint8Array, start: number, end: number): string {
  if (end - start > units.length) return utf8.decode(b.subarray(start, end));
  let n = 0;
  let i = start;
  while (i < end) {
    const c = b[i];
    if (c < 0x80) {
      units[n++] = c;
      i += 1;
    } else if (c >= 0xc2 && c < 0xe0 && i + 1 < end && (b[i + 1] & 0xc0) === 0x80) {
      units[n++] = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
      i += 2;
    } else if (c >= 0xe0 && c < 0xf0 && i + 2 < end && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
      const cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
      if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) return utf8.decode(b.subarray(start, end));
      units[n++] = cp;
      i += 3;
    } else {
      return utf8.decode(b.subarray(start, end));
    }
  }
  return String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]);
}

class HeaderParser {
  readonly c: Cursor;
  private readonly name: string;

  constructor(
    source: ModelSource,
    private readonly limits: GgufLimits,
  ) {
    this.c = new Cursor(source, source.size);
    this.name = source.name;
  }

  fail(code: ConstructorParameters<typeof GgufError>[0], message: string, subject?: string): never {
    throw new GgufError(code, `${this.name}: ${message}`, subject);
  }

  async need(n: number, what: string): Promise<void> {
    if (!this.c.has(n)) await this.c.fill(n, what);
  }

  async string(what: string, maxLength = this.limits.maxStringLength): Promise<string> {
    const c = this.c;
    if (!c.has(8)) await c.fill(8, what);
    const length = c.u64n();
    if (length > maxLength) {
      this.fail('string_too_long', `${what} is ${length} bytes long (limit ${maxLength})`);
    }
    if (!c.has(length)) await c.fill(length, what);
    return c.text(length);
  }

  async value(type: number, key: string, depth: number): Promise<GgufValue> {
    if (type === GGUF_TYPE.STRING) return this.string(`the value of '${key}'`);
    if (type === GGUF_TYPE.ARRAY) return this.array(key, depth + 1);
    if (!(type >= 0 && type < scalarSize.length)) {
      this.fail('bad_value_type', `key '${key}' has invalid value type ${type}`, key);
    }
    await this.need(scalarSize[type], `the value of '${key}'`);
    return this.c.scalar(type);
  }

  /** An array payload (element type, count, elements); `depth` 1 for a top-level array. */
  async array(key: string, depth: number, onElementType?: (type: number) => void): Promise<GgufValue> {
    const c = this.c;
    if (depth > this.limits.maxNestingDepth) {
      this.fail('nesting_too_deep', `key '${key}' nests arrays deeper than ${this.limits.maxNestingDepth}`, key);
    }
    await this.need(12, `the array header of '${key}'`);
    const type = c.u32();
    const count = c.u64n();
    if (!(type < scalarSize.length)) this.fail('bad_value_type', `array '${key}' has invalid element type ${type}`, key);
    onElementType?.(type);
    if (count > this.limits.maxArrayLength) {
      this.fail('array_too_long', `array '${key}' has ${count} elements (limit ${this.limits.maxArrayLength})`, key);
    }
    if (count * minElementSize[type] > c.remaining) {
      this.fail('truncated', `array '${key}' of ${count} ${ggufTypeName(type)} does not fit in the rest of the file`, key);
    }
    const size = scalarSize[type];
    if (size > 0 && type !== GGUF_TYPE.BOOL) {
      await this.need(count * size, `the elements of '${key}'`);
      const b = c.take(count * size).buffer;
      switch (type) {
        case GGUF_TYPE.UINT8: return new Uint8Array(b);
        case GGUF_TYPE.INT8: return new Int8Array(b);
        case GGUF_TYPE.UINT16: return new Uint16Array(b);
        case GGUF_TYPE.INT16: return new Int16Array(b);
        case GGUF_TYPE.UINT32: return new Uint32Array(b);
        case GGUF_TYPE.INT32: return new Int32Array(b);
        case GGUF_TYPE.FLOAT32: return new Float32Array(b);
        case GGUF_TYPE.UINT64: return new BigUint64Array(b);
        case GGUF_TYPE.INT64: return new BigInt64Array(b);
        case GGUF_TYPE.FLOAT64: return new Float64Array(b);
      }
    }
    const out: GgufValue[] = [];
    if (type === GGUF_TYPE.BOOL) {
      await this.need(count, `the elements of '${key}'`);
      for (let i = 0; i < count; i++) out.push(c.u8() !== 0);
    } else if (type === GGUF_TYPE.STRING) {
      const max = this.limits.maxStringLength;
      for (let i = 0; i < count; i++) out.push(c.trySyncString(max) ?? (await this.string(`element ${i} of '${key}'`)));
    } else {
      for (let i = 0; i < count; i++) out.push(await this.array(key, depth + 1));
    }
    return out;
  }
}

/** Parse a GGUF header (metadata and tensor infos) and validate the tensor layout against the file size. */
export async function readGguf(source: ModelSource, limits?: Partial<GgufLimits>): Promise<GgufFile> {
  const lim: GgufLimits = { ...defaultGgufLimits, ...limits };
  const p: HeaderParser = new HeaderParser(source, lim);
  const c = p.c;

  if (c.size < 4) p.fail('truncated', `file is ${c.size} bytes, too short for a GGUF magic`);
  await p.need(4, 'the magic');
  const magic = [c.u8(), c.u8(), c.u8(), c.u8()];
  if (String.fromCharCode(...magic) !== 'GGUF') {
    p.fail('bad_magic', `not a GGUF file (magic bytes ${magic.map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  }
  await p.need(4, 'the version');
  const version = c.u32();
  if (version === 1) p.fail('unsupported_version', 'GGUF v1 is no longer supported (llama.cpp refuses it too); convert the model again with a current llama.cpp');
  if ((version & 0xffff) === 0 && version !== 0) {
    p.fail('unsupported_version', `GGUF version field 0x${version.toString(16)} looks byte-swapped: big-endian GGUF files are not supported`);
  }
  if (version !== 2 && version !== 3) p.fail('unsupported_version', `GGUF version ${version} is not supported (only 2 and 3)`);

  await p.need(16, 'the tensor and key/value counts');
  const nTensors = c.u64n();
  const nKv = c.u64n();
  if (nTensors > lim.maxTensors) p.fail('too_many_tensors', `header claims ${nTensors} tensors (limit ${lim.maxTensors})`);
  if (nKv > lim.maxKv) p.fail('too_many_kv', `header claims ${nKv} key/value pairs (limit ${lim.maxKv})`);
  // each KV needs at least a key length, a value type and one payload byte
  if (nKv * 13 > c.remaining) p.fail('truncated', `header claims ${nKv} key/value pairs, more than the file can hold`);

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, number>();
  const arrayTypes = new Map<string, number>();
  c.budgetEnd = c.pos + lim.maxMetadataBytes;
  for (let i = 0; i < nKv; i++) {
    const key = await p.string(`key ${i}`);
    if (key.length === 0) p.fail('bad_key', `key ${i} is empty`);
    if (metadata.has(key)) p.fail('duplicate_key', `duplicate key '${key}'`, key);
    await p.need(4, `the value type of '${key}'`);
    const type = c.u32();
    const value =
      type === GGUF_TYPE.ARRAY
        ? await p.array(key, 1, (t) => arrayTypes.set(key, t))
        : await p.value(type, key, 0);
    metadata.set(key, value);
    metadataTypes.set(key, type);
  }
  c.budgetEnd = Infinity;

  let alignment = DEFAULT_ALIGNMENT;
  if (metadata.has('general.alignment')) {
    const t = metadataTypes.get('general.alignment');
    if (t !== GGUF_TYPE.UINT32) {
      p.fail('bad_alignment', `general.alignment must be UINT32 but is ${ggufTypeName(t!)}`, 'general.alignment');
    }
    alignment = metadata.get('general.alignment') as number;
    if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
      p.fail('bad_alignment', `general.alignment ${alignment} is not a power of two`, 'general.alignment');
    }
  }

  // each tensor info needs at least a name length, n_dims, one dim, a type and an offset
  if (nTensors * 32 > c.remaining) p.fail('truncated', `header claims ${nTensors} tensors, more than the file can hold`);
  const tensors: GgufTensorInfo[] = [];
  const tensorsByName = new Map<string, GgufTensorInfo>();
  const relOffsets: number[] = [];
  for (let i = 0; i < nTensors; i++) {
    await p.need(8, `the name of tensor ${i}`);
    const nameLength = c.u64n();
    if (nameLength === 0 || nameLength >= MAX_NAME) {
      p.fail('bad_tensor_name', `tensor ${i} has a name of ${nameLength} bytes (must be 1..${MAX_NAME - 1})`);
    }
    await p.need(nameLength, `the name of tensor ${i}`);
    const name = c.text(nameLength);
    if (tensorsByName.has(name)) p.fail('duplicate_tensor', `duplicate tensor name '${name}'`, name);
    await p.need(4, `the dimension count of '${name}'`);
    const nDims = c.u32();
    if (nDims === 0 || nDims > MAX_DIMS) p.fail('bad_dims', `tensor '${name}' has ${nDims} dimensions (must be 1..${MAX_DIMS})`, name);
    await p.need(8 * nDims + 12, `the shape of '${name}'`);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const ne = c.u64n();
      if (ne === 0 || ne > Number.MAX_SAFE_INTEGER) p.fail('bad_dims', `tensor '${name}' dimension ${d} is ${ne}`, name);
      dims.push(ne);
      elements *= ne;
    }
    if (!Number.isSafeInteger(elements)) p.fail('bad_dims', `tensor '${name}' shape [${dims}] has too many elements`, name);
    const typeId = c.u32();
    const relOffset = c.u64n();
    const type = ggmlType(typeId);
    if (!type) p.fail('unknown_tensor_type', `tensor '${name}' has unknown ggml type ${typeId}`, name);
    if (dims[0] % type.blockSize !== 0) {
      p.fail('bad_block_alignment', `tensor '${name}' of type ${type.name} has rows of ${dims[0]} elements, not a multiple of its block size ${type.blockSize}`, name);
    }
    const size = (elements / type.blockSize) * type.typeSize;
    if (!Number.isSafeInteger(size)) p.fail('bad_dims', `tensor '${name}' shape [${dims}] is too large`, name);
    if (relOffset % alignment !== 0) {
      p.fail('misaligned_offset', `tensor '${name}' data offset ${relOffset} is not a multiple of the alignment ${alignment}`, name);
    }
    const info: GgufTensorInfo = { name, dims, type: typeId, typeName: type.name, offset: relOffset, size, elements };
    tensors.push(info);
    tensorsByName.set(name, info);
    relOffsets.push(relOffset);
  }

  const dataOffset = nTensors > 0 ? Math.ceil(c.pos / alignment) * alignment : c.pos;
  for (const t of tensors) {
    t.offset += dataOffset;
    if (t.offset + t.size > c.size) {
      p.fail('tensor_out_of_bounds', `tensor '${t.name}' data [${t.offset}, ${t.offset + t.size}) lies outside the file (${c.size} bytes)`, t.name);
    }
  }
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    if (byOffset[i].offset < prev.offset + prev.size) {
      p.fail('tensors_overlap', `tensors '${prev.name}' and '${byOffset[i].name}' overlap`, byOffset[i].name);
    }
  }

  return {
    version: version as 2 | 3,
    metadata,
    metadataTypes,
    arrayTypes,
    tensors,
    tensorsByName,
    alignment,
    dataOffset,
    size: c.size,
  };
}

// ---- typed accessors ----------------------------------------------------------------------------------------------

type TypedArray = Exclude<GgufValue, GgufScalar | GgufValue[]>;

function lookup(file: GgufFile, key: string): GgufValue | undefined {
  return file.metadata.get(key);
}

function wrongType(file: GgufFile, key: string, wanted: string): never {
  const t = file.metadataTypes.get(key)!;
  const got = t === GGUF_TYPE.ARRAY ? `ARRAY of ${ggufTypeName(file.arrayTypes.get(key)!)}` : ggufTypeName(t);
  throw new GgufError('wrong_type', `key '${key}' is ${got}, expected ${wanted}`, key);
}

function missing(key: string): never {
  throw new GgufError('missing_key', `key '${key}' is missing`, key);
}

const integerTypes = new Set<number>([
  GGUF_TYPE.UINT8, GGUF_TYPE.INT8, GGUF_TYPE.UINT16, GGUF_TYPE.INT16, GGUF_TYPE.UINT32, GGUF_TYPE.INT32,
  GGUF_TYPE.UINT64, GGUF_TYPE.INT64,
]);

function integer(file: GgufFile, key: string, min: number, max: number, wanted: string): number | undefined {
  const v = lookup(file, key);
  if (v === undefined) return undefined;
  if (!integerTypes.has(file.metadataTypes.get(key)!)) wrongType(file, key, wanted);
  if (typeof v !== 'number' || v < min || v > max) {
    throw new GgufError('wrong_type', `key '${key}' = ${v} does not fit in ${wanted}`, key);
  }
  return v;
}

export function hasKey(file: GgufFile, key: string): boolean {
  return file.metadata.has(key);
}

export function getString(file: GgufFile, key: string, fallback?: string): string {
  const v = lookup(file, key);
  if (v === undefined) return fallback ?? missing(key);
  if (typeof v !== 'string') wrongType(file, key, 'STRING');
  return v;
}

/** Any integer-typed key whose value fits in 0..2^32-1. */
export function getU32(file: GgufFile, key: string, fallback?: number): number {
  return integer(file, key, 0, 0xffff_ffff, 'UINT32') ?? fallback ?? missing(key);
}

/** Any integer-typed key whose value fits in int32. */
export function getI32(file: GgufFile, key: string, fallback?: number): number {
  return integer(file, key, -0x8000_0000, 0x7fff_ffff, 'INT32') ?? fallback ?? missing(key);
}

/** FLOAT32 or FLOAT64. */
export function getF32(file: GgufFile, key: string, fallback?: number): number {
  const v = lookup(file, key);
  if (v === undefined) return fallback ?? missing(key);
  const t = file.metadataTypes.get(key);
  if (t !== GGUF_TYPE.FLOAT32 && t !== GGUF_TYPE.FLOAT64) wrongType(file, key, 'FLOAT32');
  return v as number;
}

export function getBool(file: GgufFile, key: string, fallback?: boolean): boolean {
  const v = lookup(file, key);
  if (v === undefined) return fallback ?? missing(key);
  if (typeof v !== 'boolean') wrongType(file, key, 'BOOL');
  return v;
}

/** Any array value, as decoded (typed array for numeric elements, JS array otherwise). */
export function getArray(file: GgufFile, key: string, fallback?: GgufValue[] | TypedArray): GgufValue[] | TypedArray {
  const v = lookup(file, key);
  if (v === undefined) return fallback ?? missing(key);
  if (file.metadataTypes.get(key) !== GGUF_TYPE.ARRAY) wrongType(file, key, 'ARRAY');
  return v as GgufValue[] | TypedArray;
}

export function getStringArray(file: GgufFile, key: string, fallback?: string[]): string[] {
  const v = lookup(file, key);
  if (v === undefined) return fallback ?? missing(key);
  if (file.metadataTypes.get(key) !== GGUF_TYPE.ARRAY || file.arrayTypes.get(key) !== GGUF_TYPE.STRING) {
    wrongType(file, key, 'ARRAY of STRING');
  }
  return v as string[];
}

export function getF32Array(file: GgufFile, key: string, fallback?: Float32Array): Float32Array {
  const v = lookup(file, key);
  if (v === undefined) return fallback ?? missing(key);
  if (!(v instanceof Float32Array)) wrongType(file, key, 'ARRAY of FLOAT32');
  return v;
}

/** An array of any integer type whose values all fit in int32, as an Int32Array. */
export function getI32Array(file: GgufFile, key: string, fallback?: Int32Array): Int32Array {
  const v = lookup(file, key);
  if (v === undefined) return fallback ?? missing(key);
  if (v instanceof Int32Array) return v;
  const t = file.arrayTypes.get(key);
  if (file.metadataTypes.get(key) !== GGUF_TYPE.ARRAY || t === undefined || !integerTypes.has(t)) {
    wrongType(file, key, 'ARRAY of INT32');
  }
  const src = v as TypedArray;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = Number(src[i]);
    if (x < -0x8000_0000 || x > 0x7fff_ffff) {
      throw new GgufError('wrong_type', `key '${key}' element ${i} = ${src[i]} does not fit in INT32`, key);
    }
    out[i] = x;
  }
  return out;
}
