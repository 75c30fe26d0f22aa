/** Typed reads of tokenizer.* keys from a GGUF metadata map, with clear errors for the wrong shape. */

import { TokenizerError } from './errors.ts';

export type Metadata = ReadonlyMap<string, unknown>;

type NumericArray = ArrayLike<number>;

function isNumericArray(v: unknown): v is NumericArray {
  return (
    ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)
  ) || (Array.isArray(v) && v.every((x) => typeof x === 'number'));
}

export function optString(meta: Metadata, key: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TokenizerError('wrong_type', `${key} must be a string`);
  return v;
}

export function reqString(meta: Metadata, key: string): string {
  const v = optString(meta, key);
  if (v === undefined) throw new TokenizerError('missing_key', `${key} is missing`);
  return v;
}

export function optBool(meta: Metadata, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new TokenizerError('wrong_type', `${key} must be a boolean`);
  return v;
}

/** An unsigned integer key; undefined when absent. bigint values (64-bit keys) are accepted. */
export function optUint(meta: Metadata, key: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new TokenizerError('wrong_type', `${key} must be an unsigned integer`);
  }
  return v;
}

export function optStringArray(meta: Metadata, key: string): readonly string[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new TokenizerError('wrong_type', `${key} must be an array of strings`);
  // Checking every element of a 500k-entry array costs little next to building the maps from it.
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') throw new TokenizerError('wrong_type', `${key}[${i}] is not a string`);
  }
  return v as string[];
}

export function optNumberArray(meta: Metadata, key: string): NumericArray | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!isNumericArray(v)) throw new TokenizerError('wrong_type', `${key} must be a numeric array`);
  return v;
}
