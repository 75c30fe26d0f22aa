/** Why a GGUF file was refused. Every reader failure is a GgufError with one of these codes. */
export type GgufErrorCode =
  | 'bad_magic'
  | 'unsupported_version'
  | 'truncated'
  | 'too_many_tensors'
  | 'too_many_kv'
  | 'string_too_long'
  | 'array_too_long'
  | 'metadata_too_large'
  | 'bad_value_type'
  | 'bad_key'
  | 'duplicate_key'
  | 'duplicate_tensor'
  | 'bad_tensor_name'
  | 'bad_dims'
  | 'unknown_tensor_type'
  | 'bad_block_alignment'
  | 'tensor_out_of_bounds'
  | 'tensors_overlap'
  | 'bad_alignment'
  | 'misaligned_offset'
  | 'nesting_too_deep'
  // accessor failures (the file parsed, but a key is not what the caller needs)
  | 'missing_key'
  | 'wrong_type'
  // writer failures
  | 'bad_tensor_data';

export class GgufError extends Error {
  override readonly name = 'GgufError';
  constructor(
    readonly code: GgufErrorCode,
    message: string,
    /** The key or tensor name at fault, when there is one. */
    readonly subject?: string,
  ) {
    super(message);
  }
}
