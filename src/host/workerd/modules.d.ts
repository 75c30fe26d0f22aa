/**
 * Module imports the bundle leaves to its host (esbuild marks them external): workerd's config and wrangler turn a
 * `.wasm` import into a compiled WebAssembly.Module and a `.gguf` import into an ArrayBuffer (a data module).
 */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '*.gguf' {
  const bytes: ArrayBuffer;
  export default bytes;
}
declare module 'cloudflare:workers' {
  export const WorkerEntrypoint: unknown;
}
