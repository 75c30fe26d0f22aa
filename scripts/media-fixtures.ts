/**
 * Regenerates test/fixtures/media/llama-reference.json: llama.cpp v0.5.0's own preprocessing values for the media
 * tests (run through scripts/media-fixtures.sh, which builds scripts/media-reference.cpp first).
 *   npx tsx scripts/media-fixtures.ts HARNESS
 * Writes a synthetic gemma4uv/gemma4ua mmproj (non-trivial mean/std) to a temp dir, runs the harness over the
 * synthetic images of test/media-reference.test.ts and every committed fixture, and keeps what the test needs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSyntheticMmproj } from '../src/engine/gguf/synthetic-mmproj.ts';
import { encodeGguf } from '../src/engine/gguf/writer.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';

export const REFERENCE_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const REFERENCE_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Synthetic images: W, H, minTokens, maxTokens (0 = the file's defaults 70/1120). */
export const SYNTH_SIZES: [number, number, number, number][] = [
  [100, 70, 0, 0], [300, 200, 0, 0], [640, 480, 0, 0], [1024, 768, 0, 0], [1920, 1080, 0, 0], [4000, 3000, 0, 0],
  [1, 1, 0, 0], [7, 300, 0, 0], [333, 97, 0, 0], [50, 5000, 0, 0], [2000, 49, 0, 0], [528, 336, 0, 0],
  [1281, 721, 0, 0], [999, 1001, 40, 280], [640, 480, 40, 280], [3000, 17, 0, 0],
];

const harness = process.argv[2];
if (!harness) throw new Error('usage: tsx scripts/media-fixtures.ts HARNESS');
const dir = 'test/fixtures/media';
const tmp = mkdtempSync(join(tmpdir(), 'hearth-media-'));
try {
  const mmproj = join(tmp, 'mmproj.gguf');
  const spec = makeSyntheticMmproj({
    embd: 64, vision: true, audio: true, seed: 7, patchType: GGML_TYPE.F32,
    imageMean: REFERENCE_MEAN, imageStd: REFERENCE_STD,
  });
  writeFileSync(mmproj, await encodeGguf(spec));
  const files = readdirSync(dir).filter((f) => /\.(png|jpg|wav)$/.test(f)).sort();
  const jobs = [
    ...SYNTH_SIZES.map(([w, h, mn, mx]) => `synth:${w}:${h}:${mn}:${mx}`),
    ...files.map((f) => `${f.endsWith('.wav') ? 'audio' : 'image'}:${join(dir, f)}`),
  ];
  const out = execFileSync(harness, [mmproj, ...jobs], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  const results = JSON.parse(out.toString()) as Record<string, unknown>[];
  for (const r of results) {
    if (typeof r.file === 'string') r.file = r.file.slice(dir.length + 1);
    // Pixels are checked by hash; full samples are kept only where we resample differently (compared by SNR).
    delete r.rgb;
    if (r.job === 'audio' && String(r.file).startsWith('wav-16k')) delete r.pcm;
  }
  const fixture = {
    generatedBy: 'scripts/media-fixtures.sh (llama.cpp v0.5.0 libmtmd + its vendored stb_image and miniaudio)',
    mean: REFERENCE_MEAN,
    std: REFERENCE_STD,
    results,
  };
  writeFileSync(join(dir, 'llama-reference.json'), JSON.stringify(fixture) + '\n');
  console.log(`wrote ${results.length} reference results`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
