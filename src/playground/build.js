/**
 * Builds the playground page into strings: the HTML shell, one JS bundle, one stylesheet and the icon, the asset
 * names carrying a content hash (so they can be cached for good while `/` itself is revalidated).
 *
 * Plain JS because scripts/build.js runs under bare Node: its esbuild plugin swaps src/playground/assets.ts for the
 * built strings, so every bundle (worker, CLI, library) carries the page with no file reads at run time. From
 * source (tsx: tests, dev) assets.ts calls buildPlayground() itself on first use.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Browsers from late 2021 on: all have MediaRecorder, OfflineAudioContext resampling and <dialog>. */
const browsers = ['es2020', 'chrome96', 'firefox98', 'safari15.4'];

function hashed(name, body) {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return name.replace(/\.(\w+)$/, `-${hash}.$1`);
}

/** @returns {Promise<import('./assets.ts').PlaygroundAssets>} */
export async function buildPlayground() {
  const esbuild = await import('esbuild');
  const common = { bundle: true, write: false, minify: true, legalComments: 'none', logLevel: 'silent', target: browsers };
  const [js, css] = await Promise.all([
    esbuild.build({ ...common, entryPoints: [join(here, 'main.ts')], format: 'esm', outfile: 'app.js' }),
    esbuild.build({ ...common, entryPoints: [join(here, 'style.css')], outfile: 'app.css' }),
  ]);
  const sources = {
    'app.js': { type: 'text/javascript; charset=utf-8', body: js.outputFiles[0].text },
    'app.css': { type: 'text/css; charset=utf-8', body: css.outputFiles[0].text },
    'icon.svg': { type: 'image/svg+xml', body: readFileSync(join(here, 'icon.svg'), 'utf8') },
  };
  const files = {};
  let html = readFileSync(join(here, 'index.html'), 'utf8');
  for (const [name, file] of Object.entries(sources)) {
    const served = hashed(name, file.body);
    files[served] = file;
    html = html.replaceAll(`{{${name}}}`, `/playground/${served}`);
  }
  const missing = /\{\{[^}]*\}\}/.exec(html);
  if (missing) throw new Error(`playground: index.html names an unknown asset ${missing[0]}`);
  return { html, files };
}

/** esbuild plugin for scripts/build.js: assets.ts becomes the built page, as a module of string constants. */
export function playgroundPlugin() {
  let built;
  return {
    name: 'hearth-playground',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]playground[\\/]assets\.ts$/ }, async () => {
        built ??= buildPlayground();
        const assets = await built;
        return { contents: `const assets = ${JSON.stringify(assets)};\nexport const playgroundAssets = async () => assets;\n`, loader: 'js' };
      });
    },
  };
}
