/**
 * The few workerd runtime objects the bundle touches, typed here so the bundle needs no Cloudflare type package.
 * They are reached only through dynamic imports and `env`, so the same bundle also runs under `deno serve`.
 */

/** A service binding (disk directory, another worker) or the global fetch behind one interface. */
export interface Fetcher {
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
}

export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

export type EntrypointClass = new (ctx: ExecutionContext, env: Record<string, unknown>) => {
  readonly ctx: ExecutionContext;
  readonly env: Record<string, unknown>;
};

/**
 * `WorkerEntrypoint` from `cloudflare:workers` on workerd and wrangler; elsewhere (Deno) a plain class with the same
 * constructor, so the RPC class still loads (it is simply never called there).
 */
export async function workerEntrypointClass(): Promise<EntrypointClass> {
  try {
    const mod = await import('cloudflare:workers');
    return mod.WorkerEntrypoint as unknown as EntrypointClass;
  } catch {
    return class {
      constructor(
        readonly ctx: ExecutionContext,
        readonly env: Record<string, unknown>,
      ) {}
    };
  }
}

export function isFetcher(value: unknown): value is Fetcher {
  return typeof value === 'object' && value !== null && typeof (value as Fetcher).fetch === 'function';
}
