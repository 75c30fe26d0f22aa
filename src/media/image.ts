/**
 * Image decoding for the multimodal routes: PNG and JPEG, sniffed from the bytes, always to RGB8 (3 channels,
 * row-major), the form llama.cpp's mtmd-helper gets from stb_image — and the same pixels, bit for bit, for both
 * formats (png.ts, jpeg.ts). One deliberate difference: the JPEG EXIF orientation is applied unless
 * `exifOrientation: false` (stb ignores it). Limits are checked on the header, before any pixel buffer exists.
 */
import { MediaError } from './errors.ts';
import { decodeJpeg, isJpeg } from './jpeg.ts';
import { decodePng, isPng } from './png.ts';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB8, row-major, width × height × 3 bytes. */
  data: Uint8Array;
}

export interface ImageLimits {
  /** Largest encoded file accepted (default 32 MiB). */
  maxBytes?: number;
  /** Largest width × height accepted, read from the header (default 25 000 000). */
  maxPixels?: number;
  /** Apply the JPEG EXIF orientation (default true). llama.cpp (stb_image) ignores it; pass false to match it. */
  exifOrientation?: boolean;
}

export const DEFAULT_IMAGE_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_IMAGE_MAX_PIXELS = 25_000_000;

export function decodeImage(bytes: Uint8Array, limits: ImageLimits = {}): RgbImage {
  const maxBytes = limits.maxBytes ?? DEFAULT_IMAGE_MAX_BYTES;
  const maxPixels = limits.maxPixels ?? DEFAULT_IMAGE_MAX_PIXELS;
  if (bytes.length > maxBytes) {
    throw new MediaError('too_large', `image is ${bytes.length} bytes, more than the ${maxBytes}-byte limit`);
  }
  if (isPng(bytes)) return decodePng(bytes, maxPixels);
  if (isJpeg(bytes)) return decodeJpeg(bytes, maxPixels, limits.exifOrientation ?? true);
  throw new MediaError('unsupported_format', 'image is neither PNG nor JPEG');
}
