/** Why a tokenizer could not be built or could not encode. */
export type TokenizerErrorCode =
  | 'missing_key' // a required tokenizer.ggml.* key is absent
  | 'wrong_type' // a key holds a value of the wrong shape
  | 'unsupported_model' // tokenizer.ggml.model names a tokenizer we do not implement
  | 'unsupported_pre' // tokenizer.ggml.pre names a pre-tokenizer we do not implement
  | 'bad_vocab' // the vocabulary is inconsistent (sizes, ids out of range)
  | 'no_byte_token' // text needs a byte-fallback token the vocabulary lacks (llama.cpp aborts here)
  | 'bad_token_id'; // decode/tokenText got an id outside the vocabulary

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  constructor(
    readonly code: TokenizerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
