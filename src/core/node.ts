/**
 * Node and Deno: compile the core's .wasm file (wasm/hearth-<build>.wasm next to src/) into a WebAssembly.Module
 * once at start-up. Hosts without a file system (workerd) import the module through their bundle instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { Core, type CoreBuild, detectCoreBuild } from './core.ts';
import { CoreError } from './types.ts';

export function coreWasmUrl(build: CoreBuild): URL {
  // bundled (dist/cli.js, dist/index.js): scripts/build.js copies the cores beside the bundle; from source: wasm/
  const beside = new URL(`./hearth-${build}.wasm`, import.meta.url);
  return existsSync(beside) ? beside : new URL(`../../wasm/hearth-${build}.wasm`, import.meta.url);
}

/**
 * The build to run here: HEARTH_CORE_BUILD (baseline | relaxed) when set, else relaxed where the runtime has it. Node
 * 20 has relaxed SIMD behind --experimental-wasm-relaxed-simd, which V8 reads when a module compiles, so it is
 * switched on here. That V8 computes i32x4.relaxed_dot_i8x16_i7x16_add wrong (research/runtimes.md Q1); the core
 * does not use that op, and the ones it uses are checked on this machine (hearth_relaxed_selftest, and the core's own
 * fused-multiply-add probe) before the relaxed build is taken. Measured on Node 20: Q4_0 matvec 3.5 -> 5.7 GB/s.
 */
export function nodeCoreBuild(): CoreBuild {
  const forced = process.env.HEARTH_CORE_BUILD;
  if (forced === 'baseline' || forced === 'relaxed') return forced;
  if (forced) throw new CoreError(`HEARTH_CORE_BUILD must be 'baseline' or 'relaxed' (got '${forced}')`);
  const detected = detectCoreBuild();
  if (detected === 'relaxed' || !process.versions.node) return detected;
  cachedNodeBuild ??= probeRelaxed();
  return cachedNodeBuild;
}

let cachedNodeBuild: CoreBuild | undefined;

function probeRelaxed(): CoreBuild {
  try {
    const core = new Core(compile('relaxed'));
    return core.exports.hearth_relaxed_selftest() === 1 ? 'relaxed' : 'baseline';
  } catch {
    return 'baseline';
  }
}

export function readNodeCoreModule(build: CoreBuild = nodeCoreBuild()): WebAssembly.Module {
  return compile(build);
}

function compile(build: CoreBuild): WebAssembly.Module {
  // where relaxed SIMD is not on by default (Node), the flag must be set before the module compiles
  if (build === 'relaxed' && detectCoreBuild() === 'baseline') setFlagsFromString('--experimental-wasm-relaxed-simd');
  const url = coreWasmUrl(build);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(url));
  } catch (e) {
    throw new CoreError(`cannot read the ${build} core at ${url.pathname}: ${(e as Error).message} (run scripts/build-wasm.sh)`);
  }
  try {
    return new WebAssembly.Module(bytes);
  } catch (e) {
    throw new CoreError(`the ${build} core does not compile on this runtime: ${(e as Error).message}`);
  }
}
