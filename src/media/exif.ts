/**
 * EXIF orientation for JPEG: the tag read from an APP1 "Exif" segment, and the transform that shows the image
 * upright. llama.cpp (stb_image) ignores EXIF entirely; issue 8 asks us to honour it, so decodeImage applies it by
 * default (`exifOrientation: false` gives llama.cpp's pixels).
 */
import type { RgbImage } from './image.ts';

/** Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" segment; undefined if absent or malformed. */
export function exifOrientation(app1: Uint8Array): number | undefined {
  if (app1.length < 14 || String.fromCharCode(...app1.subarray(0, 4)) !== 'Exif' || app1[4] !== 0 || app1[5] !== 0) {
    return undefined;
  }
  const t = app1.subarray(6);
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return undefined;
  const u16 = (o: number) => (little ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]);
  const u32 = (o: number) => (little ? u16(o) + u16(o + 2) * 65536 : u16(o) * 65536 + u16(o + 2));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return undefined;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return undefined;
    if (u16(e) === 0x0112) {
      const value = u16(e + 2) === 3 ? u16(e + 8) : undefined; // type SHORT, value inline
      return value !== undefined && value >= 1 && value <= 8 ? value : undefined;
    }
  }
  return undefined;
}

/** Applies an EXIF orientation (1..8) so the image is shown upright. */
export function orient(img: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Where source pixel (x, y) lands in the upright image.
      let dx: number, dy: number;
      switch (orientation) {
        case 2: dx = w - 1 - x; dy = y; break; // mirrored horizontally
        case 3: dx = w - 1 - x; dy = h - 1 - y; break; // rotated 180°
        case 4: dx = x; dy = h - 1 - y; break; // mirrored vertically
        case 5: dx = y; dy = x; break; // transposed
        case 6: dx = h - 1 - y; dy = x; break; // rotate 90° clockwise to view
        case 7: dx = h - 1 - y; dy = w - 1 - x; break; // transversed
        default: dx = y; dy = w - 1 - x; break; // 8: rotate 90° counter-clockwise to view
      }
      const s = (y * w + x) * 3;
      const d = (dy * ow + dx) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: ow, height: oh, data: out };
}

