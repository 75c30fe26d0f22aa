/**
 * GGUF reader, writer, quantizers and synthetic models: real files from ../shared/models (spec gguf.md §5.1),
 * writer→reader round trips of every value and tensor type, malformed files each refused with their own error code,
 * and synthetic models of every weight type loaded and run by llama.cpp (node-llama-cpp) as the independent check.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bufferSource } from '../src/engine/gguf/source.ts';
import {
  getArray, getBool, getF32, getF32Array, getI32, getI32Array, getString, getStringArray, getU32, hasKey, readGguf,
  type GgufFile, type GgufLimits,
} from '../src/engine/gguf/reader.ts';
import { GgufError, type GgufErrorCode } from '../src/engine/gguf/errors.ts';
import { GGML_TYPE, GGUF_TYPE, ggmlType, ggmlTypes } from '../src/engine/gguf/types.ts';
import { encodeGguf, gv, layoutGguf, typedValueOf, writeGguf, type GgufTensorInput, type GgufTypedValue, type GgufWriteSpec } from '../src/engine/gguf/writer.ts';
import { dequantize, f16ToF32, f32ToBf16, f32ToF16, quantize, quantizableTypes } from '../src/engine/gguf/quantize.ts';
import { makeSyntheticLlama, syntheticVocab } from '../src/engine/gguf/synthetic.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { fileSink } from '../src/host/node/file-sink.ts';

const models = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/models');

function shared(name: string): string {
  const path = join(models, name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: this test needs the shared models folder (../shared/models beside the repo)`);
  }
  return path;
}

async function parseFile(path: string): Promise<GgufFile> {
  const source = await fileSource(path);
  try {
    return await readGguf(source);
  } finally {
    await source.close?.();
  }
}

async function expectCode(bytes: Uint8Array, code: GgufErrorCode, limits?: Partial<GgufLimits>, subject?: string): Promise<void> {
  try {
    await readGguf(bufferSource(bytes, 'bad.gguf'), limits);
  } catch (e) {
    assert.instance(e, GgufError, `expected a GgufError, got ${e}`);
    assert.is((e as GgufError).code, code, (e as Error).message);
    if (subject !== undefined) assert.is((e as GgufError).subject, subject);
    return;
  }
  assert.unreachable(`expected ${code}, but the file parsed`);
}

// ---- real files ---------------------------------------------------------------------------------------------------

test('stories260K.gguf: header facts of spec gguf.md §5.1', async () => {
  const f = await parseFile(shared('stories260K.gguf'));
  assert.is(f.version, 3);
  assert.is(f.metadata.size, 19);
  assert.is(f.tensors.length, 48);
  assert.is(f.alignment, 32);
  assert.is(f.dataOffset, 14176);
  assert.is(f.size, 1185376);
  assert.is(getString(f, 'general.architecture'), 'llama');
  assert.is(getString(f, 'general.name'), 'llama');
  assert.is(getU32(f, 'llama.context_length'), 2048);
  assert.is(getU32(f, 'llama.embedding_length'), 64);
  assert.is(getU32(f, 'llama.feed_forward_length'), 172);
  assert.is(getU32(f, 'llama.attention.head_count'), 8);
  assert.is(getU32(f, 'llama.attention.head_count_kv'), 4);
  assert.is(getU32(f, 'llama.block_count'), 5);
  assert.is(getU32(f, 'llama.rope.dimension_count'), 8);
  assert.is(getF32(f, 'llama.attention.layer_norm_rms_epsilon'), Math.fround(1e-5));
  assert.is(getString(f, 'tokenizer.ggml.model'), 'llama');
  assert.is(getU32(f, 'tokenizer.ggml.unknown_token_id'), 0);
  assert.is(getU32(f, 'tokenizer.ggml.bos_token_id'), 1);
  assert.is(getU32(f, 'tokenizer.ggml.eos_token_id'), 2);
  assert.is(getU32(f, 'tokenizer.ggml.seperator_token_id'), 4294967295);
  assert.is(getU32(f, 'tokenizer.ggml.padding_token_id'), 4294967295);
  assert.is(getF32(f, 'llama.rope.freq_base', 10000), 10000, 'absent key falls back');

  const tokens = getStringArray(f, 'tokenizer.ggml.tokens');
  const scores = getF32Array(f, 'tokenizer.ggml.scores');
  const types = getI32Array(f, 'tokenizer.ggml.token_type');
  assert.is(tokens.length, 512);
  assert.is(scores.length, 512);
  assert.is(types.length, 512);
  assert.equal([tokens[0], tokens[1], tokens[2], tokens[3], tokens[258]], ['<unk>', '<s>', '</s>', '<0x00>', '<0xFF>']);
  assert.equal([...types.subarray(0, 4)], [2, 3, 3, 6]);
  assert.is(types[259], 1);
  assert.is(tokens[259], '\u2581t');
  assert.is(tokens[265], '\u2581the');
  assert.is(scores[265], -6);
  assert.is(scores[511], -252);

  const t = (name: string) => f.tensorsByName.get(name)!;
  assert.equal(t('token_embd.weight').dims, [64, 512]);
  assert.is(t('token_embd.weight').offset, 14176);
  assert.is(t('token_embd.weight').typeName, 'f32');
  assert.equal(t('output_norm.weight').dims, [64]);
  assert.is(t('output_norm.weight').offset, 14176 + 131072);
  assert.equal(t('output.weight').dims, [64, 512]);
  for (let b = 0; b < 5; b++) {
    assert.equal(t(`blk.${b}.attn_norm.weight`).dims, [64]);
    assert.equal(t(`blk.${b}.attn_q.weight`).dims, [64, 64]);
    assert.equal(t(`blk.${b}.attn_k.weight`).dims, [64, 32]);
    assert.equal(t(`blk.${b}.attn_v.weight`).dims, [64, 32]);
    assert.equal(t(`blk.${b}.attn_output.weight`).dims, [64, 64]);
    assert.equal(t(`blk.${b}.ffn_norm.weight`).dims, [64]);
    assert.equal(t(`blk.${b}.ffn_gate.weight`).dims, [64, 172]);
    assert.equal(t(`blk.${b}.ffn_up.weight`).dims, [64, 172]);
    assert.equal(t(`blk.${b}.ffn_down.weight`).dims, [172, 64]);
  }
  assert.ok(f.tensors.every((x) => x.type === GGML_TYPE.F32 && x.size === x.elements * 4));
  assert.is(f.tensors.reduce((n, x) => n + x.elements, 0), 292800);
});

test('fileSource: ranged reads, readInto with progress, into shared memory too', async () => {
  const path = shared('stories260K.gguf');
  const whole = new Uint8Array(await readFile(path));
  const source = await fileSource(path);
  try {
    assert.is(source.size, whole.length);
    assert.is(source.name, 'stories260K.gguf');
    assert.equal(await source.read(100, 50), whole.subarray(100, 150));
    assert.is((await source.read(whole.length - 10, 100)).length, 10, 'short only at the end');
    const f = await readGguf(source);
    const t = f.tensorsByName.get('output.weight')!;
    const target = new Uint8Array(new SharedArrayBuffer(t.size + 16), 8, t.size);
    let progress = 0;
    await source.readInto(t.offset, target, (n) => (progress += n));
    assert.is(progress, t.size);
    assert.equal(target, whole.subarray(t.offset, t.offset + t.size));
    try {
      await source.readInto(whole.length - 4, new Uint8Array(8));
      assert.unreachable('read past the end');
    } catch (e) {
      assert.instance(e, RangeError);
    }
  } finally {
    await source.close?.();
  }
});

test('llama-2-tiny-random and mmproj-tinygemma3 parse: F16 / Q8_0 tensors, bool and string-array keys', async () => {
  const llama = await parseFile(shared('llama-2-tiny-random.gguf'));
  assert.is(getStringArray(llama, 'tokenizer.ggml.tokens').length, 32000);
  assert.is(llama.tensors.filter((t) => t.typeName === 'f16').length, 9);
  const clip = await parseFile(shared('mmproj-tinygemma3.gguf'));
  assert.is(clip.tensors.length, 71);
  assert.is(clip.tensors.filter((t) => t.type === GGML_TYPE.Q8_0).length, 24);
  assert.is(getBool(clip, 'clip.has_vision_encoder'), true);
  assert.is(getString(clip, 'clip.projector_type'), 'gemma3');
});

test('every vocab file in shared/models/vocab parses quickly', async () => {
  const dir = join(models, 'vocab');
  if (!existsSync(dir)) throw new Error(`${dir} is missing: this test needs the shared models folder`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.gguf'));
  assert.ok(files.length >= 7, `expected the vocab files, found ${files.length}`);
  for (const name of files) {
    const started = performance.now();
    const f = await parseFile(join(dir, name));
    const ms = performance.now() - started;
    const tokens = getStringArray(f, 'tokenizer.ggml.tokens');
    assert.ok(tokens.length > 30000, `${name}: ${tokens.length} tokens`);
    assert.is(f.tensors.length, 0);
    assert.ok(ms < 5000, `${name} took ${ms.toFixed(0)} ms`);
    if (getString(f, 'tokenizer.ggml.model') === 'gpt2') {
      assert.ok(getStringArray(f, 'tokenizer.ggml.merges').length > 10000, `${name}: merges`);
    }
  }
});

test('GGUF v1 (legacy tinyllamas file) is refused with unsupported_version', async () => {
  try {
    await parseFile(shared('legacy/tinyllamas-stories-260k-f32.gguf'));
    assert.unreachable('v1 parsed');
  } catch (e) {
    assert.instance(e, GgufError);
    assert.is((e as GgufError).code, 'unsupported_version');
    assert.match((e as Error).message, /v1/);
  }
});

test('writer reproduces stories260K.gguf byte for byte from its parsed header and data', async () => {
  const path = shared('stories260K.gguf');
  const whole = new Uint8Array(await readFile(path));
  const f = await readGguf(bufferSource(whole, 'stories260K.gguf'));
  const spec: GgufWriteSpec = {
    metadata: [...f.metadata.keys()].map((k) => [k, typedValueOf(f, k)] as const),
    tensors: f.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: whole.subarray(t.offset, t.offset + t.size) })),
  };
  const out = await encodeGguf(spec);
  assert.is(out.length, whole.length);
  assert.ok(Buffer.compare(out, whole) === 0, 'bytes differ');
});

// ---- writer → reader round trips ----------------------------------------------------------------------------------

const allValues: [string, GgufTypedValue][] = [
  ['t.u8', gv.u8(255)],
  ['t.i8', gv.i8(-128)],
  ['t.u16', gv.u16(65535)],
  ['t.i16', gv.i16(-32768)],
  ['t.u32', gv.u32(4294967295)],
  ['t.i32', gv.i32(-2147483648)],
  ['t.f32', gv.f32(Math.fround(0.1))],
  ['t.bool.true', gv.bool(true)],
  ['t.bool.false', gv.bool(false)],
  ['t.str', gv.str('▁héllo, 世界 🦙')],
  ['t.str.empty', gv.str('')],
  ['t.u64.small', gv.u64(12345)],
  ['t.u64.max', gv.u64(18446744073709551615n)],
  ['t.i64.min', gv.i64(-9223372036854775808n)],
  ['t.i64.neg', gv.i64(-5)],
  ['t.f64', gv.f64(Math.PI)],
  ['a.u8', gv.array(GGUF_TYPE.UINT8, [0, 1, 255])],
  ['a.i8', gv.array(GGUF_TYPE.INT8, [-128, 0, 127])],
  ['a.u16', gv.array(GGUF_TYPE.UINT16, [0, 65535])],
  ['a.i16', gv.array(GGUF_TYPE.INT16, [-32768, 32767])],
  ['a.u32', gv.array(GGUF_TYPE.UINT32, [0, 4294967295])],
  ['a.i32', gv.array(GGUF_TYPE.INT32, [-2147483648, 2147483647, 7])],
  ['a.f32', gv.array(GGUF_TYPE.FLOAT32, new Float32Array([1.5, -0, Infinity]))],
  ['a.bool', gv.array(GGUF_TYPE.BOOL, [true, false, true])],
  ['a.str', gv.array(GGUF_TYPE.STRING, ['a', '', '▁the', '<0x0A>', 'x'.repeat(300)])],
  ['a.u64', gv.array(GGUF_TYPE.UINT64, [0n, 18446744073709551615n])],
  ['a.i64', gv.array(GGUF_TYPE.INT64, [-9223372036854775808n, 1n])],
  ['a.f64', gv.array(GGUF_TYPE.FLOAT64, [Math.E, -1e300])],
  ['a.empty', gv.array(GGUF_TYPE.FLOAT32, [])],
  ['a.nested', gv.array(GGUF_TYPE.ARRAY, [gv.array(GGUF_TYPE.INT32, [1, 2]), gv.array(GGUF_TYPE.STRING, ['p', 'q']), gv.array(GGUF_TYPE.ARRAY, [gv.array(GGUF_TYPE.BOOL, [true])])])],
];

test('writer → reader: every metadata value type, arrays and nested arrays', async () => {
  const bytes = await encodeGguf({ metadata: allValues, tensors: [] });
  const f = await readGguf(bufferSource(bytes));
  assert.is(f.metadata.size, allValues.length);
  for (const [key, v] of allValues) {
    assert.is(f.metadataTypes.get(key), v.type, key);
    const got = f.metadata.get(key);
    if ('value' in v) {
      assert.is(got, typeof v.value === 'bigint' && v.value <= BigInt(Number.MAX_SAFE_INTEGER) && v.value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v.value) : v.value, key);
    } else {
      assert.is(f.arrayTypes.get(key), v.elementType, key);
    }
  }
  assert.is(f.metadata.get('t.u64.small'), 12345, 'safe u64 becomes a number');
  assert.is(f.metadata.get('t.u64.max'), 18446744073709551615n, 'unsafe u64 stays a bigint');
  assert.instance(f.metadata.get('a.u8'), Uint8Array);
  assert.equal([...(f.metadata.get('a.i8') as Int8Array)], [-128, 0, 127]);
  assert.equal([...(f.metadata.get('a.u16') as Uint16Array)], [0, 65535]);
  assert.equal([...(f.metadata.get('a.i16') as Int16Array)], [-32768, 32767]);
  assert.equal([...(f.metadata.get('a.u32') as Uint32Array)], [0, 4294967295]);
  assert.equal([...getI32Array(f, 'a.i32')], [-2147483648, 2147483647, 7]);
  assert.ok(Object.is(getF32Array(f, 'a.f32')[1], -0));
  assert.equal(f.metadata.get('a.bool'), [true, false, true]);
  assert.equal(getStringArray(f, 'a.str'), ['a', '', '▁the', '<0x0A>', 'x'.repeat(300)]);
  assert.equal([...(f.metadata.get('a.u64') as BigUint64Array)], [0n, 18446744073709551615n]);
  assert.equal([...(f.metadata.get('a.i64') as BigInt64Array)], [-9223372036854775808n, 1n]);
  assert.equal([...(f.metadata.get('a.f64') as Float64Array)], [Math.E, -1e300]);
  assert.is((f.metadata.get('a.empty') as Float32Array).length, 0);
  const nested = getArray(f, 'a.nested') as unknown[];
  assert.equal([...(nested[0] as Int32Array)], [1, 2]);
  assert.equal(nested[1], ['p', 'q']);
  assert.equal(nested[2], [[true]]);
  // and back again: the typed values recovered from the parsed file encode to the same bytes
  const again = await encodeGguf({ metadata: allValues.map(([k]) => [k, typedValueOf(f, k)] as const), tensors: [] });
  assert.ok(Buffer.compare(again, bytes) === 0, 're-encoded metadata differs');
});

test('bufferSource over a Node Buffer (whose slice() is a view, not a copy) reads arrays right', async () => {
  const bytes = await encodeGguf({ metadata: allValues, tensors: [] });
  // a Buffer inside a larger pool, at an offset, as readFileSync / Buffer.concat hand them out
  const pool = Buffer.alloc(bytes.length + 24);
  const buf = pool.subarray(8, 8 + bytes.length);
  buf.set(bytes);
  const f = await readGguf(bufferSource(buf));
  assert.equal([...getI32Array(f, 'a.i32')], [-2147483648, 2147483647, 7]);
  assert.equal(getStringArray(f, 'a.str'), ['a', '', '▁the', '<0x0A>', 'x'.repeat(300)]);
  assert.equal([...(f.metadata.get('a.f64') as Float64Array)], [Math.E, -1e300]);
});

test('writer → reader: a header far larger than the writer\'s first buffer (32k-token vocabulary)', async () => {
  const vocab = syntheticVocab(32000, 3);
  const bytes = await encodeGguf({
    metadata: [
      ['tokenizer.ggml.tokens', gv.array(GGUF_TYPE.STRING, vocab.tokens)],
      ['tokenizer.ggml.scores', gv.array(GGUF_TYPE.FLOAT32, vocab.scores)],
      ['tokenizer.ggml.token_type', gv.array(GGUF_TYPE.INT32, vocab.types)],
      ['after', gv.u32(77)],
    ],
    tensors: [{ name: 't', dims: [4], type: GGML_TYPE.F32, data: new Uint8Array(16).fill(3) }],
  });
  assert.ok(bytes.length > 300_000);
  const f = await readGguf(bufferSource(bytes));
  assert.equal(getStringArray(f, 'tokenizer.ggml.tokens'), vocab.tokens);
  assert.equal(getF32Array(f, 'tokenizer.ggml.scores'), vocab.scores);
  assert.equal(getI32Array(f, 'tokenizer.ggml.token_type'), vocab.types);
  assert.is(getU32(f, 'after'), 77);
  const t = f.tensorsByName.get('t')!;
  assert.equal([...bytes.subarray(t.offset, t.offset + 16)], new Array(16).fill(3));
});

test('typed accessors: defaults, missing keys and wrong types are GgufErrors', async () => {
  const f = await readGguf(bufferSource(await encodeGguf({ metadata: allValues, tensors: [] })));
  assert.ok(hasKey(f, 't.u8'));
  assert.not.ok(hasKey(f, 'nope'));
  assert.is(getU32(f, 't.u8'), 255, 'narrow unsigned ints widen');
  assert.is(getI32(f, 't.i8'), -128);
  assert.is(getU32(f, 't.u64.small'), 12345);
  assert.is(getU32(f, 'nope', 7), 7);
  assert.is(getString(f, 'nope', 'dflt'), 'dflt');
  assert.is(getBool(f, 'nope', false), false);
  assert.is(getF32(f, 't.f64'), Math.PI);
  const cases: [() => unknown, GgufErrorCode][] = [
    [() => getU32(f, 'nope'), 'missing_key'],
    [() => getString(f, 't.u32'), 'wrong_type'],
    [() => getU32(f, 't.str'), 'wrong_type'],
    [() => getU32(f, 't.i8'), 'wrong_type'], // -128 does not fit
    [() => getI32(f, 't.u32'), 'wrong_type'], // 2^32-1 does not fit
    [() => getU32(f, 't.u64.max'), 'wrong_type'],
    [() => getF32(f, 't.u32'), 'wrong_type'],
    [() => getBool(f, 't.u8'), 'wrong_type'],
    [() => getStringArray(f, 'a.i32'), 'wrong_type'],
    [() => getF32Array(f, 'a.f64'), 'wrong_type'],
    [() => getI32Array(f, 'a.u32'), 'wrong_type'], // 2^32-1 does not fit
    [() => getI32Array(f, 'a.str'), 'wrong_type'],
    [() => getArray(f, 't.str'), 'wrong_type'],
    [() => getU32(f, 't.str', 5), 'wrong_type'], // a default never hides a wrong type
  ];
  for (const [fn, code] of cases) {
    try {
      fn();
      assert.unreachable(`expected ${code}`);
    } catch (e) {
      assert.instance(e, GgufError);
      assert.is((e as GgufError).code, code, (e as Error).message);
    }
  }
  assert.equal([...getI32Array(f, 'a.u16')], [0, 65535], 'integer arrays that fit convert');
});

function seededFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    x[i] = (u - 0.5) * (1 + (i % 7)) * 0.1;
  }
  return x;
}

test('writer → reader: every tensor type, offsets aligned, data where the info says', async () => {
  const tensors: GgufTensorInput[] = [];
  const expected = new Map<string, Uint8Array>();
  let seed = 1;
  for (const t of ggmlTypes) {
    const dims = [t.blockSize * 2, 3];
    const size = (dims[0] / t.blockSize) * t.typeSize * dims[1];
    const data = new Uint8Array(size).map((_, i) => (i * 31 + seed * 7) & 255);
    seed++;
    tensors.push({ name: `w.${t.name}`, dims, type: t.id, data });
    expected.set(`w.${t.name}`, data);
  }
  tensors.push({ name: 'w.4d', dims: [32, 2, 3, 4], type: GGML_TYPE.Q8_0, data: new Uint8Array(34 * 24).fill(9) });
  expected.set('w.4d', new Uint8Array(34 * 24).fill(9));
  for (const alignment of [32, 64, 1]) {
    const metadata: [string, GgufTypedValue][] = alignment === 32 ? [] : [['general.alignment', gv.u32(alignment)]];
    const bytes = await encodeGguf({ metadata, tensors });
    const f = await readGguf(bufferSource(bytes));
    assert.is(f.alignment, alignment);
    assert.is(f.dataOffset % alignment, 0);
    assert.is(f.tensors.length, tensors.length);
    for (const info of f.tensors) {
      const t = ggmlType(info.type)!;
      assert.is(info.typeName, t.name);
      assert.is((info.offset - f.dataOffset) % alignment, 0);
      assert.equal(bytes.subarray(info.offset, info.offset + info.size), expected.get(info.name), info.name);
    }
    assert.equal(f.tensorsByName.get('w.4d')!.dims, [32, 2, 3, 4]);
    assert.is(f.tensorsByName.get('w.4d')!.elements, 32 * 24);
  }
});

test('quantize → write → read → dequantize for every weight type', async () => {
  const cols = 512;
  const rows = 3;
  const x = seededFloats(cols * rows, 42);
  const tensors = quantizableTypes.map((type) => ({ name: `q.${ggmlType(type)!.name}`, dims: [cols, rows], type, data: quantize(type, x) }));
  const bytes = await encodeGguf({ metadata: [], tensors });
  const f = await readGguf(bufferSource(bytes));
  // relative RMS error bounds: exact for F32, ~bits of mantissa for F16/BF16, ~the quant step for the rest
  const bound: Record<string, number> = { f32: 0, f16: 1e-3, bf16: 5e-3, q8_0: 0.01, q4_0: 0.12, q4_1: 0.12, q4_K: 0.12, q5_K: 0.06, q6_K: 0.03 };
  for (const info of f.tensors) {
    const y = dequantize(info.type, bytes.subarray(info.offset, info.offset + info.size), info.elements);
    let err = 0;
    let power = 0;
    for (let i = 0; i < x.length; i++) {
      err += (y[i] - x[i]) ** 2;
      power += x[i] ** 2;
    }
    const rel = Math.sqrt(err / power);
    assert.ok(rel <= bound[info.typeName], `${info.typeName}: relative error ${rel}`);
    if (info.typeName !== 'f32') assert.ok(rel > 0, `${info.typeName} should not be lossless on this data`);
  }
});

test('Q8_0 / Q4_0 / Q4_1 bytes equal ggml quantize_row_*_ref', () => {
  // Golden bytes from ggml's reference quantizers (llama-src/ggml/src/ggml-quants.c, built natively with clang and
  // driven by a 10-line C main that reads these 128 floats) — ties, equal values, tiny and negative-max blocks.
  const x = new Float32Array(128);
  for (let i = 0; i < 128; i++) {
    const b = i >> 5;
    x[i] = b === 0 ? Math.sin(i * 0.7) * 3 : b === 1 ? ((i % 17) - 8) * 0.25 : b === 2 ? (i % 2 ? 1.5 : -0.5) : Math.cos(i * 1.3) * 0.01 + 0.02;
  }
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  assert.is(hex(quantize(GGML_TYPE.Q8_0, x)), '012600527e6e2bd39182af02547e6d29d18f83b104567f6c27cf8e83b306577f6b2508246f7f8191a1b1c0d0e0f000102030404f5f6f7f8191a1b1c0d0e0f000102030400c22d67fd67fd67fd67fd67fd67fd67fd67fd67fd67fd67fd67fd67fd67fd67fd67fbe0b707b4e2b457676452b4e7b703d2d577e683630607f603036697e572c3d707b4e');
  assert.is(hex(quantize(GGML_TYPE.Q4_0, x)), 'f5b5f8d38031051b6fbffdf8d38031051b6f00b421100ffffeeddccbbaa998877665544300b2bb00bb00bb00bb00bb00bb00bb00bb00ae9b11505325042151541503305144150330');
  assert.is(hex(quantize(GGML_TYPE.Q4_1, x)), '5236e5c1073c8fdefae5a15013083c8fdefae5a1443400c0deeff0011223344556677778899aabbc443000b800ff00ff00ff00ff00ff00ff00ff00ff72152621bc2e16a0f59d1d25b0f68e0c33c0e86f');
});

test('f16 and bf16 conversions round to nearest even', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = f16ToF32(h);
    if (!Number.isNaN(v)) assert.is(f32ToF16(v), h, `half 0x${h.toString(16)}`);
  }
  assert.is(f32ToF16(1 + 2 ** -11), 0x3c00, 'tie goes to even (down)');
  assert.is(f32ToF16(1 + 3 * 2 ** -11), 0x3c02, 'tie goes to even (up)');
  assert.is(f32ToF16(65520), 0x7c00, 'rounds to infinity past the largest half');
  assert.is(f32ToF16(2 ** -25), 0, 'half of the smallest subnormal rounds to even zero');
  assert.is(f32ToF16(NaN) & 0x7e00, 0x7e00);
  assert.is(f32ToBf16(1 + 2 ** -8), 0x3f80, 'bf16 tie to even');
  assert.is(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
});

test('streaming writer to a file: chunked producers, progress, bad sizes refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-gguf-'));
  try {
    const rows = 64;
    const cols = 256;
    const x = seededFloats(rows * cols, 5);
    const full = quantize(GGML_TYPE.Q4_K, x);
    const rowBytes = full.length / rows;
    const spec: GgufWriteSpec = {
      metadata: [['general.architecture', gv.str('test')]],
      tensors: [
        { name: 'small', dims: [7], type: GGML_TYPE.F32, data: quantize(GGML_TYPE.F32, seededFloats(7, 1)) },
        {
          name: 'chunked',
          dims: [cols, rows],
          type: GGML_TYPE.Q4_K,
          data: async function* () {
            for (let r = 0; r < rows; r += 8) yield full.subarray(r * rowBytes, (r + 8) * rowBytes);
          },
        },
      ],
    };
    const path = join(dir, 'stream.gguf');
    const sink = await fileSink(path);
    let calls = 0;
    let last = 0;
    const written = await writeGguf(sink, spec, (n, total) => {
      calls++;
      last = n;
      assert.ok(n <= total);
    });
    await sink.close();
    assert.is(calls, 9);
    assert.is(last, written);
    const onDisk = new Uint8Array(await readFile(path));
    assert.is(onDisk.length, layoutGguf(spec).size);
    assert.ok(Buffer.compare(onDisk, await encodeGguf(spec)) === 0, 'streamed file equals the in-memory encoding');
    const f = await parseFile(path);
    const t = f.tensorsByName.get('chunked')!;
    assert.equal(onDisk.subarray(t.offset, t.offset + t.size), full);

    for (const bad of [full.subarray(1), new Uint8Array(full.length + 1)]) {
      try {
        await writeGguf({ write() {} }, { metadata: [], tensors: [{ name: 'x', dims: [cols, rows], type: GGML_TYPE.Q4_K, data: bad }] });
        assert.unreachable('wrong data size accepted');
      } catch (e) {
        assert.is((e as GgufError).code, 'bad_tensor_data');
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writer refuses what the reader would refuse', async () => {
  const d = new Uint8Array(4);
  const cases: [GgufWriteSpec, GgufErrorCode][] = [
    [{ metadata: [['k', gv.u8(1)], ['k', gv.u8(2)]], tensors: [] }, 'duplicate_key'],
    [{ metadata: [['general.alignment', gv.u32(48)]], tensors: [] }, 'bad_alignment'],
    [{ metadata: [['general.alignment', gv.u64(64)]], tensors: [] }, 'bad_alignment'],
    [{ metadata: [], tensors: [{ name: 'x'.repeat(64), dims: [1], type: 0, data: d }] }, 'bad_tensor_name'],
    [{ metadata: [], tensors: [{ name: 'a', dims: [1], type: 0, data: d }, { name: 'a', dims: [1], type: 0, data: d }] }, 'duplicate_tensor'],
    [{ metadata: [], tensors: [{ name: 'a', dims: [1, 1, 1, 1, 1], type: 0, data: d }] }, 'bad_dims'],
    [{ metadata: [], tensors: [{ name: 'a', dims: [16], type: GGML_TYPE.Q4_0, data: d }] }, 'bad_block_alignment'],
    [{ metadata: [], tensors: [{ name: 'a', dims: [1], type: 4, data: d }] }, 'unknown_tensor_type'],
    [{ metadata: [['k', gv.u32(-1 as number) as GgufTypedValue], ['s', { type: GGUF_TYPE.STRING, value: 5 }]], tensors: [] }, 'bad_value_type'],
  ];
  for (const [spec, code] of cases) {
    try {
      await encodeGguf(spec);
      assert.unreachable(`expected ${code}`);
    } catch (e) {
      assert.instance(e, GgufError, String(e));
      assert.is((e as GgufError).code, code, (e as Error).message);
    }
  }
});

// ---- malformed files ----------------------------------------------------------------------------------------------

/** A small valid file: a few keys (incl. a string array), two tensors. Byte positions below refer to it. */
const goodSpec = (): GgufWriteSpec => ({
  metadata: [
    ['general.architecture', gv.str('llama')],
    ['tokenizer.ggml.tokens', gv.array(GGUF_TYPE.STRING, ['a', 'b'])],
  ],
  tensors: [
    { name: 'a.weight', dims: [32, 2], type: GGML_TYPE.Q8_0, data: new Uint8Array(68) },
    { name: 'b.weight', dims: [8], type: GGML_TYPE.F32, data: new Uint8Array(32) },
  ],
});

// Header positions in goodSpec's file: magic 0, version 4, n_tensors 8, n_kv 16, first key length 24.
const POS = { version: 4, nTensors: 8, nKv: 16, key0: 24 };

function patch(bytes: Uint8Array, at: number, value: number | bigint, width: 4 | 8): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  if (width === 4) v.setUint32(at, Number(value), true);
  else v.setBigUint64(at, BigInt(value), true);
  return out;
}

function indexOf(bytes: Uint8Array, text: string): number {
  return Buffer.from(bytes).indexOf(Buffer.from(text));
}

async function fileWith(metadata: [string, GgufTypedValue][], tensors: GgufTensorInput[] = [], offsets?: number[]): Promise<Uint8Array> {
  return encodeGguf({ metadata, tensors, unchecked: { offsets } });
}

test('malformed files: each refused with its specific error code', async () => {
  const good = await encodeGguf(goodSpec());
  const parsed = await readGguf(bufferSource(good));
  assert.is(parsed.tensors.length, 2, 'the base file is valid');
  const typeField = (key: string) => indexOf(good, key) + key.length; // the value type follows the key
  const tensorName = (name: string) => indexOf(good, name);
  const f32 = (name: string, n = 8): GgufTensorInput => ({ name, dims: [n], type: GGML_TYPE.F32, data: new Uint8Array(4 * n) });

  // 1-3 magic and version
  await expectCode(Uint8Array.from([...Buffer.from('GGUX'), ...good.subarray(4)]), 'bad_magic');
  await expectCode(patch(good, POS.version, 4, 4), 'unsupported_version');
  await expectCode(patch(good, POS.version, 0x03000000, 4), 'unsupported_version'); // a big-endian file
  await expectCode(patch(good, POS.version, 1, 4), 'unsupported_version');
  // 4-7 truncation anywhere
  await expectCode(new Uint8Array(0), 'truncated');
  await expectCode(good.subarray(0, 20), 'truncated');
  await expectCode(good.subarray(0, tensorName('a.weight') + 4), 'truncated');
  await expectCode(good.subarray(0, good.length - 1), 'tensor_out_of_bounds', undefined, 'b.weight');
  // 8-9 counts
  await expectCode(patch(good, POS.nTensors, 2n ** 40n, 8), 'too_many_tensors');
  await expectCode(patch(good, POS.nKv, 2n ** 63n, 8), 'too_many_kv');
  await expectCode(patch(good, POS.nKv, 1000, 8), 'truncated'); // within limits, but more than the file holds
  await expectCode(good, 'too_many_tensors', { maxTensors: 1 });
  // 10-11 lengths
  await expectCode(patch(good, POS.key0, 2n ** 62n, 8), 'string_too_long');
  await expectCode(patch(good, POS.key0, 1000, 8), 'truncated');
  const tokensType = typeField('tokenizer.ggml.tokens');
  await expectCode(patch(good, tokensType + 8, 2n ** 40n, 8), 'array_too_long', undefined, 'tokenizer.ggml.tokens');
  await expectCode(patch(good, tokensType + 8, 100000, 8), 'truncated');
  await expectCode(good, 'metadata_too_large', { maxMetadataBytes: 40 });
  // 12-13 value types
  await expectCode(patch(good, typeField('general.architecture'), 13, 4), 'bad_value_type', undefined, 'general.architecture');
  await expectCode(patch(good, tokensType + 4, 99, 4), 'bad_value_type', undefined, 'tokenizer.ggml.tokens');
  // 14-15 keys
  await expectCode(await fileWith([['', gv.u8(1)]]), 'bad_key');
  await expectCode(await fileWith([['k', gv.u8(1)], ['k', gv.u8(1)]]), 'duplicate_key', undefined, 'k');
  // 16 nesting
  let deep = gv.array(GGUF_TYPE.UINT8, [1]);
  for (let i = 0; i < 9; i++) deep = gv.array(GGUF_TYPE.ARRAY, [deep]);
  await expectCode(await fileWith([['deep', deep]]), 'nesting_too_deep', undefined, 'deep');
  await expectCode(await fileWith([['n', gv.array(GGUF_TYPE.ARRAY, [gv.array(GGUF_TYPE.UINT8, [])])]]), 'nesting_too_deep', { maxNestingDepth: 1 });
  // 17-19 alignment
  await expectCode(await fileWith([['general.alignment', gv.u32(48)]]), 'bad_alignment', undefined, 'general.alignment');
  await expectCode(await fileWith([['general.alignment', gv.u32(0)]]), 'bad_alignment');
  await expectCode(await fileWith([['general.alignment', gv.u64(32)]]), 'bad_alignment');
  // 20-23 tensor names
  await expectCode(await fileWith([], [f32('a'), f32('a')]), 'duplicate_tensor', undefined, 'a');
  await expectCode(await fileWith([], [f32('x'.repeat(64))]), 'bad_tensor_name');
  await expectCode(await fileWith([], [f32('')]), 'bad_tensor_name');
  // 24-27 shapes
  await expectCode(await fileWith([], [{ name: 'five', dims: [1, 1, 1, 1, 1], type: 0, data: new Uint8Array(4) }]), 'bad_dims', undefined, 'five');
  await expectCode(await fileWith([], [{ name: 'none', dims: [], type: 0, data: new Uint8Array(4) }]), 'bad_dims');
  await expectCode(await fileWith([], [{ name: 'zero', dims: [8, 0], type: 0, data: new Uint8Array(0) }]), 'bad_dims');
  await expectCode(await fileWith([], [{ name: 'huge', dims: [2 ** 31, 2 ** 31, 2 ** 31], type: 0, data: new Uint8Array(0) }]), 'bad_dims');
  // 28-29 types and blocks
  await expectCode(await fileWith([], [{ name: 'retired', dims: [32], type: 4, data: new Uint8Array(0) }]), 'unknown_tensor_type', undefined, 'retired');
  await expectCode(await fileWith([], [{ name: 'q', dims: [48], type: GGML_TYPE.Q4_0, data: new Uint8Array(27) }]), 'bad_block_alignment', undefined, 'q');
  // 30-32 offsets
  await expectCode(await fileWith([], [f32('a'), f32('b')], [0, 16]), 'misaligned_offset', undefined, 'b');
  await expectCode(await fileWith([], [f32('a', 16), f32('b')], [0, 32]), 'tensors_overlap', undefined, 'b');
  await expectCode((await fileWith([], [f32('a'), f32('b')], [0, 1 << 20])).subarray(0, 4096), 'tensor_out_of_bounds', undefined, 'b');
});

// ---- synthetic models ---------------------------------------------------------------------------------------------

test('synthetic vocabulary: llama.cpp SPM layout, unique pieces, decreasing scores', () => {
  for (const size of [260, 1024, 32000]) {
    const v = syntheticVocab(size, 1);
    assert.is(v.tokens.length, size);
    assert.is(new Set(v.tokens).size, size, 'unique');
    assert.equal(v.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.is(v.tokens[258], '<0xFF>');
    assert.equal([...v.types.subarray(0, 4)], [2, 3, 3, 6]);
    assert.ok(v.types.subarray(259).every((t) => t === 1));
    for (let i = 260; i < size; i++) assert.ok(v.scores[i] < v.scores[i - 1]);
  }
  assert.equal(syntheticVocab(2000, 9).tokens, syntheticVocab(2000, 9).tokens, 'seeded');
  assert.throws(() => syntheticVocab(259, 1));
});

test('synthetic models of every weight type load and decode in llama.cpp; K-quant layouts match ggml', async () => {
  const { disposeOracle, llamacppGreedy } = await import('./oracle/llamacpp.ts');
  const dir = await mkdtemp(join(tmpdir(), 'hearth-synth-'));
  try {
    const shape = { embd: 256, layers: 2, heads: 4, kvHeads: 2, ff: 512, vocab: 512, ctx: 128, seed: 7 };
    const write = async (name: string, spec: GgufWriteSpec) => {
      const path = join(dir, name);
      const sink = await fileSink(path);
      await writeGguf(sink, spec);
      await sink.close();
      return path;
    };
    const prompt = [1, 300, 301, 302];
    for (const type of quantizableTypes) {
      const name = ggmlType(type)!.name;
      const spec = makeSyntheticLlama({ ...shape, type, ropeFreqs: type === GGML_TYPE.Q8_0, tiedOutput: type === GGML_TYPE.Q4_1 });
      const path = await write(`${name}.gguf`, spec);
      const f = await parseFile(path);
      assert.is(f.tensorsByName.get('blk.0.attn_q.weight')!.type, type);
      assert.is(f.tensorsByName.get('blk.0.attn_norm.weight')!.type, GGML_TYPE.F32);
      assert.is(f.tensorsByName.has('output.weight'), type !== GGML_TYPE.Q4_1);
      assert.is(getBool(f, 'tokenizer.ggml.add_bos_token'), true);

      const run = await llamacppGreedy(path, prompt, 4);
      assert.is(run.tokens.length, 4, name);
      const logits = run.firstLogits;
      assert.ok(logits.every(Number.isFinite), `${name}: finite logits`);
      let rms = 0;
      for (const v of logits) rms += v * v;
      rms = Math.sqrt(rms / logits.length);
      assert.ok(rms > 0.3 && rms < 100, `${name}: logits rms ${rms} stays O(1)`);

      // The F32 twin holds our dequantized values: llama.cpp running the quantized file must give nearly the same
      // logits, which fails loudly if our block layout differs from ggml's (scrambled weights → unrelated logits).
      if (type !== GGML_TYPE.F32) {
        const twin = await write(`${name}-twin.gguf`, makeSyntheticLlama({ ...shape, type, f32Twin: true, ropeFreqs: type === GGML_TYPE.Q8_0, tiedOutput: type === GGML_TYPE.Q4_1 }));
        const ref = (await llamacppGreedy(twin, prompt, 1)).firstLogits;
        let dot = 0, aa = 0, bb = 0;
        for (let i = 0; i < ref.length; i++) {
          dot += logits[i] * ref[i];
          aa += logits[i] ** 2;
          bb += ref[i] ** 2;
        }
        const corr = dot / Math.sqrt(aa * bb);
        assert.ok(corr > 0.99, `${name}: correlation with the F32 twin ${corr}`);
      }
    }
    await disposeOracle();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
