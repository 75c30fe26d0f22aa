/**
 * The HTTP app: one Hono app per served model, the same on every host (workerd, wrangler dev, Deno, Node).
 * Middleware order: count (metrics) → CORS → API key → routes; every error leaves in OpenAI's shape.
 */
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { routePath } from 'hono/route';
import type { Engine } from '../engine/api.ts';
import { ChatTemplate } from './chat-template.ts';
import { defaultServerConfig, type ServerConfig } from './config.ts';
import { ApiError, errorResponse, toApiError } from './errors.ts';
import { RequestCounter } from './metrics.ts';
import { chatRoutes } from './routes/chat.ts';
import { completionRoutes } from './routes/completions.ts';
import { infoRoutes } from './routes/info.ts';
import { playgroundRoutes } from './routes/playground.ts';
import { tokenizeRoutes } from './routes/tokenize.ts';
import { transcriptionRoutes } from './routes/transcriptions.ts';
import type { MediaLimits } from './media.ts';
import { ServedModel } from './served-model.ts';

/** What routes get once the model is ready. */
export interface Serving {
  engine: Engine;
  template: ChatTemplate;
  /** Unix seconds the model became ready (`created` in /v1/models). */
  created: number;
}

export interface AppContext {
  model: ServedModel;
  config: ServerConfig;
  /** config.media, the limits media parts are held to. */
  media: MediaLimits;
  requests: RequestCounter;
  /** The ready model, waiting up to config.loadWaitMs while it loads (then 503 with Retry-After). */
  serving(): Promise<Serving>;
}

export type HearthApp = Hono;

export function createApp(model: Engine | ServedModel, config: Partial<ServerConfig> = {}): HearthApp {
  const served = model instanceof ServedModel ? model : ServedModel.of(model);
  const settings: ServerConfig = { ...defaultServerConfig, ...config };
  const ctx: AppContext = {
    model: served,
    config: settings,
    media: settings.media,
    requests: new RequestCounter(),
    serving: servingOnce(served, settings.loadWaitMs),
  };

  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    const route = routePath(c, -1);
    ctx.requests.count(c.req.method, route === '*' || route === '/*' ? 'unmatched' : route, c.res.status);
  });
  if (settings.corsOrigins) {
    const origins = settings.corsOrigins;
    app.use(
      '*',
      cors({
        origin: origins.includes('*') ? '*' : origins,
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type'],
        maxAge: 600,
      }),
    );
  }
  // the playground page and its assets hold no secret: mounted before the key check, the page asks for the key
  playgroundRoutes(app);
  if (settings.apiKey) app.use('*', apiKeyCheck(settings.apiKey));

  infoRoutes(app, ctx);
  chatRoutes(app, ctx);
  completionRoutes(app, ctx);
  tokenizeRoutes(app, ctx);
  transcriptionRoutes(app, ctx);

  app.notFound((c) =>
    errorResponse(
      new ApiError(404, `Unknown request URL: ${c.req.method} ${new URL(c.req.url).pathname}.`, 'unknown_url'),
    ),
  );
  app.onError((err, c) => {
    const apiError = toApiError(err);
    if (apiError.status === 500) console.error(`hearth: ${c.req.method} ${c.req.path}:`, err);
    return errorResponse(apiError);
  });
  return app;
}

function servingOnce(model: ServedModel, loadWaitMs: number): () => Promise<Serving> {
  let serving: Serving | null = null;
  return async () => {
    if (serving) return serving;
    const state = model.state();
    let engine: Engine;
    if (state.status === 'ready') engine = state.engine;
    else if (state.status === 'failed') throw modelFailed(state.error);
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waited = await Promise.race([
        model.whenReady().catch((err: Error) => err),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), loadWaitMs))),
      ]);
      clearTimeout(timer);
      if (waited === null) throw modelLoading(model);
      if (waited instanceof Error) throw modelFailed(waited);
      engine = waited;
    }
    serving ??= { engine, template: templateFor(engine), created: Math.floor(Date.now() / 1000) };
    return serving;
  };
}

/** The model's chat template, told whether the tokenizer adds BOS / EOS itself (so a template's copy is dropped). */
function templateFor(engine: Engine): ChatTemplate {
  const specials = engine.tokenize('', { addSpecial: true });
  const bos = specialId(engine, engine.info.bosToken);
  const eos = specialId(engine, engine.info.eosToken);
  return new ChatTemplate(
    engine.info,
    bos !== undefined && specials[0] === bos,
    eos !== undefined && specials.length > 0 && specials[specials.length - 1] === eos,
  );
}

/** The id of a special token given by its text, when the tokenizer reads that text as one token. */
function specialId(engine: Engine, text: string | null): number | undefined {
  if (!text) return undefined;
  const ids = engine.tokenize(text, { addSpecial: false, parseSpecial: true });
  return ids.length === 1 ? ids[0] : undefined;
}

function modelLoading(model: ServedModel): ApiError {
  const state = model.state();
  const p = state.status === 'loading' ? state.progress : null;
  const pct = p && p.totalBytes > 0 ? ` (${Math.floor((100 * p.loadedBytes) / p.totalBytes)}% loaded)` : '';
  return new ApiError(503, `The model is still loading${pct}; retry shortly.`, 'model_loading', null, 1);
}

function modelFailed(error: Error): ApiError {
  return new ApiError(500, `The model failed to load: ${error.message}`, 'model_load_failed');
}

/** Bearer key check in constant time (a timing side channel would leak the key byte by byte). */
function apiKeyCheck(apiKey: string) {
  const expected = new TextEncoder().encode(apiKey);
  return async (c: Context, next: () => Promise<void>) => {
    if (c.req.path === '/health' || c.req.method === 'OPTIONS') return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) {
      return errorResponse(
        new ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", 'missing_api_key'),
      );
    }
    const given = new TextEncoder().encode(match[1].trim());
    let diff = given.length ^ expected.length;
    for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ (given[i % Math.max(1, given.length)] ?? 0);
    if (diff !== 0) return errorResponse(new ApiError(401, 'Incorrect API key provided.', 'invalid_api_key'));
    return next();
  };
}
