/**
 * PNG → RGB8, converting exactly as stb_image does when llama.cpp's mtmd-helper asks it for 3 channels
 * (`stbi_load_from_memory(..., 3)`), so a PNG gives llama.cpp's pixels bit for bit:
 * - 16-bit samples keep their high byte (`stbi__convert_16_to_8`: `v >> 8`, no rounding);
 * - grey at 1/2/4 bits is scaled by 0xff/0x55/0x11; palette indices are looked up (an index past the palette reads
 *   black here; stb reads an uninitialised table there, so such broken files cannot match anyway);
 * - grey is replicated to R=G=B;
 * - alpha is DROPPED, not composited: stb's 4→3 and 2→3 conversions copy the colour samples and discard alpha, a
 *   palette with tRNS is expanded straight to 3 channels, and a tRNS colour key only ever sets an alpha that the
 *   3-channel conversion throws away. A fully transparent pixel therefore keeps whatever colour the file stores.
 * Chunk CRCs are not checked (stb does not either). Inflation uses fflate (pure JS, no node: imports).
 *
 * Memory is bounded before any pixel work: the header's size is checked against `maxPixels`, and inflation stops
 * once the exact number of filtered bytes the header implies has been produced, so a deflate bomb costs nothing.
 */
import { Inflate } from 'fflate';
import { MediaError } from './errors.ts';
import type { RgbImage } from './image.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const enum Colour {
  Grey = 0,
  Rgb = 2,
  Palette = 3,
  GreyAlpha = 4,
  Rgba = 6,
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
/** stb's `stbi__depth_scale_table`: stretches 1/2/4-bit grey to 0..255. */
const GREY_SCALE: Record<number, number> = { 1: 0xff, 2: 0x55, 4: 0x11, 8: 1 };

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** stb refuses anything larger on either side. */
const MAX_DIMENSION = 1 << 24;
/** Deflate's worst-case expansion (bytes out per byte in). */
const DEFLATE_MAX_RATIO = 1032;

interface Header {
  width: number;
  height: number;
  depth: number;
  colour: Colour;
  interlaced: boolean;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

function corrupt(message: string): never {
  throw new MediaError('corrupt', `PNG: ${message}`);
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Filtered bytes per row of `width` pixels, without the filter-type byte. */
function rowBytes(width: number, h: Header): number {
  return Math.ceil((width * CHANNELS[h.colour] * h.depth) / 8);
}

/** The sub-images the filtered stream is made of: the whole image, or the non-empty Adam7 passes. */
function passes(h: Header): { x0: number; y0: number; dx: number; dy: number; w: number; h: number }[] {
  if (!h.interlaced) return [{ x0: 0, y0: 0, dx: 1, dy: 1, w: h.width, h: h.height }];
  const out = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = Math.ceil((h.width - x0) / dx);
    const hh = Math.ceil((h.height - y0) / dy);
    if (w > 0 && hh > 0) out.push({ x0, y0, dx, dy, w, h: hh });
  }
  return out;
}

function parseHeader(data: Uint8Array, o: number, length: number, maxPixels: number): Header {
  if (length !== 13) corrupt('IHDR has the wrong length');
  const width = u32(data, o);
  const height = u32(data, o + 4);
  const depth = data[o + 8];
  const colour = data[o + 9] as Colour;
  if (width === 0 || height === 0) corrupt('zero width or height');
  if (width > MAX_DIMENSION || height > MAX_DIMENSION || width * height > maxPixels) {
    throw new MediaError('too_large', `PNG: ${width}×${height} is more than the ${maxPixels}-pixel limit`);
  }
  if (!(colour in DEPTHS)) corrupt(`colour type ${colour} does not exist`);
  if (!DEPTHS[colour].includes(depth)) corrupt(`bit depth ${depth} is not allowed for colour type ${colour}`);
  if (data[o + 10] !== 0) corrupt('unknown compression method');
  if (data[o + 11] !== 0) corrupt('unknown filter method');
  if (data[o + 12] > 1) corrupt('unknown interlace method');
  return { width, height, depth, colour, interlaced: data[o + 12] === 1 };
}

/** Inflates the concatenated IDAT payloads until `needed` bytes exist; fewer is corrupt (stb: "not enough pixels"). */
function inflateIdat(idat: Uint8Array[], needed: number): Uint8Array {
  const out = new Uint8Array(needed);
  let filled = 0;
  const inflater = new Inflate((chunk) => {
    const take = Math.min(chunk.length, needed - filled);
    out.set(chunk.subarray(0, take), filled);
    filled += take;
  });
  // The 2-byte zlib header is checked as stb checks it, then skipped: fflate gets raw deflate. The Adler-32
  // trailer is not checked (stb ignores it too).
  let headerLeft = 2;
  const header: number[] = [];
  try {
    outer: for (const part of idat) {
      let p = 0;
      while (headerLeft > 0 && p < part.length) {
        header.push(part[p++]);
        headerLeft--;
      }
      if (header.length === 2 && headerLeft === 0) {
        const [cmf, flg] = header;
        if ((cmf & 15) !== 8 || ((cmf << 8) | flg) % 31 !== 0 || (flg & 32) !== 0) corrupt('bad zlib header');
        headerLeft = -1;
      }
      while (p < part.length) {
        // Hand the inflater only as much as could still be needed at the worst-case ratio, so a deflate bomb never
        // expands far past the image (one push's output is allocated whole), while ordinary files go in big slices.
        const slice = Math.min(64 * 1024, Math.max(1024, Math.ceil((needed - filled) / DEFLATE_MAX_RATIO) + 1));
        inflater.push(part.subarray(p, Math.min(part.length, p + slice)), false);
        p += slice;
        if (filled >= needed) break outer;
      }
    }
    if (filled < needed) inflater.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof MediaError) throw e;
    if (filled < needed) corrupt(`image data does not inflate (${e instanceof Error ? e.message : String(e)})`);
  }
  if (filled < needed) corrupt(`not enough pixel data (${filled} of ${needed} bytes)`);
  return out;
}

/** Undoes the five PNG filters in place over one row; `prev` is the previous unfiltered row (zeros for the first). */
function unfilter(type: number, row: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = row.length;
  switch (type) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = (row[i] + row[i - bpp]) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] = (row[i] + prev[i]) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] = (row[i] + (((i >= bpp ? row[i - bpp] : 0) + prev[i]) >> 1)) & 255;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? row[i - bpp] : 0;
        const b = prev[i];
        const c = i >= bpp ? prev[i - bpp] : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        row[i] = (row[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      corrupt(`invalid filter type ${type}`);
  }
}

export function decodePng(data: Uint8Array, maxPixels: number): RgbImage {
  if (!isPng(data)) corrupt('bad signature');
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let o = 8; !ended; ) {
    if (o + 8 > data.length) corrupt('file ends before IEND');
    const length = u32(data, o);
    const type = String.fromCharCode(data[o + 4], data[o + 5], data[o + 6], data[o + 7]);
    const body = o + 8;
    if (length > 0x7fffffff || body + length + 4 > data.length) corrupt(`chunk ${JSON.stringify(type)} runs past the end`);
    if (!header && type !== 'IHDR') corrupt('first chunk is not IHDR');
    switch (type) {
      case 'IHDR':
        if (header) corrupt('second IHDR');
        header = parseHeader(data, body, length, maxPixels);
        break;
      case 'PLTE':
        if (idat.length) corrupt('PLTE after IDAT');
        if (length % 3 !== 0 || length / 3 > 256) corrupt('bad PLTE length');
        palette = data.subarray(body, body + length);
        break;
      case 'tRNS':
        // Alpha is discarded (see the header comment) but the chunk is validated as stb does, so files stb
        // rejects are rejected here too.
        if (idat.length) corrupt('tRNS after IDAT');
        if (header!.colour === Colour.Palette) {
          if (!palette || palette.length === 0) corrupt('tRNS before PLTE');
          if (length > palette.length / 3) corrupt('bad tRNS length');
        } else {
          if (header!.colour === Colour.GreyAlpha || header!.colour === Colour.Rgba) corrupt('tRNS with alpha');
          if (length !== CHANNELS[header!.colour] * 2) corrupt('bad tRNS length');
        }
        break;
      case 'IDAT':
        if (header!.colour === Colour.Palette && !palette) corrupt('no PLTE');
        idat.push(data.subarray(body, body + length));
        break;
      case 'IEND':
        ended = true;
        break;
      default:
        // An unknown chunk whose name starts upper-case is critical: stb refuses the file.
        if ((data[o + 4] & 32) === 0) {
          throw new MediaError('unsupported_format', `PNG: unknown critical chunk ${JSON.stringify(type)}`);
        }
    }
    o = body + length + 4;
  }
  if (!header) corrupt('no IHDR');
  if (idat.length === 0) corrupt('no IDAT');
  const h = header;
  const subImages = passes(h);
  const needed = subImages.reduce((sum, p) => sum + p.h * (1 + rowBytes(p.w, h)), 0);
  // Deflate expands at most 1032:1, so a header promising more than the data can hold is refused before the
  // pixel buffers are allocated.
  const compressed = idat.reduce((sum, part) => sum + part.length, 0);
  if (compressed * DEFLATE_MAX_RATIO + 1024 < needed) corrupt(`not enough pixel data for ${h.width}×${h.height}`);
  const filtered = inflateIdat(idat, needed);

  const channels = CHANNELS[h.colour];
  const bpp = Math.max(1, (channels * h.depth) >> 3);
  const rgb = new Uint8Array(h.width * h.height * 3);
  const paletteEntries = palette ? palette.length / 3 : 0;
  const greyScale = GREY_SCALE[h.depth] ?? 1;
  const mask = (1 << h.depth) - 1;
  let at = 0;
  for (const p of subImages) {
    const stride = rowBytes(p.w, h);
    let prev: Uint8Array = new Uint8Array(stride);
    for (let y = 0; y < p.h; y++) {
      const type = filtered[at];
      const row = filtered.subarray(at + 1, at + 1 + stride);
      at += 1 + stride;
      unfilter(type, row, prev, bpp);
      prev = row;
      const outY = p.y0 + y * p.dy;
      for (let x = 0; x < p.w; x++) {
        const d = ((outY * h.width + p.x0 + x * p.dx) * 3) | 0;
        // Sample s of this pixel: the high byte at 16 bits (stb's >> 8), the byte at 8, the packed field below 8.
        let r: number, g: number, b: number;
        if (h.depth < 8) {
          const bit = x * h.depth;
          const v = (row[bit >> 3] >> (8 - h.depth - (bit & 7))) & mask;
          if (h.colour === Colour.Palette) {
            [r, g, b] = v < paletteEntries ? [palette![v * 3], palette![v * 3 + 1], palette![v * 3 + 2]] : [0, 0, 0];
          } else {
            r = g = b = v * greyScale;
          }
        } else {
          const step = h.depth >> 3;
          const s0 = x * channels * step;
          if (h.colour === Colour.Palette) {
            const v = row[s0];
            [r, g, b] = v < paletteEntries ? [palette![v * 3], palette![v * 3 + 1], palette![v * 3 + 2]] : [0, 0, 0];
          } else if (channels <= 2) {
            r = g = b = row[s0];
          } else {
            r = row[s0];
            g = row[s0 + step];
            b = row[s0 + 2 * step];
          }
        }
        rgb[d] = r;
        rgb[d + 1] = g;
        rgb[d + 2] = b;
      }
    }
  }
  return { width: h.width, height: h.height, data: rgb };
}
