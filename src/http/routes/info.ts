/** GET /health, /v1/models, /v1/models/:id, /metrics. */
import type { Hono } from 'hono';
import type { AppContext, Serving } from '../app.ts';
import { ApiError } from '../errors.ts';
import { renderMetrics } from '../metrics.ts';

export function infoRoutes(app: Hono, ctx: AppContext): void {
  app.get('/health', (c) => {
    const state = ctx.model.state();
    if (state.status === 'ready') return c.json({ status: 'ready', model: state.engine.info.id });
    if (state.status === 'failed') {
      const err = new ApiError(500, `The model failed to load: ${state.error.message}`, 'model_load_failed');
      return c.json({ status: 'failed', ...err.body() }, 500);
    }
    const p = state.progress;
    const err = new ApiError(503, 'The model is loading.', 'model_loading', null, 1);
    c.header('retry-after', '1');
    return c.json(
      {
        status: 'loading',
        progress: {
          phase: p?.phase ?? 'header',
          loaded_bytes: p?.loadedBytes ?? 0,
          total_bytes: p?.totalBytes ?? 0,
          fraction: p && p.totalBytes > 0 ? p.loadedBytes / p.totalBytes : 0,
        },
        ...err.body(),
      },
      503,
    );
  });

  app.get('/v1/models', async (c) => {
    const serving = await ctx.serving();
    return c.json({ object: 'list', data: [modelCard(serving)] });
  });

  app.get('/v1/models/:id', async (c) => {
    const serving = await ctx.serving();
    checkModel(c.req.param('id'), serving);
    return c.json(modelCard(serving));
  });

  app.get('/metrics', (c) => {
    const state = ctx.model.state();
    const stats = state.status === 'ready' ? state.engine.stats() : null;
    return c.body(renderMetrics(ctx.requests, state, stats), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    });
  });
}

function modelCard({ engine, template, created }: Serving) {
  const info = engine.info;
  const stats = engine.stats();
  return {
    id: info.id,
    object: 'model' as const,
    created,
    owned_by: 'hearth',
    hearth: {
      architecture: info.arch,
      name: info.name,
      parameters: info.parameters,
      weight_bytes: info.weightBytes,
      vocab_size: info.vocabSize,
      context_trained: info.trainedContext,
      context_per_slot: stats.contextPerSlot,
      slots: stats.slots,
      chat_template: template.description,
    },
  };
}

/** Model names are ids matched against the one served model, never used to find a file. */
export function checkModel(requested: string | null | undefined, serving: Serving): void {
  if (requested == null || requested === serving.engine.info.id) return;
  throw new ApiError(
    404,
    `The model '${requested}' does not exist. This server serves '${serving.engine.info.id}'.`,
    'model_not_found',
    'model',
  );
}
