/** The wasm core: memory, instantiation, executors, ops. */
export { Core, type CoreBuild, type CoreExports, type CoreOptions, detectCoreBuild, instantiateCore, TUNE_PIN, TUNE_Q4_0_ONE_BLOCK, tuneFlags } from './core.ts';
export { type Executor, InlineExecutor } from './executor.ts';
export { type AttentionArgs, CoreOps } from './ops.ts';
export { loadedType } from './repack.ts';
export * from './types.ts';
