/**
 * One wasm core over one shared memory: picks the build for the runtime, creates the memory, instantiates the
 * precompiled module, and hands out memory with a bump allocator (grow once up front with reserve(), then alloc()).
 * Nothing here reads files: the host passes a WebAssembly.Module (src/core/node.ts does it on Node and Deno).
 */
import { ABI_VERSION, CoreError, STACK_BYTES } from './types.ts';

export type CoreBuild = 'baseline' | 'relaxed';

export interface CoreExports {
  hearth_abi_version(): number;
  hearth_act_row_bytes(wtype: number, k: number): number;
  hearth_attention_scratch_bytes(nCells: number, headDimK: number, headDimV: number): number;
  hearth_run(op: number, args: number, ith: number, nth: number): void;
  hearth_run_ref(op: number, args: number, ith: number, nth: number): void;
  /** 1 when the relaxed build's integer dot is exact on this runtime (0 in the baseline build). */
  hearth_relaxed_selftest(): number;
  /** Code-shape choices for this JS engine (hearth.h, HEARTH_TUNE_*); never change a result. */
  hearth_tune(flags: number): void;
  /** Fill the core's tables (GELU's); once per memory, before any op. */
  hearth_init(): void;
  /** Rewrite a Q4_0 matrix in place as Q4_0_X4 (core/repack.ts); 0 when k is out of range (nothing done). */
  hearth_interleave_q4_0(w: number, k: number, nRows: number): number;
  __heap_base: WebAssembly.Global;
  __stack_pointer: WebAssembly.Global;
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Pages the module's static data and first stack need (it asks for less; tests check __heap_base fits). */
const MIN_PAGES = 32;

/**
 * The build for this runtime, as far as it can be told without compiling anything: Deno and workerd (and wrangler
 * dev) have relaxed SIMD; elsewhere the baseline. On Node, src/core/node.ts goes further (relaxed SIMD behind a flag).
 */
export function detectCoreBuild(): CoreBuild {
  const g = globalThis as { Deno?: unknown; navigator?: { userAgent?: string }; process?: { versions?: { node?: string } } };
  if (g.Deno !== undefined) return 'relaxed';
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'relaxed';
  return 'baseline';
}

/** Instantiate the module over a memory. stackTop: the top of this instance's own stack region (every instance
 * after the first over one memory needs one; see hearth.h). */
export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory, stackTop?: number): CoreExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const exports = instance.exports as unknown as CoreExports;
  if (typeof exports.hearth_run !== 'function' || typeof exports.hearth_abi_version !== 'function') {
    throw new CoreError('the wasm module is not a hearth core (hearth_run missing)');
  }
  const version = exports.hearth_abi_version();
  if (version !== ABI_VERSION) throw new CoreError(`hearth core ABI ${version}, this code expects ${ABI_VERSION}`);
  if (stackTop !== undefined) {
    if (stackTop % 16) throw new CoreError('stack top must be 16-byte aligned');
    exports.__stack_pointer.value = stackTop;
  }
  return exports;
}

export interface CoreOptions {
  /** Bytes of memory to start with (above the core's own static data and stack). Default 1 MiB. */
  initialBytes?: number;
}

/** hearth.h HEARTH_TUNE_* */
export const TUNE_Q4_0_ONE_BLOCK = 1;
export const TUNE_PIN = 2;

/**
 * The core's code shapes for this JS engine, by V8 version: Node 20's V8 (11.3) runs the 1-column Q4_0 tile faster
 * one block per iteration and the Q8_0 / K-quant matvecs faster with their blocks pinned; Deno 2.9's (15.0) the
 * other way round (hearth.h, matmul_q.c have the figures). A runtime that does not say (workerd) has a new V8.
 */
export function tuneFlags(): number {
  const g = globalThis as { Deno?: { version?: { v8?: string } }; process?: { versions?: { v8?: string } } };
  const major = Number((g.Deno?.version?.v8 ?? g.process?.versions?.v8 ?? '').split('.')[0]);
  return major > 0 && major < 12 ? TUNE_Q4_0_ONE_BLOCK | TUNE_PIN : 0;
}

export class Core {
  readonly memory: WebAssembly.Memory;
  readonly exports: CoreExports;
  /** First byte the allocator may hand out. */
  readonly heapBase: number;
  private top: number;

  constructor(
    readonly module: WebAssembly.Module,
    options: CoreOptions = {},
  ) {
    const pages = Math.max(MIN_PAGES, Math.ceil(((options.initialBytes ?? 1 << 20) + MIN_PAGES * PAGE) / PAGE));
    if (pages > MAX_PAGES) throw new CoreError(`initial memory of ${options.initialBytes} bytes exceeds the 4 GiB of a wasm32 memory`);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
    this.exports = instantiateCore(module, this.memory);
    this.exports.hearth_init();
    this.exports.hearth_tune(tuneFlags());
    this.heapBase = this.exports.__heap_base.value as number;
    if (this.heapBase > MIN_PAGES * PAGE) throw new CoreError(`core static data ends at ${this.heapBase}, above the ${MIN_PAGES} pages reserved for it`);
    this.top = align(this.heapBase, 64);
  }

  /** Bytes currently handed out (the bump pointer). */
  get used(): number {
    return this.top;
  }

  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /** Make sure `bytes` more can be allocated without growing again (one grow: page faults dominate load time). */
  reserve(bytes: number): void {
    const need = this.top + bytes;
    const have = this.memory.buffer.byteLength;
    if (need <= have) return;
    const pages = Math.ceil((need - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) throw new CoreError(`cannot reserve ${bytes} bytes: a wasm32 memory holds at most 4 GiB (${this.top} in use)`);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new CoreError(`growing the core memory by ${pages * PAGE} bytes failed: ${(e as Error).message}`);
    }
  }

  /** `bytes` of memory aligned to `alignment` (a power of two, default 64: one cache line, room for any v128 load). */
  alloc(bytes: number, alignment = 64): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new CoreError(`bad allocation size ${bytes}`);
    const ptr = align(this.top, alignment);
    this.reserve(ptr + bytes - this.top);
    this.top = ptr + bytes;
    return ptr;
  }

  /** A new instance over this memory with its own stack (for a pool worker on another thread, pass the module and
   * memory there and call instantiateCore with the stack top). */
  allocStack(bytes = STACK_BYTES): number {
    return this.alloc(bytes, 16) + bytes;
  }

  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
  u16(ptr: number, n: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, ptr, n);
  }
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
  u32(ptr: number, n: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, n);
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
}

function align(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
