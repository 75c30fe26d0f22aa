/**
 * The bundle entry (dist/worker.js): one ES module for self-hosted workerd, `wrangler dev` and `deno serve`.
 *
 *  - `export default { fetch }` serves the OpenAI-compatible app.
 *  - `export class Hearth` is a WorkerEntrypoint: another worker bound to it calls `chat`, `complete`, `tokenize`,
 *    `detokenize`, `models` over RPC, without HTTP.
 *
 * Where the model comes from (first match): `HEARTH_MODEL`, a file name in the `MODELS` disk-directory binding (workerd),
 * `MODEL_URL` (any host; ranged GETs), `HEARTH_MODEL` as a file path (Deno), else the embedded default model,
 * hearth-nano (`hearth-nano*.gguf` beside the bundle: data modules on workerd / wrangler, files read on Deno: the
 * model, its projector and its MTP assistant). A projector for a configured model comes the same way from
 * `HEARTH_MMPROJ` / `MMPROJ_URL`.
 * Loading starts with the first request (workerd hands bindings to requests only) and runs once per isolate.
 */
import type { Engine } from './engine/api.ts';
import { bufferSource, type ModelSource } from './engine/gguf/source.ts';
import { denoFileSource } from './host/deno/file-source.ts';
import { rangedSource } from './host/ranged-source.ts';
import { startEngine } from './host/start.ts';
import { holdContextUntilIdle } from './host/workerd/keep-alive.ts';
import { isFetcher, workerEntrypointClass, type ExecutionContext } from './host/workerd/runtime.ts';
import { createApp, type HearthApp } from './http/app.ts';
import { configFromEnv } from './http/config.ts';
import { ApiError, errorResponse } from './http/errors.ts';
import { ServedModel } from './http/served-model.ts';

type Env = Record<string, unknown>;

interface DenoGlobal {
  readFile(path: URL | string): Promise<Uint8Array<ArrayBuffer>>;
  env: { toObject(): Record<string, string> };
  open: Parameters<typeof denoFileSource>[0]['open'];
  stat: Parameters<typeof denoFileSource>[0]['stat'];
}

const deno = (globalThis as { Deno?: DenoGlobal }).Deno;

/**
 * The core, precompiled once at startup, relaxed-SIMD build (DESIGN §2: workerd, wrangler and Deno compute it
 * right). workerd and wrangler compile a `.wasm` module import themselves; Deno would instantiate a wasm import as
 * an ES module (and our core imports its memory), so there the bytes are read and compiled here, at top level.
 */
const core: WebAssembly.Module = deno
  ? new WebAssembly.Module(await readBesideBundle(deno, './hearth-relaxed.wasm'))
  : (await import('./hearth-relaxed.wasm')).default;

async function readBesideBundle(d: DenoGlobal, file: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(file, import.meta.url);
  try {
    return await d.readFile(url);
  } catch (err) {
    throw new Error(`hearth: cannot read ${url.pathname} (run deno with --allow-read): ${(err as Error).message}`);
  }
}

/** hearth-nano, embedded beside the bundle: the model, its projector and its MTP assistant. */
async function embedded(file: 'hearth-nano.gguf' | 'hearth-nano-mmproj.gguf' | 'hearth-nano-assistant.gguf'): Promise<ModelSource> {
  if (deno) return bufferSource(await readBesideBundle(deno, `./${file}`), file);
  // literal specifiers, so bundlers (wrangler's esbuild) see each data module
  const module =
    file === 'hearth-nano.gguf'
      ? await import('./hearth-nano.gguf')
      : file === 'hearth-nano-mmproj.gguf'
        ? await import('./hearth-nano-mmproj.gguf')
        : await import('./hearth-nano-assistant.gguf');
  return bufferSource(new Uint8Array(module.default), file);
}

function text(env: Env, name: string): string | null {
  const v = env[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/** A file named by `fileVar` (disk binding or Deno path) or fetched from `urlVar`; null when neither is set. */
function configuredSource(env: Env, fileVar: string, urlVar: string): Promise<ModelSource> | null {
  const file = text(env, fileVar);
  const url = text(env, urlVar);
  const disk = env.MODELS;
  if (file && isFetcher(disk)) {
    // the name is configuration, never request input; each path segment is escaped all the same
    const path = file.split('/').map(encodeURIComponent).join('/');
    return Promise.resolve(rangedSource(file.replace(/^.*\//, ''), (range) => disk.fetch(`http://models/${path}`, { headers: { range } })));
  }
  if (url) {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^.*\//, '')) || 'model.gguf';
    return Promise.resolve(rangedSource(name, (range) => fetch(url, { headers: { range } })));
  }
  if (file && deno) return denoFileSource(deno, file);
  if (file) throw new Error(`${fileVar} is set to '${file}' but there is no MODELS disk binding to read it from`);
  return null;
}

/** The model and what goes with it: configured ones (the projector from HEARTH_MMPROJ / MMPROJ_URL), or hearth-nano's. */
async function sources(env: Env): Promise<{ model: ModelSource; mmproj?: ModelSource; draft?: ModelSource }> {
  const model = await configuredSource(env, 'HEARTH_MODEL', 'MODEL_URL');
  const mmproj = (await configuredSource(env, 'HEARTH_MMPROJ', 'MMPROJ_URL')) ?? undefined;
  if (model) return { model, mmproj };
  return {
    model: await embedded('hearth-nano.gguf'),
    mmproj: mmproj ?? (await embedded('hearth-nano-mmproj.gguf')),
    draft: await embedded('hearth-nano-assistant.gguf'),
  };
}

/** Deno passes connection info, not bindings, as fetch's second argument: its settings come from Deno.env. */
function hostEnv(env: unknown): Env {
  if (!deno) return (env ?? {}) as Env;
  try {
    return deno.env.toObject();
  } catch {
    return {}; // no --allow-env: defaults
  }
}

interface Served {
  app: HearthApp;
  model: ServedModel;
  apiKey: string | null;
}

let served: Served | null = null;

function servedFor(env: Env): Served {
  if (served) return served;
  const { server, engine } = configFromEnv(env);
  // workerd has one JS thread and no Worker; Deno may use a pool
  if (!deno) engine.threads = 1;
  const model = ServedModel.load(async (onProgress) => {
    const { model: source, mmproj, draft } = await sources(env);
    return startEngine(source, core, engine, { onProgress, mmproj, draft });
  });
  model.whenReady().then(
    (e: Engine) => console.log(`hearth: serving ${e.info.id} (${e.info.arch}, ${e.stats().slots} slots)`),
    (err: Error) => console.error(`hearth: model failed to load: ${err.message}`),
  );
  served = { app: createApp(model, server), model, apiKey: server.apiKey };
  return served;
}

export default {
  async fetch(request: Request, env: unknown, ctx?: ExecutionContext): Promise<Response> {
    let hearth: Served;
    try {
      hearth = servedFor(hostEnv(env));
    } catch (err) {
      return errorResponse(new ApiError(500, `hearth is misconfigured: ${(err as Error).message}`, 'config_error'));
    }
    const response = await hearth.app.fetch(request);
    // held from here, not before: a check made before the route submits its generation sees an idle engine and
    // lets go at once, and a request answered whole would then take the step loop's last pending turn with it
    holdContextUntilIdle(ctx, hearth.model);
    return response;
  },
};

const WorkerEntrypoint = await workerEntrypointClass();

/** Thrown to RPC callers; workerd carries the message across. */
export class HearthRpcError extends Error {
  override name = 'HearthRpcError';
}

/**
 * RPC for pipelines: `env.HEARTH.chat({ messages, ... })` takes the same body as POST /v1/chat/completions and
 * returns the same object, or with `stream: true` a ReadableStream of the same SSE bytes.
 */
export class Hearth extends WorkerEntrypoint {
  chat(body: object): Promise<unknown> {
    return this.call('POST', '/v1/chat/completions', body);
  }
  complete(body: object): Promise<unknown> {
    return this.call('POST', '/v1/completions', body);
  }
  tokenize(body: object): Promise<unknown> {
    return this.call('POST', '/tokenize', body);
  }
  detokenize(body: object): Promise<unknown> {
    return this.call('POST', '/detokenize', body);
  }
  models(): Promise<unknown> {
    return this.call('GET', '/v1/models');
  }

  private async call(method: string, path: string, body?: object): Promise<unknown> {
    const { app, model, apiKey } = servedFor(hostEnv(this.env));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // the caller holds a service binding: it is inside the trust boundary the API key guards
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const response = await app.fetch(
      new Request(`http://hearth${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
    );
    holdContextUntilIdle(this.ctx, model); // after the call, as in fetch()
    if (!response.ok) {
      const err = (await response.json().catch(() => null)) as { error?: { message?: string; code?: string } } | null;
      throw new HearthRpcError(`${response.status} ${err?.error?.code ?? 'error'}: ${err?.error?.message ?? response.statusText}`);
    }
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) return response.body;
    return response.json();
  }
}
