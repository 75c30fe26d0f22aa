/**
 * Band-limited resampling of mono f32 PCM with a Kaiser-windowed sinc (our own; no resampling library we found runs
 * in workerd and is still maintained). Stop-band about −90 dB, pass band to 0.95 of the lower Nyquist frequency.
 *
 * llama.cpp resamples with miniaudio's linear resampler (linear interpolation + a 4th-order low-pass), so resampled
 * audio is NOT bit-identical to llama.cpp's; only the sample count is made to agree (`resampledLength`), so both give
 * the same number of audio tokens. Audio already at the target rate is never touched and stays bit-identical.
 */

const ZERO_CROSSINGS = 24;
const KAISER_BETA = 8.6;
const PASS = 0.95;
/** Kernel table resolution: points per unit of the (scaled) sinc argument. */
const TABLE_STEPS = 512;

/**
 * Output length for `inputFrames` at rateIn → rateOut, computed as miniaudio's
 * `ma_calculate_frame_count_after_resampling` does (the length mtmd-helper allocates and returns, zeros past what
 * the resampler produced), so the frame count — hence the token count — matches llama.cpp.
 */
export function resampledLength(rateOut: number, rateIn: number, inputFrames: number): number {
  if (rateIn === 0 || rateOut === 0 || inputFrames === 0) return 0;
  if (rateIn === rateOut) return inputFrames;
  let out = Math.floor((inputFrames * rateOut) / rateIn);
  const fromFrac = Math.floor((out * Math.floor(rateIn / rateOut)) / rateOut);
  const whole = out * (rateIn % rateOut) + fromFrac;
  if (whole <= inputFrames) out += 1;
  return out;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for the betas used). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

let kernelTable: Float64Array | undefined;

/** Windowed sinc sampled on [0, ZERO_CROSSINGS] at TABLE_STEPS points per unit (built once). */
function kernel(): Float64Array {
  if (kernelTable) return kernelTable;
  const n = ZERO_CROSSINGS * TABLE_STEPS + 2;
  const t = new Float64Array(n);
  const norm = besselI0(KAISER_BETA);
  for (let i = 0; i < n; i++) {
    const x = i / TABLE_STEPS;
    const r = Math.min(1, x / ZERO_CROSSINGS);
    const window = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / norm;
    t[i] = (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)) * window;
  }
  kernelTable = t;
  return t;
}

/** Resamples mono PCM from rateIn to rateOut; output sample n sits at input time n·rateIn/rateOut. */
export function resample(input: Float32Array, rateIn: number, rateOut: number): Float32Array {
  const outLength = resampledLength(rateOut, rateIn, input.length);
  if (rateIn === rateOut) return input.slice();
  const table = kernel();
  const out = new Float32Array(outLength);
  // Cutoff as a fraction of the input Nyquist frequency: below the output's Nyquist when downsampling.
  const cutoff = Math.min(1, rateOut / rateIn) * PASS;
  const halfWidth = ZERO_CROSSINGS / cutoff; // in input samples
  const step = rateIn / rateOut;
  for (let n = 0; n < outLength; n++) {
    const t = n * step;
    const first = Math.max(0, Math.ceil(t - halfWidth));
    const last = Math.min(input.length - 1, Math.floor(t + halfWidth));
    let acc = 0;
    for (let k = first; k <= last; k++) {
      const pos = Math.abs(t - k) * cutoff * TABLE_STEPS;
      const i = Math.floor(pos);
      if (i >= table.length - 1) continue;
      const frac = pos - i;
      acc += input[k] * (table[i] + (table[i + 1] - table[i]) * frac);
    }
    out[n] = acc * cutoff;
  }
  return out;
}

/**
 * miniaudio's resampler as llama.cpp's mtmd-helper runs it (ma_decoder → ma_linear_resampler, f32, mono,
 * lpfOrder 4, lpfNyquistFactor 1), reproduced step for step in float32 so resampled audio is bit-identical to
 * llama.cpp's: rates reduced by their GCD; a 4th-order Butterworth low-pass as two biquads (direct form 2
 * transposed, coefficients computed in double and rounded to float, Q = 1/(2·cos((1+2i)·π/8))) at the higher rate
 * with its cutoff at the lower rate's Nyquist frequency, applied to each input sample when downsampling and to each
 * output sample when upsampling; linear interpolation `x0 + (x1 − x0)·a` with a = frac/rateOut in float. Output past
 * the last sample miniaudio can interpolate stays zero, as in mtmd-helper's buffer of `resampledLength` frames.
 * Lower quality than `resample` (linear interpolation, a gentle filter placed at Nyquist), exact parity instead.
 */
export function resampleLikeMiniaudio(input: Float32Array, rateIn: number, rateOut: number): Float32Array {
  const outLength = resampledLength(rateOut, rateIn, input.length);
  if (rateIn === rateOut) return input.slice();
  const f = Math.fround;
  const g = gcd(rateIn, rateOut);
  const inRate = rateIn / g;
  const outRate = rateOut / g;
  const filters = [0, 1].map((i) => biquadLowPass(Math.max(inRate, outRate), Math.min(inRate, outRate) * 0.5, i));
  const filter = (x: number) => {
    for (const b of filters) {
      const y = f(f(b.b0 * x) + b.r1);
      b.r1 = f(f(f(b.b1 * x) - f(b.a1 * y)) + b.r2);
      b.r2 = f(f(b.b2 * x) - f(b.a2 * y));
      x = y;
    }
    return x;
  };
  const downsampling = inRate > outRate;
  const advanceInt = Math.floor(inRate / outRate);
  const advanceFrac = inRate % outRate;
  const out = new Float32Array(outLength);
  let timeInt = 1; // forces one input sample to be loaded before the first output
  let timeFrac = 0;
  let x0 = 0;
  let x1 = 0;
  let next = 0;
  for (let n = 0; n < outLength; n++) {
    while (timeInt > 0 && next < input.length) {
      x0 = x1;
      x1 = downsampling ? filter(input[next++]) : input[next++];
      timeInt--;
    }
    if (timeInt > 0) break; // input exhausted: the rest stays zero
    const a = f(timeFrac / outRate);
    const y = f(x0 + f(f(x1 - x0) * a));
    out[n] = downsampling ? y : filter(y);
    timeInt += advanceInt;
    timeFrac += advanceFrac;
    if (timeFrac >= outRate) {
      timeFrac -= outRate;
      timeInt++;
    }
  }
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

interface Biquad {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
  r1: number;
  r2: number;
}

/** Section i of miniaudio's order-4 low-pass (`ma_lpf2__get_biquad_config`, normalised as `ma_biquad_reinit`). */
function biquadLowPass(sampleRate: number, cutoff: number, i: number): Biquad {
  const PI = 3.14159265358979323846264;
  const cosd = (x: number) => Math.sin(PI * 0.5 - x); // miniaudio's ma_cosd
  const q = 1 / (2 * cosd((1 + i * 2) * (PI / (4 * 2))));
  const w = (2 * PI * cutoff) / sampleRate;
  const s = Math.sin(w);
  const c = cosd(w);
  const a = s / (2 * q);
  const a0 = 1 + a;
  const f = Math.fround;
  return {
    b0: f((1 - c) / 2 / a0),
    b1: f((1 - c) / a0),
    b2: f((1 - c) / 2 / a0),
    a1: f((-2 * c) / a0),
    a2: f((1 - a) / a0),
    r1: 0,
    r2: 0,
  };
}
