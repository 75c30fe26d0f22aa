/**
 * `npm run build`: everything under dist/.
 *
 *   dist/worker.js             one ES module for workerd, `wrangler dev` and `deno serve` (src/worker.ts). npm
 *                              packages are bundled in; the core and the default model stay beside it as modules
 *                              the host provides (workerd config / wrangler: a compiled wasm module and a data
 *                              module; Deno: files read at startup).
 *   dist/hearth-relaxed.wasm   the core for workerd / wrangler / Deno (relaxed SIMD)
 *   dist/hearth-baseline.wasm  the core for Node 20 (its relaxed SIMD computes wrong)
 *   dist/hearth-nano*.gguf     the embedded default model, hearth-nano (models/: our own tiny Gemma-4-architecture
 *                              model, trained by `npm run train:nano`), with its mmproj and MTP assistant
 *   dist/cli.js                `hearth` for Node (bin/hearth.js imports it)
 *   dist/index.js              the library: `import { loadModel } from 'hearth'` on Node and Deno
 *
 * The playground page served at `/` (src/playground/) is built by its own esbuild step and inlined into each bundle.
 *
 * `node scripts/build.js [--outdir DIR]`; tests import `build({ outdir })`.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { playgroundPlugin } from '../src/playground/build.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The embedded default: hearth-nano, its projector and its MTP assistant (committed under models/). */
const defaultModelFiles = ['hearth-nano.gguf', 'hearth-nano-mmproj.gguf', 'hearth-nano-assistant.gguf'];

const cores = ['hearth-relaxed.wasm', 'hearth-baseline.wasm'];

export async function build({ outdir = join(root, 'dist'), quiet = false } = {}) {
  const log = quiet ? () => {} : (m) => console.log(m);
  mkdirSync(outdir, { recursive: true });

  for (const core of cores) {
    const from = join(root, 'wasm', core);
    if (!existsSync(from)) throw new Error(`build: ${from} is missing (npm run build:wasm builds it)`);
    copyFileSync(from, join(outdir, core));
  }

  for (const file of defaultModelFiles) {
    const from = join(root, 'models', file);
    if (!existsSync(from)) throw new Error(`build: ${from} is missing (npm run train:nano makes it)`);
    copyFileSync(from, join(outdir, file));
  }

  const common = {
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minifySyntax: true,
    legalComments: 'none',
    logLevel: quiet ? 'silent' : 'warning',
    absWorkingDir: root,
    // the playground page (src/playground/), built and inlined as strings wherever the app is bundled
    plugins: [playgroundPlugin()],
  };
  await esbuild.build({
    ...common,
    entryPoints: ['src/worker.ts'],
    outfile: join(outdir, 'worker.js'),
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['worker', 'import'],
    // resolved by the host at load time, relative to worker.js; node:worker_threads is only imported where the host
    // has threads (Deno serves it; workerd never reaches that import)
    external: ['*.wasm', '*.gguf', 'cloudflare:*', 'node:worker_threads'],
  });
  for (const [entry, out] of [
    ['src/cli/index.ts', 'cli.js'],
    ['src/index.ts', 'index.js'],
  ]) {
    await esbuild.build({
      ...common,
      entryPoints: [entry],
      outfile: join(outdir, out),
      platform: 'node',
      // dependencies come from node_modules at run time, as for any npm package
      packages: 'external',
    });
  }
  log(`build: ${outdir}: worker.js, cli.js, index.js, ${[...cores, ...defaultModelFiles].join(', ')}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const i = process.argv.indexOf('--outdir');
  build({ outdir: i > 0 ? resolve(process.argv[i + 1]) : undefined }).catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
