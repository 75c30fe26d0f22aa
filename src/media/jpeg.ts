/**
 * JPEG → RGB8, our own decoder, written to give stb_image's pixels bit for bit (llama.cpp's mtmd-helper decodes
 * with stb_image asking for 3 channels; checked against it in test/media-reference.test.ts). Baseline and
 * extended Huffman (SOF0/SOF1) and progressive (SOF2), 8-bit, 1/3/4 components, any integer subsampling, restart
 * intervals. What must match stb for the pixels to match, and does:
 * - the integer IDCT (stb's jidctint-derived `stbi__idct_block`: 12-bit constants, 2 extra bits after the column
 *   pass, +128 and rounding folded into the final >> 17; its SSE2 twin is bit-identical);
 * - coefficients kept as int16 (dequantised products truncated to 16 bits, as stb stores them in `short`);
 * - chroma upsampling: stb's "fancy" 3:1 triangle filters for 2× horizontal, 2× vertical and 2×2 (with its
 *   rounding and edge rules and its row-pairing state machine), nearest neighbour for other factors;
 * - colour: stb's reduced-precision fixed-point YCbCr→RGB (`stbi__YCbCr_to_RGB_row`, 12-bit constants << 8,
 *   the green Cb term masked to its high 16 bits), RGB passthrough for component ids 'R','G','B' or Adobe
 *   transform 0 without JFIF, CMYK/YCCK through `stbi__blinn_8x8`;
 * - stream quirks that decide what a slightly damaged file decodes to: zeros fed after the data runs out, restart
 *   markers checked only at interval ends, decoding ending quietly at an unexpected marker.
 * Where stb's output would depend on uninitialised memory (a progressive file cut before its end, an out-of-range
 * Huffman table) we produce something deterministic instead.
 *
 * Limits: the frame size is checked against maxPixels before any buffer exists, and at most MAX_SCANS scans are
 * decoded, so a file cannot make the decoder walk the image an unbounded number of times.
 */
import { MediaError } from './errors.ts';
import { exifOrientation, orient } from './exif.ts';
import type { RgbImage } from './image.ts';

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function corrupt(message: string): never {
  throw new MediaError('corrupt', `JPEG: ${message}`);
}

const MAX_SCANS = 256;
const FAST_BITS = 9;
const NO_MARKER = 0xff;

/** Zigzag position → row-major index; 15 extra entries let corrupt runs write to 63 as stb does. */
const DEZIGZAG = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);
const JBIAS = Array.from({ length: 16 }, (_, n) => (n === 0 ? 0 : 1 - 2 ** n));

interface Huffman {
  /** Symbol index for each FAST_BITS-bit prefix, 255 when the code is longer. */
  fast: Uint8Array;
  size: Uint8Array;
  values: Uint8Array;
  /** Largest code + 1 per length, pre-shifted to 16 bits (index 17 = sentinel). */
  maxcode: Float64Array;
  delta: Int32Array;
}

function buildHuffman(counts: number[], values: Uint8Array): Huffman {
  const size = new Uint8Array(257);
  let k = 0;
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < counts[i]; j++) {
      size[k++] = i + 1;
      if (k >= 257) corrupt('bad Huffman size list');
    }
  }
  size[k] = 0;
  const codes = new Uint16Array(256);
  const maxcode = new Float64Array(18);
  const delta = new Int32Array(17);
  let code = 0;
  k = 0;
  for (let j = 1; j <= 16; j++) {
    delta[j] = k - code;
    if (size[k] === j) {
      while (size[k] === j) codes[k++] = code++;
      if (code - 1 >= 2 ** j) corrupt('bad Huffman code lengths');
    }
    maxcode[j] = code * 2 ** (16 - j);
    code *= 2;
  }
  maxcode[17] = 0xffffffff;
  const fast = new Uint8Array(1 << FAST_BITS).fill(255);
  for (let i = 0; i < k; i++) {
    const s = size[i];
    if (s <= FAST_BITS) {
      const c = codes[i] << (FAST_BITS - s);
      const m = 1 << (FAST_BITS - s);
      for (let j = 0; j < m; j++) fast[c + j] = i;
    }
  }
  return { fast, size, values, maxcode, delta };
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  hd: number;
  ha: number;
  dcPred: number;
  /** Pixels this component covers, and its buffer size (whole interleaved MCUs). */
  x: number;
  y: number;
  w2: number;
  h2: number;
  data: Uint8Array;
  /** Progressive only: coefficients, 64 per block, coeffW blocks per row. */
  coeff?: Int16Array;
  coeffW: number;
}

/** stb_image's JPEG state, reduced to what decoding needs. */
class Decoder {
  private pos = 0;
  private buffer = 0; // entropy bits, left-aligned in 32 bits
  private bits = 0;
  marker = NO_MARKER;
  private nomore = false;
  private readonly dcTables: (Huffman | undefined)[] = [];
  private readonly acTables: (Huffman | undefined)[] = [];
  private readonly dequant = Array.from({ length: 4 }, () => new Uint16Array(64));
  comps: Component[] = [];
  width = 0;
  height = 0;
  progressive = false;
  private hMax = 1;
  private vMax = 1;
  private mcuX = 0;
  private mcuY = 0;
  private restartInterval = 0;
  private todo = 0;
  private eobRun = 0;
  private specStart = 0;
  private specEnd = 0;
  private succHigh = 0;
  private succLow = 0;
  private order: number[] = [];
  jfif = false;
  app14Transform = -1;
  rgbIds = 0;
  orientation = 1;
  private scans = 0;

  constructor(private readonly d: Uint8Array, private readonly maxPixels: number) {}

  // ---- byte level (stb's get8 returns 0 past the end)
  private get8(): number {
    return this.pos < this.d.length ? this.d[this.pos++] : 0;
  }
  private get16(): number {
    const hi = this.get8();
    return (hi << 8) + this.get8();
  }
  private atEof(): boolean {
    return this.pos >= this.d.length;
  }
  private skip(n: number): void {
    this.pos = n < 0 ? this.d.length : Math.min(this.d.length, this.pos + n);
  }

  getMarker(): number {
    if (this.marker !== NO_MARKER) {
      const m = this.marker;
      this.marker = NO_MARKER;
      return m;
    }
    let x = this.get8();
    if (x !== 0xff) return NO_MARKER;
    while (x === 0xff) {
      if (this.atEof()) return NO_MARKER;
      x = this.get8();
    }
    return x;
  }

  // ---- entropy-coded bits
  private grow(): void {
    do {
      const b = this.nomore ? 0 : this.get8();
      if (b === 0xff) {
        let c = this.get8();
        while (c === 0xff) c = this.get8();
        if (c !== 0) {
          this.marker = c;
          this.nomore = true;
          return;
        }
      }
      this.buffer = (this.buffer | (b << (24 - this.bits))) >>> 0;
      this.bits += 8;
    } while (this.bits <= 24);
  }

  private decodeHuffman(h: Huffman): number {
    if (this.bits < 16) this.grow();
    const c = this.buffer >>> (32 - FAST_BITS);
    const f = h.fast[c];
    if (f < 255) {
      const s = h.size[f];
      if (s > this.bits) return -1;
      this.buffer = (this.buffer << s) >>> 0;
      this.bits -= s;
      return h.values[f];
    }
    const temp = this.buffer >>> 16;
    let k = FAST_BITS + 1;
    while (temp >= h.maxcode[k]) k++;
    if (k === 17) {
      this.bits -= 16;
      return -1;
    }
    if (k > this.bits) return -1;
    const idx = (this.buffer >>> (32 - k)) + h.delta[k];
    if (idx < 0 || idx >= 256) return -1;
    this.bits -= k;
    this.buffer = (this.buffer << k) >>> 0;
    return h.values[idx];
  }

  /** JPEG receive + extend of n bits (1..15); zeros once the stream is exhausted. */
  private extendReceive(n: number): number {
    if (this.bits < n) this.grow();
    if (this.bits < n) return 0;
    const negative = this.buffer >>> 31 === 0;
    const k = this.buffer >>> (32 - n);
    this.buffer = (this.buffer << n) >>> 0;
    this.bits -= n;
    return negative ? k + JBIAS[n] : k;
  }

  private getBits(n: number): number {
    if (this.bits < n) this.grow();
    if (this.bits < n) return 0;
    const k = this.buffer >>> (32 - n);
    this.buffer = (this.buffer << n) >>> 0;
    this.bits -= n;
    return k;
  }

  private getBit(): boolean {
    if (this.bits < 1) this.grow();
    if (this.bits < 1) return false;
    const k = this.buffer >>> 31;
    this.buffer = (this.buffer << 1) >>> 0;
    this.bits--;
    return k !== 0;
  }

  private table(tables: (Huffman | undefined)[], i: number): Huffman {
    const t = tables[i];
    if (!t) corrupt('scan uses an undefined Huffman table');
    return t;
  }

  // ---- blocks
  private decodeBlock(data: Int16Array, c: Component, dq: Uint16Array): void {
    const hdc = this.table(this.dcTables, c.hd);
    const hac = this.table(this.acTables, c.ha);
    const t = this.decodeHuffman(hdc);
    if (t < 0 || t > 15) corrupt('bad Huffman code');
    data.fill(0);
    const diff = t ? this.extendReceive(t) : 0;
    const dc = c.dcPred + diff;
    if (!Number.isSafeInteger(dc) || dc > 0x7fffffff || dc < -0x80000000) corrupt('bad DC delta');
    c.dcPred = dc;
    if (!mulFitsShort(dc, dq[0])) corrupt('DC coefficient overflows');
    data[0] = dc * dq[0];
    let k = 1;
    do {
      const rs = this.decodeHuffman(hac);
      if (rs < 0) corrupt('bad Huffman code');
      const s = rs & 15;
      const r = rs >> 4;
      if (s === 0) {
        if (rs !== 0xf0) break;
        k += 16;
      } else {
        k += r;
        const zig = DEZIGZAG[k++];
        data[zig] = this.extendReceive(s) * dq[zig];
      }
    } while (k < 64);
  }

  private decodeProgressiveDc(co: Int16Array, at: number, c: Component): void {
    if (this.specEnd !== 0) corrupt("can't merge DC and AC");
    if (this.succHigh === 0) {
      const t = this.decodeHuffman(this.table(this.dcTables, c.hd));
      if (t < 0 || t > 15) corrupt('bad Huffman code');
      co.fill(0, at, at + 64);
      const diff = t ? this.extendReceive(t) : 0;
      const dc = c.dcPred + diff;
      if (dc > 0x7fffffff || dc < -0x80000000) corrupt('bad DC delta');
      c.dcPred = dc;
      if (!mulFitsShort(dc, 1 << this.succLow)) corrupt('DC coefficient overflows');
      co[at] = dc * (1 << this.succLow);
    } else if (this.getBit()) {
      co[at] += 1 << this.succLow;
    }
  }

  private decodeProgressiveAc(co: Int16Array, at: number, c: Component): void {
    if (this.specStart === 0) corrupt("can't merge DC and AC");
    const hac = this.table(this.acTables, c.ha);
    if (this.succHigh === 0) {
      const shift = 1 << this.succLow;
      if (this.eobRun) {
        this.eobRun--;
        return;
      }
      let k = this.specStart;
      do {
        const rs = this.decodeHuffman(hac);
        if (rs < 0) corrupt('bad Huffman code');
        const s = rs & 15;
        const r = rs >> 4;
        if (s === 0) {
          if (r < 15) {
            this.eobRun = 1 << r;
            if (r) this.eobRun += this.getBits(r);
            this.eobRun--;
            break;
          }
          k += 16;
        } else {
          k += r;
          co[at + DEZIGZAG[k++]] = this.extendReceive(s) * shift;
        }
      } while (k <= this.specEnd);
      return;
    }
    // Refinement scan.
    const bit = 1 << this.succLow;
    if (this.eobRun) {
      this.eobRun--;
      for (let k = this.specStart; k <= this.specEnd; k++) this.refine(co, at + DEZIGZAG[k], bit);
      return;
    }
    let k = this.specStart;
    do {
      const rs = this.decodeHuffman(hac);
      if (rs < 0) corrupt('bad Huffman code');
      let s = rs & 15;
      let r = rs >> 4;
      if (s === 0) {
        if (r < 15) {
          this.eobRun = (1 << r) - 1;
          if (r) this.eobRun += this.getBits(r);
          r = 64; // force the end of the block
        }
      } else {
        if (s !== 1) corrupt('bad Huffman code');
        s = this.getBit() ? bit : -bit;
      }
      while (k <= this.specEnd) {
        const p = at + DEZIGZAG[k++];
        if (co[p] !== 0) {
          this.refine(co, p, bit);
        } else {
          if (r === 0) {
            co[p] = s;
            break;
          }
          r--;
        }
      }
    } while (k <= this.specEnd);
  }

  /** A refinement bit for a coefficient already non-zero: adds to its magnitude if that bit is still clear. */
  private refine(co: Int16Array, p: number, bit: number): void {
    if (co[p] !== 0 && this.getBit() && (co[p] & bit) === 0) co[p] += co[p] > 0 ? bit : -bit;
  }

  // ---- scans
  private reset(): void {
    this.bits = 0;
    this.buffer = 0;
    this.nomore = false;
    for (const c of this.comps) c.dcPred = 0;
    this.marker = NO_MARKER;
    this.todo = this.restartInterval ? this.restartInterval : 0x7fffffff;
    this.eobRun = 0;
  }

  /** After each MCU: at the end of a restart interval, a restart marker resets; anything else ends the scan. */
  private countdown(): boolean {
    if (--this.todo <= 0) {
      if (this.bits < 24) this.grow();
      if (!(this.marker >= 0xd0 && this.marker <= 0xd7)) return false;
      this.reset();
    }
    return true;
  }

  private decodeScan(): void {
    this.reset();
    const block = new Int16Array(64);
    const single = this.order.length === 1;
    if (single) {
      const c = this.comps[this.order[0]];
      const w = (c.x + 7) >> 3;
      const h = (c.y + 7) >> 3;
      for (let j = 0; j < h; j++) {
        for (let i = 0; i < w; i++) {
          if (this.progressive) {
            const at = 64 * (i + j * c.coeffW);
            if (this.specStart === 0) this.decodeProgressiveDc(c.coeff!, at, c);
            else this.decodeProgressiveAc(c.coeff!, at, c);
          } else {
            this.decodeBlock(block, c, this.dequant[c.tq]);
            idctBlock(c.data, c.w2 * j * 8 + i * 8, c.w2, block, 0);
          }
          if (!this.countdown()) return;
        }
      }
      return;
    }
    for (let j = 0; j < this.mcuY; j++) {
      for (let i = 0; i < this.mcuX; i++) {
        for (const n of this.order) {
          const c = this.comps[n];
          for (let y = 0; y < c.v; y++) {
            for (let x = 0; x < c.h; x++) {
              const bx = i * c.h + x;
              const by = j * c.v + y;
              if (this.progressive) {
                this.decodeProgressiveDc(c.coeff!, 64 * (bx + by * c.coeffW), c);
              } else {
                this.decodeBlock(block, c, this.dequant[c.tq]);
                idctBlock(c.data, c.w2 * by * 8 + bx * 8, c.w2, block, 0);
              }
            }
          }
        }
        if (!this.countdown()) return;
      }
    }
  }

  // ---- markers
  /** Returns false for a marker stb does not know (an error before the frame, a quiet end after it). */
  processMarker(m: number): boolean {
    if (m === NO_MARKER) return false;
    if (m === 0xdd) {
      if (this.get16() !== 4) corrupt('bad DRI length');
      this.restartInterval = this.get16();
      return true;
    }
    if (m === 0xdb) {
      let l = this.get16() - 2;
      while (l > 0) {
        const q = this.get8();
        const p = q >> 4;
        const t = q & 15;
        if (p > 1) corrupt('bad DQT type');
        if (t > 3) corrupt('bad DQT table');
        for (let i = 0; i < 64; i++) this.dequant[t][DEZIGZAG[i]] = p ? this.get16() : this.get8();
        l -= p ? 129 : 65;
      }
      if (l !== 0) corrupt('bad DQT length');
      return true;
    }
    if (m === 0xc4) {
      let l = this.get16() - 2;
      while (l > 0) {
        const q = this.get8();
        const tc = q >> 4;
        const th = q & 15;
        if (tc > 1 || th > 3) corrupt('bad DHT header');
        const counts: number[] = [];
        let n = 0;
        for (let i = 0; i < 16; i++) {
          counts.push(this.get8());
          n += counts[i];
        }
        if (n > 256) corrupt('bad DHT header');
        l -= 17;
        const values = new Uint8Array(256);
        const built = buildHuffman(counts, values);
        for (let i = 0; i < n; i++) values[i] = this.get8();
        (tc === 0 ? this.dcTables : this.acTables)[th] = built;
        l -= n;
      }
      if (l !== 0) corrupt('bad DHT length');
      return true;
    }
    if ((m >= 0xe0 && m <= 0xef) || m === 0xfe) {
      let l = this.get16();
      if (l < 2) corrupt(m === 0xfe ? 'bad COM length' : 'bad APP length');
      l -= 2;
      const body = this.pos;
      if (m === 0xe0 && l >= 5) {
        if (this.d[body] === 0x4a && this.d[body + 1] === 0x46 && this.d[body + 2] === 0x49 && this.d[body + 3] === 0x46 && this.d[body + 4] === 0) {
          this.jfif = true;
        }
      } else if (m === 0xee && l >= 12) {
        const adobe = [0x41, 0x64, 0x6f, 0x62, 0x65, 0];
        if (adobe.every((b, i) => this.d[body + i] === b)) this.app14Transform = this.d[body + 11] ?? 0;
      } else if (m === 0xe1 && this.width === 0 && this.orientation === 1) {
        this.orientation = exifOrientation(this.d.subarray(body, Math.min(this.d.length, body + l))) ?? 1;
      }
      this.skip(l);
      return true;
    }
    return false;
  }

  private frameHeader(): void {
    const lf = this.get16();
    if (lf < 11) corrupt('bad SOF length');
    if (this.get8() !== 8) throw new MediaError('unsupported_format', 'JPEG: only 8-bit samples are supported');
    this.height = this.get16();
    this.width = this.get16();
    if (this.height === 0) throw new MediaError('unsupported_format', 'JPEG: images sized by a DNL marker are not supported');
    if (this.width === 0) corrupt('zero width');
    if (this.width * this.height > this.maxPixels) {
      throw new MediaError('too_large', `JPEG: ${this.width}×${this.height} is more than the ${this.maxPixels}-pixel limit`);
    }
    const n = this.get8();
    if (n !== 1 && n !== 3 && n !== 4) corrupt('bad component count');
    if (lf !== 8 + 3 * n) corrupt('bad SOF length');
    const ids = [0x52, 0x47, 0x42]; // 'R' 'G' 'B'
    for (let i = 0; i < n; i++) {
      const id = this.get8();
      if (n === 3 && id === ids[i]) this.rgbIds++;
      const q = this.get8();
      const h = q >> 4;
      const v = q & 15;
      if (!h || h > 4) corrupt('bad H sampling factor');
      if (!v || v > 4) corrupt('bad V sampling factor');
      const tq = this.get8();
      if (tq > 3) corrupt('bad quantisation table index');
      this.comps.push({ id, h, v, tq, hd: 0, ha: 0, dcPred: 0, x: 0, y: 0, w2: 0, h2: 0, data: new Uint8Array(0), coeffW: 0 });
    }
    for (const c of this.comps) {
      this.hMax = Math.max(this.hMax, c.h);
      this.vMax = Math.max(this.vMax, c.v);
    }
    for (const c of this.comps) {
      if (this.hMax % c.h || this.vMax % c.v) corrupt('fractional subsampling');
    }
    this.mcuX = Math.ceil(this.width / (this.hMax * 8));
    this.mcuY = Math.ceil(this.height / (this.vMax * 8));
    for (const c of this.comps) {
      c.x = Math.ceil((this.width * c.h) / this.hMax);
      c.y = Math.ceil((this.height * c.v) / this.vMax);
      c.w2 = this.mcuX * c.h * 8;
      c.h2 = this.mcuY * c.v * 8;
      c.data = new Uint8Array(c.w2 * c.h2);
      if (this.progressive) {
        c.coeffW = c.w2 / 8;
        c.coeff = new Int16Array(c.w2 * c.h2);
      }
    }
  }

  private scanHeader(): void {
    if (++this.scans > MAX_SCANS) corrupt(`more than ${MAX_SCANS} scans`);
    const ls = this.get16();
    const n = this.get8();
    if (n < 1 || n > 4 || n > this.comps.length) corrupt('bad SOS component count');
    if (ls !== 6 + 2 * n) corrupt('bad SOS length');
    this.order = [];
    for (let i = 0; i < n; i++) {
      const id = this.get8();
      const q = this.get8();
      const which = this.comps.findIndex((c) => c.id === id);
      if (which < 0) corrupt('scan names an unknown component');
      const c = this.comps[which];
      c.hd = q >> 4;
      c.ha = q & 15;
      if (c.hd > 3 || c.ha > 3) corrupt('bad Huffman table index');
      this.order.push(which);
    }
    this.specStart = this.get8();
    this.specEnd = this.get8();
    const aa = this.get8();
    this.succHigh = aa >> 4;
    this.succLow = aa & 15;
    if (this.progressive) {
      if (this.specStart > 63 || this.specEnd > 63 || this.specStart > this.specEnd || this.succHigh > 13 || this.succLow > 13) {
        corrupt('bad progressive scan parameters');
      }
    } else {
      if (this.specStart !== 0 || this.succHigh !== 0 || this.succLow !== 0) corrupt('bad SOS');
      this.specEnd = 63;
    }
  }

  /** stb's `stbi__skip_jpeg_junk_at_end`: after a scan, skip to the next thing that looks like a marker. */
  private skipJunk(): number {
    while (!this.atEof()) {
      let x = this.get8();
      while (x === 0xff) {
        if (this.atEof()) return NO_MARKER;
        x = this.get8();
        if (x !== 0 && x !== 0xff) return x;
      }
    }
    return NO_MARKER;
  }

  decode(): void {
    if (this.getMarker() !== 0xd8) corrupt('no SOI marker');
    let m = this.getMarker();
    while (!(m === 0xc0 || m === 0xc1 || m === 0xc2)) {
      if ((m >= 0xc3 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)) {
        throw new MediaError('unsupported_format', `JPEG: coding process 0x${m.toString(16)} is not supported`);
      }
      if (!this.processMarker(m)) corrupt(m === NO_MARKER ? 'expected a marker' : `unknown marker 0x${m.toString(16)}`);
      m = this.getMarker();
      while (m === NO_MARKER) {
        if (this.atEof()) corrupt('no frame header');
        m = this.getMarker();
      }
    }
    this.progressive = m === 0xc2;
    this.frameHeader();
    m = this.getMarker();
    while (m !== 0xd9) {
      if (m === 0xda) {
        this.scanHeader();
        this.decodeScan();
        if (this.marker === NO_MARKER) this.marker = this.skipJunk();
        m = this.getMarker();
        if (m >= 0xd0 && m <= 0xd7) m = this.getMarker();
      } else if (m === 0xdc) {
        const ld = this.get16();
        const nl = this.get16();
        if (ld !== 4) corrupt('bad DNL length');
        if (nl !== this.height) corrupt('bad DNL height');
        m = this.getMarker();
      } else {
        // stb stops here and keeps what it decoded: a file cut short, an unknown marker, or any marker segment it
        // fails to parse once the frame is known (stbi__decode_jpeg_image returns success there).
        let ok: boolean;
        try {
          ok = this.processMarker(m);
        } catch (e) {
          if (!(e instanceof MediaError) || e.code !== 'corrupt') throw e;
          ok = false;
        }
        if (!ok) break;
        m = this.getMarker();
      }
    }
    if (this.progressive) {
      for (const c of this.comps) {
        const w = (c.x + 7) >> 3;
        const h = (c.y + 7) >> 3;
        const dq = this.dequant[c.tq];
        for (let j = 0; j < h; j++) {
          for (let i = 0; i < w; i++) {
            const at = 64 * (i + j * c.coeffW);
            const co = c.coeff!;
            for (let k = 0; k < 64; k++) co[at + k] *= dq[k];
            idctBlock(c.data, c.w2 * j * 8 + i * 8, c.w2, co, at);
          }
        }
      }
    }
  }

  /** Upsampling and colour conversion to RGB8 (stb's `load_jpeg_image` with req_comp = 3). */
  toRgb(): RgbImage {
    const { width: W, height: H, comps } = this;
    const out = new Uint8Array(W * H * 3);
    const isRgb = comps.length === 3 && (this.rgbIds === 3 || (this.app14Transform === 0 && !this.jfif));
    const states = comps.map((c) => {
      const hs = this.hMax / c.h;
      const vs = this.vMax / c.v;
      return { c, hs, vs, ystep: vs >> 1, ypos: 0, wLores: Math.ceil(W / hs), line0: 0, line1: 0, buf: new Uint8Array(W + 3) };
    });
    const rows: Uint8Array[] = new Array(comps.length);
    for (let j = 0; j < H; j++) {
      for (let k = 0; k < states.length; k++) {
        const r = states[k];
        const yBot = r.ystep >= r.vs >> 1;
        const near = r.c.data.subarray(yBot ? r.line1 : r.line0);
        const far = r.c.data.subarray(yBot ? r.line0 : r.line1);
        rows[k] = resampleRow(r.buf, near, far, r.wLores, r.hs, r.vs);
        if (++r.ystep >= r.vs) {
          r.ystep = 0;
          r.line0 = r.line1;
          if (++r.ypos < r.c.y) r.line1 += r.c.w2;
        }
      }
      const o = j * W * 3;
      if (comps.length === 3) {
        if (isRgb) {
          for (let i = 0; i < W; i++) {
            out[o + i * 3] = rows[0][i];
            out[o + i * 3 + 1] = rows[1][i];
            out[o + i * 3 + 2] = rows[2][i];
          }
        } else {
          yCbCrToRgb(out, o, rows[0], rows[1], rows[2], W);
        }
      } else if (comps.length === 4) {
        if (this.app14Transform === 0) {
          for (let i = 0; i < W; i++) {
            const m = rows[3][i];
            out[o + i * 3] = blinn(rows[0][i], m);
            out[o + i * 3 + 1] = blinn(rows[1][i], m);
            out[o + i * 3 + 2] = blinn(rows[2][i], m);
          }
        } else {
          yCbCrToRgb(out, o, rows[0], rows[1], rows[2], W);
          if (this.app14Transform === 2) {
            for (let i = 0; i < W * 3; i++) out[o + i] = blinn(255 - out[o + i], rows[3][Math.floor(i / 3)]);
          }
        }
      } else {
        for (let i = 0; i < W; i++) out[o + i * 3] = out[o + i * 3 + 1] = out[o + i * 3 + 2] = rows[0][i];
      }
    }
    return { width: W, height: H, data: out };
  }
}

/** True when a·b fits in int16 (stb's `stbi__mul2shorts_valid`). */
function mulFitsShort(a: number, b: number): boolean {
  const p = a * b;
  return p >= -32768 && p <= 32767;
}

/** stb's `stbi__f2f`: a float constant in 12-bit fixed point, `(int)(x * 4096 + 0.5)`. */
const f2f = (x: number) => Math.trunc(Math.fround(x) * 4096 + 0.5);
const C0541 = f2f(0.5411961);
const CM1847 = f2f(-1.847759065);
const C0765 = f2f(0.765366865);
const C1175 = f2f(1.175875602);
const C0298 = f2f(0.298631336);
const C2053 = f2f(2.053119869);
const C3072 = f2f(3.072711026);
const C1501 = f2f(1.50132111);
const CM0899 = f2f(-0.899976223);
const CM2562 = f2f(-2.562915447);
const CM1961 = f2f(-1.96157056);
const CM0390 = f2f(-0.390180644);

const idctValues = new Int32Array(64);

/**
 * stb's `stbi__idct_block`: dequantised int16 coefficients → 8×8 pixels at out[at], rows `stride` apart. The 1-D
 * transform (stb's STBI__IDCT_1D) is written out in both passes for speed. Plain doubles hold the int32
 * intermediates exactly, and each `>>` applies C's 32-bit wrap-around, so overflowing garbage wraps as in C.
 */
function idctBlock(out: Uint8Array, at: number, stride: number, d: Int16Array, base: number): void {
  const v = idctValues;
  for (let i = 0; i < 8; i++) {
    const b = base + i;
    if (d[b + 8] === 0 && d[b + 16] === 0 && d[b + 24] === 0 && d[b + 32] === 0 && d[b + 40] === 0 && d[b + 48] === 0 && d[b + 56] === 0) {
      const dc = d[b] * 4;
      v[i] = v[8 + i] = v[16 + i] = v[24 + i] = v[32 + i] = v[40 + i] = v[48 + i] = v[56 + i] = dc;
      continue;
    }
    const s0 = d[b], s1 = d[b + 8], s2 = d[b + 16], s3 = d[b + 24], s4 = d[b + 32], s5 = d[b + 40], s6 = d[b + 48], s7 = d[b + 56];
    const p1e = (s2 + s6) * C0541;
    const t2e = p1e + s6 * CM1847;
    const t3e = p1e + s2 * C0765;
    const t0e = (s0 + s4) * 4096;
    const t1e = (s0 - s4) * 4096;
    const x0 = t0e + t3e + 512, x3 = t0e - t3e + 512, x1 = t1e + t2e + 512, x2 = t1e - t2e + 512;
    const p3 = s7 + s3, p4 = s5 + s1, p1 = s7 + s1, p2 = s5 + s3;
    const p5 = (p3 + p4) * C1175;
    const q1 = p5 + p1 * CM0899, q2 = p5 + p2 * CM2562, q3 = p3 * CM1961, q4 = p4 * CM0390;
    const t3 = s1 * C1501 + q1 + q4, t2 = s3 * C3072 + q2 + q3, t1 = s5 * C2053 + q2 + q4, t0 = s7 * C0298 + q1 + q3;
    v[i] = (x0 + t3) >> 10;
    v[56 + i] = (x0 - t3) >> 10;
    v[8 + i] = (x1 + t2) >> 10;
    v[48 + i] = (x1 - t2) >> 10;
    v[16 + i] = (x2 + t1) >> 10;
    v[40 + i] = (x2 - t1) >> 10;
    v[24 + i] = (x3 + t0) >> 10;
    v[32 + i] = (x3 - t0) >> 10;
  }
  const bias = 65536 + (128 << 17);
  for (let r = 0; r < 8; r++) {
    const b = r * 8;
    const s0 = v[b], s1 = v[b + 1], s2 = v[b + 2], s3 = v[b + 3], s4 = v[b + 4], s5 = v[b + 5], s6 = v[b + 6], s7 = v[b + 7];
    const p1e = (s2 + s6) * C0541;
    const t2e = p1e + s6 * CM1847;
    const t3e = p1e + s2 * C0765;
    const t0e = (s0 + s4) * 4096;
    const t1e = (s0 - s4) * 4096;
    const x0 = t0e + t3e + bias, x3 = t0e - t3e + bias, x1 = t1e + t2e + bias, x2 = t1e - t2e + bias;
    const p3 = s7 + s3, p4 = s5 + s1, p1 = s7 + s1, p2 = s5 + s3;
    const p5 = (p3 + p4) * C1175;
    const q1 = p5 + p1 * CM0899, q2 = p5 + p2 * CM2562, q3 = p3 * CM1961, q4 = p4 * CM0390;
    const t3 = s1 * C1501 + q1 + q4, t2 = s3 * C3072 + q2 + q3, t1 = s5 * C2053 + q2 + q4, t0 = s7 * C0298 + q1 + q3;
    const o = at + r * stride;
    out[o] = clamp8((x0 + t3) >> 17);
    out[o + 7] = clamp8((x0 - t3) >> 17);
    out[o + 1] = clamp8((x1 + t2) >> 17);
    out[o + 6] = clamp8((x1 - t2) >> 17);
    out[o + 2] = clamp8((x2 + t1) >> 17);
    out[o + 5] = clamp8((x2 - t1) >> 17);
    out[o + 3] = clamp8((x3 + t0) >> 17);
    out[o + 4] = clamp8((x3 - t0) >> 17);
  }
}

function clamp8(x: number): number {
  return x < 0 ? 0 : x > 255 ? 255 : x;
}

/** One output row of a component at full resolution (stb's resample_row_* family). */
function resampleRow(buf: Uint8Array, near: Uint8Array, far: Uint8Array, w: number, hs: number, vs: number): Uint8Array {
  if (hs === 1 && vs === 1) return near;
  if (hs === 1 && vs === 2) {
    for (let i = 0; i < w; i++) buf[i] = (3 * near[i] + far[i] + 2) >> 2;
    return buf;
  }
  if (hs === 2 && vs === 1) {
    if (w === 1) {
      buf[0] = buf[1] = near[0];
      return buf;
    }
    buf[0] = near[0];
    buf[1] = (near[0] * 3 + near[1] + 2) >> 2;
    let i = 1;
    for (; i < w - 1; i++) {
      const n = 3 * near[i] + 2;
      buf[i * 2] = (n + near[i - 1]) >> 2;
      buf[i * 2 + 1] = (n + near[i + 1]) >> 2;
    }
    buf[i * 2] = (near[w - 2] * 3 + near[w - 1] + 2) >> 2;
    buf[i * 2 + 1] = near[w - 1];
    return buf;
  }
  if (hs === 2 && vs === 2) {
    if (w === 1) {
      buf[0] = buf[1] = (3 * near[0] + far[0] + 2) >> 2;
      return buf;
    }
    let t1 = 3 * near[0] + far[0];
    buf[0] = (t1 + 2) >> 2;
    for (let i = 1; i < w; i++) {
      const t0 = t1;
      t1 = 3 * near[i] + far[i];
      buf[i * 2 - 1] = (3 * t0 + t1 + 8) >> 4;
      buf[i * 2] = (3 * t1 + t0 + 8) >> 4;
    }
    buf[w * 2 - 1] = (t1 + 2) >> 2;
    return buf;
  }
  for (let i = 0; i < w; i++) for (let j = 0; j < hs; j++) buf[i * hs + j] = near[i];
  return buf;
}

/** stb's `stbi__float2fixed`: `((int)(x * 4096.0f + 0.5f)) << 8`, in float. */
const float2fixed = (x: number) => Math.trunc(Math.fround(Math.fround(Math.fround(x) * 4096) + 0.5)) << 8;
const CR_R = float2fixed(1.402);
const CR_G = -float2fixed(0.71414);
const CB_G = -float2fixed(0.34414);
const CB_B = float2fixed(1.772);

function yCbCrToRgb(out: Uint8Array, o: number, y: Uint8Array, cb: Uint8Array, cr: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const yFixed = (y[i] << 20) + (1 << 19);
    const crv = cr[i] - 128;
    const cbv = cb[i] - 128;
    const r = (yFixed + crv * CR_R) >> 20;
    const g = (yFixed + crv * CR_G + ((cbv * CB_G) & 0xffff0000)) >> 20;
    const b = (yFixed + cbv * CB_B) >> 20;
    out[o + i * 3] = clamp8(r);
    out[o + i * 3 + 1] = clamp8(g);
    out[o + i * 3 + 2] = clamp8(b);
  }
}

/** stb's rounded 8-bit product, used for CMYK. */
function blinn(x: number, y: number): number {
  const t = x * y + 128;
  return (t + (t >>> 8)) >>> 8;
}

export function decodeJpeg(bytes: Uint8Array, maxPixels: number, honourExif: boolean): RgbImage {
  const decoder = new Decoder(bytes, maxPixels);
  try {
    decoder.decode();
  } catch (e) {
    if (e instanceof MediaError) throw e;
    throw new MediaError('corrupt', `JPEG: ${e instanceof Error ? e.message : String(e)}`);
  }
  const img = decoder.toRgb();
  return honourExif ? orient(img, decoder.orientation) : img;
}
