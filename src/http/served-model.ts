/**
 * The model the server answers with, through its life: loading (with byte progress for /health), ready, or failed.
 * Hosts that can only start loading inside a request (workerd: bindings arrive with the first request) create it
 * then; API requests that arrive while it loads wait for it, /health answers at once.
 */
import type { Engine, LoadProgress } from '../engine/api.ts';

export type ModelState =
  | { status: 'loading'; progress: LoadProgress | null }
  | { status: 'ready'; engine: Engine }
  | { status: 'failed'; error: Error };

export class ServedModel {
  private current: ModelState;
  private readonly ready: Promise<Engine>;

  private constructor(start: (onProgress: (p: LoadProgress) => void) => Promise<Engine>) {
    this.current = { status: 'loading', progress: null };
    this.ready = start((progress) => {
      if (this.current.status === 'loading') this.current = { status: 'loading', progress };
    }).then(
      (engine) => {
        this.current = { status: 'ready', engine };
        return engine;
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        this.current = { status: 'failed', error };
        throw error;
      },
    );
    // a failed load is reported through state(); don't let it surface as an unhandled rejection as well
    this.ready.catch(() => {});
  }

  /** Start loading now; `start` reports progress through its callback. */
  static load(start: (onProgress: (p: LoadProgress) => void) => Promise<Engine>): ServedModel {
    return new ServedModel(start);
  }

  static of(engine: Engine): ServedModel {
    const model = new ServedModel(async () => engine);
    model.current = { status: 'ready', engine };
    return model;
  }

  state(): ModelState {
    return this.current;
  }

  /** Resolves when the engine is ready; rejects with the load error. */
  whenReady(): Promise<Engine> {
    return this.ready;
  }
}
