/**
 * Gemma 4 `gemma4uv` image preprocessing, bit for bit as llama.cpp v0.5.0 (spec gemma4.md §8.3, §8.4 step 1):
 * token budget → target size (`imageGrid`), PAD_CEIL letterbox with Pillow-style bicubic resampling, u8/255 and
 * per-channel (v − mean)/std, then 48×48 patches in channel-major order (`imagePatches`).
 *
 * Every float step is a float32 step (Math.fround), because llama.cpp computes the sizes in `float` and a few
 * products land just above a multiple of 48 (100×70 → 11 columns, not 10). The resampler follows
 * mtmd-image.cpp's `resize_pillow`: weights computed in double, normalised, turned into 22-bit fixed point with
 * "add ±0.5 then truncate", integer accumulation seeded with 0.5, arithmetic shift, clamp to 0..255; horizontal pass
 * first, then vertical. Checked against llama.cpp's own preprocessor in test/media-reference.test.ts.
 */
import type { RgbImage } from './image.ts';

export const PATCH = 48;
export const PATCH_VALUES = 3 * PATCH * PATCH; // 6912
export const DEFAULT_MIN_TOKENS = 70;
export const DEFAULT_MAX_TOKENS = 1120;

export interface GridOptions {
  /** llama.cpp `--image-min-tokens` (default 70). */
  minTokens?: number;
  /** llama.cpp `--image-max-tokens` (default 1120). */
  maxTokens?: number;
}

export interface ImageGrid {
  /** Canvas size handed to the projector: multiples of 48. */
  width: number;
  height: number;
  cols: number;
  rows: number;
  tokens: number;
  /** Where the resized image sits on the black canvas. */
  content: { width: number; height: number; left: number; top: number };
}

const f = Math.fround;

/** `calc_size_preserved_ratio` with align 48 and the token budget as pixel limits, in float32. */
function targetSize(width: number, height: number, minPixels: number, maxPixels: number): [number, number] {
  // std::round on a positive float: half away from zero, which Math.round also does for positive values.
  const roundBy = (x: number) => Math.round(f(f(x) / PATCH)) * PATCH;
  const ceilBy = (x: number) => Math.ceil(f(x / PATCH)) * PATCH;
  const floorBy = (x: number) => Math.floor(f(x / PATCH)) * PATCH;
  let w = Math.max(PATCH, roundBy(width));
  let h = Math.max(PATCH, roundBy(height));
  if (w * h > maxPixels) {
    const beta = f(Math.sqrt(f(f(f(height) * width) / maxPixels)));
    h = Math.max(PATCH, floorBy(f(height / beta)));
    w = Math.max(PATCH, floorBy(f(width / beta)));
  } else if (w * h < minPixels) {
    const beta = f(Math.sqrt(f(minPixels / f(f(height) * width))));
    h = ceilBy(f(height * beta));
    w = ceilBy(f(width * beta));
  }
  return [w, h];
}

export function imageGrid(width: number, height: number, o: GridOptions = {}): ImageGrid {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`image size ${width}×${height} is not a positive integer size`);
  }
  const minTokens = o.minTokens ?? DEFAULT_MIN_TOKENS;
  const maxTokens = o.maxTokens ?? DEFAULT_MAX_TOKENS;
  const [w, h] = targetSize(width, height, minTokens * PATCH * PATCH, maxTokens * PATCH * PATCH);
  let content = { width, height, left: 0, top: 0 };
  if (w !== width || h !== height) {
    // PAD_CEIL: scale to fit inside, sides rounded up (capped at the canvas), centred with integer division.
    const scale = Math.min(f(w / width), f(h / height));
    const cw = Math.min(Math.ceil(f(width * scale)), w);
    const ch = Math.min(Math.ceil(f(height * scale)), h);
    content = { width: cw, height: ch, left: (w - cw) >> 1, top: (h - ch) >> 1 };
  }
  const cols = w / PATCH;
  const rows = h / PATCH;
  return { width: w, height: h, cols, rows, tokens: cols * rows, content };
}

const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2;

/** Pillow's bicubic kernel with a = −0.5 (PyTorch/ggml use −0.75). */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Weights {
  /** First input index and count per output index. */
  first: Int32Array;
  count: Int32Array;
  ksize: number;
  /** Fixed-point weights, ksize per output index. */
  k: Int32Array;
}

function weights(inSize: number, outSize: number): Weights {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale); // widened when downscaling (antialiasing)
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Int32Array(outSize * ksize);
  const pre = new Float64Array(ksize);
  const ss = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C truncation toward zero of a double (values here are > −1, so trunc equals the C cast).
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax ? (ww !== 0 ? pre[x] / ww : pre[x]) : 0;
      // Pillow's rounding: add ±0.5, then truncate toward zero.
      k[xx * ksize + x] = Math.trunc(w * ONE + (w < 0 ? -0.5 : 0.5));
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { first, count, ksize, k };
}

function clip8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * One separable pass over RGB8 rows. Accumulators hold at most 255·Σ|w| < 2³¹ (as int32 in C), exact in doubles;
 * `Math.floor(acc / 2²²)` is C's arithmetic `>> 22` on them.
 */
function resampleHorizontal(src: Uint8Array, inW: number, h: number, outW: number): Uint8Array {
  const { first, count, ksize, k } = weights(inW, outW);
  const out = new Uint8Array(outW * h * 3);
  for (let y = 0; y < h; y++) {
    const row = y * inW * 3;
    for (let xx = 0; xx < outW; xx++) {
      let s0 = HALF, s1 = HALF, s2 = HALF;
      const kk = xx * ksize;
      let p = row + first[xx] * 3;
      for (let x = 0; x < count[xx]; x++, p += 3) {
        const w = k[kk + x];
        s0 += src[p] * w;
        s1 += src[p + 1] * w;
        s2 += src[p + 2] * w;
      }
      const d = (y * outW + xx) * 3;
      out[d] = clip8(Math.floor(s0 / ONE));
      out[d + 1] = clip8(Math.floor(s1 / ONE));
      out[d + 2] = clip8(Math.floor(s2 / ONE));
    }
  }
  return out;
}

function resampleVertical(src: Uint8Array, w: number, inH: number, outH: number): Uint8Array {
  const { first, count, ksize, k } = weights(inH, outH);
  const rowLen = w * 3;
  const out = new Uint8Array(rowLen * outH);
  const acc = new Float64Array(rowLen);
  for (let yy = 0; yy < outH; yy++) {
    acc.fill(HALF);
    for (let y = 0; y < count[yy]; y++) {
      const wgt = k[yy * ksize + y];
      const row = (first[yy] + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += src[row + i] * wgt;
    }
    const d = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[d + i] = clip8(Math.floor(acc[i] / ONE));
  }
  return out;
}

/** mtmd-image.cpp `resize_pillow`: horizontal pass (if the width changes), then vertical (if the height does). */
export function resizeBicubic(img: RgbImage, width: number, height: number): RgbImage {
  let data = img.data;
  if (width !== img.width) data = resampleHorizontal(data, img.width, img.height, width);
  if (height !== img.height) data = resampleVertical(data, width, img.height, height);
  return { width, height, data: data === img.data ? data.slice() : data };
}

/** The letterboxed RGB8 canvas the projector sees (exposed for tests and debugging). */
export function letterbox(img: RgbImage, grid: ImageGrid): RgbImage {
  if (grid.width === img.width && grid.height === img.height) return img;
  const { width: cw, height: ch, left, top } = grid.content;
  const content = resizeBicubic(img, cw, ch);
  const canvas = new Uint8Array(grid.width * grid.height * 3); // black padding
  for (let y = 0; y < ch; y++) {
    canvas.set(content.data.subarray(y * cw * 3, (y + 1) * cw * 3), ((top + y) * grid.width + left) * 3);
  }
  return { width: grid.width, height: grid.height, data: canvas };
}

export interface ImagePatches {
  cols: number;
  rows: number;
  tokens: number;
  grid: ImageGrid;
  /** tokens × 6912: patch k = py·cols + px, element c·2304 + r·48 + q = channel c of pixel (48·px + q, 48·py + r). */
  data: Float32Array;
}

export function imagePatches(
  img: RgbImage,
  mean: ArrayLike<number>,
  std: ArrayLike<number>,
  o: GridOptions = {},
): ImagePatches {
  const grid = imageGrid(img.width, img.height, o);
  const canvas = letterbox(img, grid);
  // clip_image_f32::from_u8 then normalize: (float)u8 / 255.0f, then (v − mean_c) / std_c, each a float op.
  const m = [f(mean[0]), f(mean[1]), f(mean[2])];
  const s = [f(std[0]), f(std[1]), f(std[2])];
  const lut = new Float32Array(256 * 3);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(f(v / 255) - m[c]) / s[c]);
  }
  const { cols, rows, tokens } = grid;
  const data = new Float32Array(tokens * PATCH_VALUES);
  const px = canvas.data;
  for (let py = 0; py < rows; py++) {
    for (let pxi = 0; pxi < cols; pxi++) {
      const base = (py * cols + pxi) * PATCH_VALUES;
      for (let r = 0; r < PATCH; r++) {
        const src = ((py * PATCH + r) * grid.width + pxi * PATCH) * 3;
        for (let q = 0; q < PATCH; q++) {
          const p = src + q * 3;
          const d = base + r * PATCH + q;
          data[d] = lut[px[p]];
          data[d + PATCH * PATCH] = lut[256 + px[p + 1]];
          data[d + 2 * PATCH * PATCH] = lut[512 + px[p + 2]];
        }
      }
    }
  }
  return { cols, rows, tokens, grid, data };
}
