/**
 * Golden fixtures for the Gemma 4 projectors (gemma4uv / gemma4ua), from llama.cpp's own `llama-mtmd-cli`
 * (test/fixtures/multimodal/*.json; test/multimodal.test.ts compares hearth's greedy continuation with them).
 *
 *   scripts/build-llama-tools.sh llama-mtmd-cli        # once (the same checkout as the other llama.cpp tools)
 *   node --import tsx scripts/mtmd-fixtures.ts [--bin DIR] [--out DIR] [--keep DIR]
 *
 * The synthetic text model + mmproj and the media (PNG, WAV) come from test/fixtures/multimodal/inputs.ts, so the
 * test rebuilds the very same bytes in memory; nothing binary is committed. Each case runs llama-mtmd-cli greedily
 * (--temp 0, -fa off: the non-flash attention path hearth matches; F16 KV cache) and records the prompt's text
 * segments, the rows llama.cpp decoded per media chunk (its "decoding image batch …, n_tokens_batch = N" debug
 * lines) and the continuation text (stdout).
 *
 * Numerics. llama-mtmd-cli decodes every chunk of the prompt as one batch (text between media, each image, each
 * audio clip; -b/-ub 512 hold every image here: spec §8.3 step 9). For a batch of >= 2 rows llama.cpp's CPU backend
 * multiplies F16/F32/Q8_0/Q4_0 matrices with the llamafile tinyBLAS gemm, whose summation order differs from its
 * one-token dot products (which hearth follows). That reaches the fixtures in three places, each handled:
 *  - the weights: the text model is Q6_K and the projections Q6_K / Q4_1, types without a batched kernel in
 *    llama.cpp (every column is the one-token dot product), so they agree bit for bit;
 *  - v.patch_embd (F16, as the converter writes it): hearth's projector uses matmulTiled, tinyBLAS's order;
 *  - attention (K·q and V·p are F16 mul_mats): hearth's prefill of a prompt with media asks for tinyBLAS's order
 *    (ForwardSeq.tiledAttention) for chunks of >= 2 rows, as llama.cpp's mtmd processing does.
 * With those, hearth's image/audio embeddings equal llama.cpp's bit for bit (checked with MTMD_DEBUG_EMBEDDINGS=FILE,
 * which makes clip dump them), and so does the continuation. Without the attention order the synthetic model's
 * continuation drifted after ~20 tokens on one case (f16 roundings of K/V and GELU amplify last-bit differences).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeGguf } from '../src/engine/gguf/writer.ts';
import { fixtureMmproj, fixtureMmprojOptions, fixtureTextModel, MEDIA_MARKER, mediaFile, type MediaInput } from '../test/fixtures/multimodal/inputs.ts';

const repo = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    bin: { type: 'string', default: join(process.env.LLAMA_TOOLS_DIR ?? join(homedir(), '.cache/hearth/llama-src'), 'build/bin') },
    out: { type: 'string', default: join(repo, 'test/fixtures/multimodal') },
    keep: { type: 'string' },
  },
});
const tool = join(values.bin!, 'llama-mtmd-cli');
if (!existsSync(tool)) {
  console.error(`mtmd-fixtures: ${tool} not found: run scripts/build-llama-tools.sh llama-mtmd-cli first`);
  process.exit(1);
}

interface Case {
  name: string;
  /** The user text; each <__media__> marks where the next media item goes. */
  prompt: string;
  media: MediaInput[];
  nPredict: number;
}

const MARKER = MEDIA_MARKER;
const cases: Case[] = [
  // 480×336 is a grid-exact size: 10×7 patches, 70 soft tokens, no resize
  { name: 'image-480x336', prompt: `look at${MARKER} what is this`, media: [{ kind: 'image', width: 480, height: 336, seed: 1 }], nPredict: 24 },
  // 100×70 is resized (bicubic) to 480×336 content, letterboxed into 528×336: 11×7 = 77 soft tokens (spec §8.3)
  { name: 'image-100x70', prompt: `${MARKER}describe it`, media: [{ kind: 'image', width: 100, height: 70, seed: 2 }], nPredict: 24 },
  // 1 s of 16 kHz audio: 25 frames; the transcription prompt puts the audio after the text
  { name: 'audio-1s', prompt: `Transcribe audio to text${MARKER}`, media: [{ kind: 'audio', samples: 16000, seed: 3 }], nPredict: 24 },
  {
    name: 'multi',
    prompt: `first${MARKER} then${MARKER} and a sound${MARKER} so?`,
    media: [
      { kind: 'image', width: 480, height: 336, seed: 4 },
      { kind: 'image', width: 300, height: 200, seed: 5 },
      { kind: 'audio', samples: 12345, seed: 6 },
    ],
    nPredict: 24,
  },
];

const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'hearth-mtmd-'));
mkdirSync(dir, { recursive: true });
const textPath = join(dir, 'text.gguf');
const mmprojPath = join(dir, 'mmproj.gguf');
writeFileSync(textPath, await encodeGguf(fixtureTextModel()));
writeFileSync(mmprojPath, await encodeGguf(fixtureMmproj()));
mkdirSync(values.out!, { recursive: true });

try {
  for (const c of cases) {
    const files = c.media.map((m, i) => {
      const { bytes, ext } = mediaFile(m);
      const path = join(dir, `${c.name}-${i}.${ext}`);
      writeFileSync(path, bytes);
      return path;
    });
    const args = [
      '-m', textPath, '--mmproj', mmprojPath, ...files.flatMap((f) => ['--image', f]), '-p', c.prompt,
      '--temp', '0', '--seed', '1', '-n', String(c.nPredict), '-c', '2048', '-b', '512', '-ub', '512', '-fa', 'off', '-t', '2',
      '--jinja', '-v',
    ];
    // clip dumps the projector's output of each encode here ([i32 rows][i32 embd][f32 rows × embd]); the last one stays
    const dump = join(dir, `${c.name}-embd.bin`);
    const run = spawnSync(tool, args, { maxBuffer: 256 << 20, timeout: 300_000, env: { ...process.env, MTMD_DEBUG_EMBEDDINGS: dump } });
    const stderr = run.stderr.toString('utf8');
    if (run.status !== 0) throw new Error(`${c.name}: llama-mtmd-cli failed (${run.status}):\n${stderr.slice(-3000)}`);
    // one "decoding image|audio batch i/n, n_tokens_batch = N" line per batch of a media chunk
    const batches = [...stderr.matchAll(/decoding (image|audio) batch (\d+)\/(\d+), n_tokens_batch = (\d+)/g)];
    if (batches.some((m) => m[3] !== '1')) throw new Error(`${c.name}: a media chunk was split into several batches`);
    const rows = batches.map((m) => Number(m[4]));
    const formatted = /formatted_chat\.prompt: ([^\n]*)/.exec(stderr)?.[1];
    if (formatted !== c.prompt) throw new Error(`${c.name}: the chat template changed the prompt: ${JSON.stringify(formatted)}`);
    // stdout: "\n" before the answer, "\n" after it (and one after the message)
    const out = new Uint8Array(run.stdout);
    if (out[0] !== 10 || out[out.length - 1] !== 10) throw new Error(`${c.name}: unexpected stdout framing`);
    let end = out.length;
    while (end > 1 && out[end - 1] === 10) end--;
    // the generated pieces' raw bytes (a piece may be part of a UTF-8 character)
    const bytes = out.subarray(1, end);
    const continuation = new TextDecoder().decode(bytes);
    const raw = readFileSync(dump);
    const [embRows, embWidth] = [raw.readInt32LE(0), raw.readInt32LE(4)];
    const lastMediaEmbeddings = {
      rows: embRows,
      embd: embWidth,
      sha256: createHash('sha256').update(raw.subarray(8)).digest('hex'),
      head: Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset + 8, raw.byteOffset + 8 + 32))),
    };
    const fixture = {
      name: c.name,
      source: 'llama-mtmd-cli (llama.cpp as bundled in node-llama-cpp 3.22.1), scripts/mtmd-fixtures.ts',
      textModel: 'test/fixtures/multimodal/inputs.ts fixtureTextModel()',
      mmproj: fixtureMmprojOptions,
      prompt: c.prompt,
      media: c.media,
      mediaRows: rows,
      nPredict: c.nPredict,
      args: args.map((a) => a.replace(dir, '$DIR')),
      /** The projector output of the last media item, as llama.cpp's clip computed it (bit-exact check). */
      lastMediaEmbeddings,
      continuation,
      continuationHex: Buffer.from(bytes).toString('hex'),
    };
    writeFileSync(join(values.out!, `${c.name}.json`), `${JSON.stringify(fixture, null, 2)}\n`);
    console.log(`${c.name}: rows ${rows.join('+')}, ${JSON.stringify(continuation)}`);
  }
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
