/** Why a media file was refused. Each code maps to a 400 with the message on the HTTP side. */
export type MediaErrorCode = 'unsupported_format' | 'corrupt' | 'too_large' | 'too_long';

/** The one error type the media decoders throw; anything else escaping them is a bug (the fuzz test checks it). */
export class MediaError extends Error {
  readonly code: MediaErrorCode;
  constructor(code: MediaErrorCode, message: string) {
    super(message);
    this.name = 'MediaError';
    this.code = code;
  }
}
