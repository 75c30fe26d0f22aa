/**
 * Node and Deno: compile the core's .wasm file (wasm/hearth-<build>.wasm next to src/) into a WebAssembly.Module
 * once at start-up. Hosts without a file system (workerd) import the module through their bundle instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type CoreBuild, detectCoreBuild } from './core.ts';
import { CoreError } from './types.ts';

export function coreWasmUrl(build: CoreBuild): URL {
  // bundled (dist/cli.js, dist/index.js): scripts/build.js copies the cores beside the bundle; from source: wasm/
  const beside = new URL(`./hearth-${build}.wasm`, import.meta.url);
  return existsSync(beside) ? beside : new URL(`../../wasm/hearth-${build}.wasm`, import.meta.url);
}

export function readNodeCoreModule(build: CoreBuild = detectCoreBuild()): WebAssembly.Module {
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
