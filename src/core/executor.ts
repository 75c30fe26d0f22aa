/**
 * How an op reaches the kernels. The inline executor runs it on the calling thread; a pool executor (Node/Deno
 * workers over the same shared memory) runs hearth_run(op, args, ith, nth) on every thread and waits for all.
 */
import type { CoreExports } from './core.ts';

export interface Executor {
  /** Threads an op is split over (per-thread scratch is sized by it). */
  readonly threads: number;
  /** serial: run the op on the calling thread alone (its work does not split). */
  run(op: number, argsPtr: number, serial?: boolean): void;
}

export class InlineExecutor implements Executor {
  readonly threads = 1;
  /** ref: run the plain scalar twins (hearth_run_ref) instead of the SIMD kernels. */
  constructor(
    private readonly core: CoreExports,
    private readonly ref = false,
  ) {}

  run(op: number, argsPtr: number): void {
    if (this.ref) this.core.hearth_run_ref(op, argsPtr, 0, 1);
    else this.core.hearth_run(op, argsPtr, 0, 1);
  }
}
