/**
 * The thread pool executor (Node worker_threads, Deno Web Workers): every worker instantiates the same precompiled
 * core over the same shared memory, with a stack of its own, and waits on a control block in that memory. An op is
 * published there (op, args, thread count, a new generation number); each thread — the caller included — runs
 * hearth_run(op, args, ith, nth) on its share of rows, and the caller waits until all have reported.
 *
 * Waiting spins briefly and then sleeps in Atomics.wait: ops follow each other within microseconds during a
 * forward, so a short spin catches the next one without a wake-up (~20–30 µs here), while pure spinning collapses
 * when the CPU is shared (research/runtimes.md Q4). Kernels split rows so that per-row math is the same whatever the
 * thread count: results never depend on it.
 */
import type { Core } from './core.ts';
import type { Executor } from './executor.ts';
import { CoreError, Op, STACK_BYTES } from './types.ts';

// control block fields (int32 slots)
const GEN = 0;
const OP = 1;
const ARGS = 2;
const NTH = 3;
const DONE = 4;
const QUIT = 5;
const CTRL_INTS = 16;

const SPIN = 20000;

/** Every op is split: the kernels divide their own work by ith/nth, and leaving the small ops on the calling thread
 * (norms, rope, gating, quantizing activations) cost ~10% of the 2-thread speed-up on a 1B model. */
const parallelOps = new Set<number>([Op.MATMUL, Op.ATTENTION, Op.GET_ROWS, Op.QUANTIZE_ACT, Op.RMS_NORM, Op.ROPE, Op.KV_STORE, Op.SILU_MUL, Op.GELU_MUL, Op.ADD, Op.MUL, Op.SCALE, Op.SOFTCAP]);

/** The worker's whole program. It imports nothing, so it runs from a string on Node (eval) and Deno (blob URL). */
const workerSource = `
const start = ({ module, memory, ctrl, ith, stackTop }) => {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const ex = instance.exports;
  ex.__stack_pointer.value = stackTop;
  const c = new Int32Array(memory.buffer, ctrl, ${CTRL_INTS});
  let seen = Atomics.load(c, ${GEN});
  return () => {
    for (;;) {
      let spins = 0;
      while (Atomics.load(c, ${GEN}) === seen) {
        if (++spins > ${SPIN}) { Atomics.wait(c, ${GEN}, seen); spins = 0; }
      }
      seen = Atomics.load(c, ${GEN});
      if (Atomics.load(c, ${QUIT})) return;
      const nth = c[${NTH}];
      if (ith < nth) ex.hearth_run(c[${OP}], c[${ARGS}], ith, nth);
      if (Atomics.add(c, ${DONE}, 1) === nth - 2) Atomics.notify(c, ${DONE});
    }
  };
};
`;

interface WorkerHandle {
  terminate(): unknown;
}

export class PoolExecutor implements Executor {
  private readonly ctrl: Int32Array;
  private closed = false;

  private constructor(
    private readonly core: Core,
    readonly threads: number,
    ctrlPtr: number,
    private readonly workers: WorkerHandle[],
  ) {
    this.ctrl = core.i32(ctrlPtr, CTRL_INTS);
  }

  /** Start threads − 1 workers (the calling thread is the first). Node and Deno only. */
  static async create(core: Core, threads: number): Promise<PoolExecutor> {
    if (!Number.isInteger(threads) || threads < 2) throw new CoreError(`a pool needs at least 2 threads (got ${threads})`);
    const ctrlPtr = core.alloc(CTRL_INTS * 4, 64);
    core.i32(ctrlPtr, CTRL_INTS).fill(0);
    const workers: WorkerHandle[] = [];
    const ready: Promise<void>[] = [];
    try {
      for (let ith = 1; ith < threads; ith++) {
        const stackTop = core.allocStack(STACK_BYTES);
        const data = { module: core.module, memory: core.memory, ctrl: ctrlPtr, ith, stackTop };
        const { worker, started } = await spawn(data);
        workers.push(worker);
        ready.push(started);
      }
      await Promise.all(ready);
    } catch (err) {
      for (const w of workers) w.terminate();
      throw new CoreError(`starting ${threads - 1} worker threads failed: ${(err as Error).message}`);
    }
    return new PoolExecutor(core, threads, ctrlPtr, workers);
  }

  run(op: number, argsPtr: number, serial = false): void {
    if (this.closed) throw new CoreError('the thread pool is closed');
    const ex = this.core.exports;
    if (serial || !parallelOps.has(op)) {
      ex.hearth_run(op, argsPtr, 0, 1);
      return;
    }
    const c = this.ctrl;
    const nth = this.threads;
    c[OP] = op;
    c[ARGS] = argsPtr;
    c[NTH] = nth;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    ex.hearth_run(op, argsPtr, 0, nth);
    let spins = 0;
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done >= nth - 1) return;
      if (++spins > SPIN) {
        Atomics.wait(c, DONE, done, 50);
        spins = 0;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, QUIT, 1);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  ith: number;
  stackTop: number;
}

/** One worker on whichever threading API the host has. */
async function spawn(data: WorkerData): Promise<{ worker: WorkerHandle; started: Promise<void> }> {
  const g = globalThis as { Deno?: unknown; Worker?: new (url: string, o: object) => WebWorker; process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node && !g.Deno) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(
      `${workerSource}
const { parentPort, workerData } = require('node:worker_threads');
const loop = start(workerData);
parentPort.postMessage('ready');
loop();`,
      { eval: true, workerData: data },
    );
    worker.unref();
    const started = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return { worker, started };
  }
  if (g.Worker) {
    const code = `${workerSource}
self.onmessage = (e) => { const loop = start(e.data); self.postMessage('ready'); loop(); };`;
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const worker = new g.Worker(url, { type: 'module' });
    const started = new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (e: unknown) => reject(new Error(String((e as { message?: string }).message ?? e)));
    });
    worker.postMessage(data);
    return { worker, started };
  }
  throw new CoreError('this host has no threads (no Worker): use the inline executor');
}

interface WebWorker extends WorkerHandle {
  postMessage(data: unknown): void;
  onmessage: ((e: unknown) => void) | null;
  onerror: ((e: unknown) => void) | null;
}

/** Whether this host can run a pool (workerd cannot: no Worker, and Atomics.wait throws). */
export function hostHasThreads(): boolean {
  const g = globalThis as { Deno?: unknown; Worker?: unknown; process?: { versions?: { node?: string } }; navigator?: { userAgent?: string } };
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return false;
  return Boolean(g.process?.versions?.node || (g.Deno && g.Worker));
}
