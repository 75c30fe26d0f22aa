/**
 * workerd runs every callback inside some request's context, and drops a context's pending timers and promise
 * continuations once that request is done. The engine's step loop lives in whichever request started it, and the
 * model load in the first request. So each request that touches the engine holds its context open (waitUntil) until
 * the engine is idle: a loop started by a request that already answered keeps running for the others.
 */
import type { Engine } from '../../engine/api.ts';
import type { ServedModel } from '../../http/served-model.ts';
import type { ExecutionContext } from './runtime.ts';

const pollMs = 10;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function untilIdle(model: ServedModel): Promise<void> {
  const engine = await model.whenReady().catch(() => null);
  if (!engine) return;
  // `idle` turns true only once the step loop itself has stopped, so no context is released under a running loop
  while (!engine.stats().idle) await sleep(pollMs);
}

export function holdContextUntilIdle(ctx: ExecutionContext | undefined, model: ServedModel): void {
  ctx?.waitUntil(untilIdle(model));
}
