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

function busy(engine: Engine): boolean {
  const s = engine.stats();
  return s.active > 0 || s.queued > 0;
}

async function untilIdle(model: ServedModel): Promise<void> {
  const engine = await model.whenReady().catch(() => null);
  if (!engine) return;
  // Idle must be seen twice a poll apart: after the last job finishes, the step loop still has one turn of the
  // event loop to take (a timer queued before ours), and it must not lose its context in between.
  for (;;) {
    while (busy(engine)) await sleep(pollMs);
    await sleep(pollMs);
    if (!busy(engine)) return;
  }
}

export function holdContextUntilIdle(ctx: ExecutionContext | undefined, model: ServedModel): void {
  ctx?.waitUntil(untilIdle(model));
}
