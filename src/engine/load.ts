/**
 * loadModel: GGUF header → architecture config → weights streamed from the source straight into wasm memory →
 * tokenizer. The whole file is never held in the JS heap.
 */
import type { LoadProgress, ModelInfo } from './api.ts';
import { GgufError } from './gguf/errors.ts';
import { readGguf, type GgufFile } from './gguf/reader.ts';
import type { ModelSource } from './gguf/source.ts';
import { createKernels, type Kernels } from './models/kernels.ts';
import { Gemma4Model, gemma4TensorNames, readGemma4Config } from './models/gemma4.ts';
import { LlamaModel, llamaTensorNames, readLlamaConfig } from './models/llama.ts';
import { ModelError, requireTensor, type ArchModel } from './models/model.ts';
import { ggmlType } from './gguf/types.ts';
import { createTokenizer, type Tokenizer } from './tokenizer/index.ts';

export interface LoadOptions {
  /** The core, compiled ahead (DESIGN §2: never compiled from bytes inside a request). */
  core: WebAssembly.Module;
  /** Worker threads for the kernels (1 = inline). */
  threads?: number;
  /** Most token columns per forward (prompt chunk size). */
  maxBatch?: number;
  onProgress?: (p: LoadProgress) => void;
  /** Model id to report; defaults to the source name without ".gguf". */
  id?: string;
}

export interface Model {
  readonly info: ModelInfo;
  readonly tokenizer: Tokenizer;
  readonly arch: ArchModel;
  readonly gguf: GgufFile;
  readonly kernels: Kernels;
  /** Milliseconds spent loading. */
  readonly loadMs: number;
  /** Stop the model's worker threads (the memory goes with the last reference). */
  close(): Promise<void>;
}

/** What the loader needs from an architecture: its config reader, the tensors it reads, and its model class. */
interface Architecture {
  /** Reads and validates the hyper-parameters; returns the tensors to place and how to build the model on them. */
  prepare(g: GgufFile): {
    tensorNames: string[];
    create(kernels: Kernels, placed: Map<string, number>, maxBatch: number, freqFactors?: Float32Array): ArchModel;
  };
}

function architecture<C>(
  readConfig: (g: GgufFile) => C,
  tensorNames: (g: GgufFile, c: C) => string[],
  Model: new (kernels: Kernels, c: C, g: GgufFile, placed: Map<string, number>, maxBatch: number, freqFactors?: Float32Array) => ArchModel,
): Architecture {
  return {
    prepare(g) {
      const config = readConfig(g);
      return {
        tensorNames: tensorNames(g, config),
        create: (kernels, placed, maxBatch, freqFactors) => new Model(kernels, config, g, placed, maxBatch, freqFactors),
      };
    },
  };
}

/** general.architecture → how to run it. */
const architectures: Record<string, Architecture> = {
  llama: architecture(readLlamaConfig, llamaTensorNames, LlamaModel),
  gemma4: architecture((g) => readGemma4Config(g), gemma4TensorNames, Gemma4Model),
};
const supportedArchs = Object.keys(architectures);

export async function loadModel(source: ModelSource, options: LoadOptions): Promise<Model> {
  const t0 = performance.now();
  const g = await readGguf(source);
  const arch = g.metadata.get('general.architecture');
  if (typeof arch !== 'string') throw new GgufError('missing_key', `${source.name}: no general.architecture`, 'general.architecture');
  if (!Object.hasOwn(architectures, arch)) {
    throw new ModelError('unsupported_arch', `${source.name}: architecture '${arch}' is not supported yet (supported: ${supportedArchs.join(', ')})`);
  }
  const plan = architectures[arch].prepare(g);
  const tensors = plan.tensorNames.map((n) => requireTensor(g, n));
  for (const t of tensors) {
    const type = ggmlType(t.type);
    if (!type?.supported) {
      throw new ModelError('unsupported_feature', `${source.name}: tensor '${t.name}' has type ${t.typeName}, which hearth cannot run yet`);
    }
  }
  const totalBytes = tensors.reduce((a, t) => a + t.size, 0);
  options.onProgress?.({ phase: 'header', loadedBytes: 0, totalBytes });

  const kernels = await createKernels(options.core, { threads: options.threads ?? 1, reserveBytes: totalBytes + (64 << 20) });
  const placed = new Map<string, number>();
  let loaded = 0;
  let lastReport = 0;
  for (const t of tensors) {
    const ptr = kernels.alloc(t.size);
    await source.readInto(t.offset, kernels.u8(ptr, t.size), (n) => {
      loaded += n;
      const at = performance.now();
      if (at - lastReport > 100) {
        lastReport = at;
        options.onProgress?.({ phase: 'weights', loadedBytes: loaded, totalBytes });
      }
    });
    placed.set(t.name, ptr);
  }
  // rope_freqs (llama3 frequency factors) is read on the host: the angles are computed there
  const ropeFreqs = g.tensorsByName.get('rope_freqs.weight');
  let freqFactors: Float32Array | undefined;
  if (ropeFreqs) {
    if (ropeFreqs.type !== 0) throw new ModelError('bad_shape', 'rope_freqs.weight must be F32');
    const bytes = await source.read(ropeFreqs.offset, ropeFreqs.size);
    freqFactors = new Float32Array(bytes.slice().buffer);
  }
  const maxBatch = options.maxBatch ?? 64;
  const model = plan.create(kernels, placed, maxBatch, freqFactors);
  const tokenizer = createTokenizer(g.metadata);
  options.onProgress?.({ phase: 'ready', loadedBytes: totalBytes, totalBytes });

  const str = (k: string) => {
    const v = g.metadata.get(k);
    return typeof v === 'string' ? v : null;
  };
  const tokenString = (id: number | null) => (id === null ? null : tokenizer.tokenText(id));
  const parameters = [...g.tensors].reduce((a, t) => a + t.elements, 0);
  const info: ModelInfo = {
    id: options.id ?? source.name.replace(/^.*[\\/]/, '').replace(/\.gguf$/i, ''),
    arch,
    name: str('general.name'),
    trainedContext: model.nCtxTrain,
    vocabSize: model.nVocab,
    parameters,
    weightBytes: totalBytes,
    chatTemplate: str('tokenizer.chat_template'),
    bosToken: tokenString(tokenizer.bos),
    eosToken: tokenString(tokenizer.eos),
  };
  return { info, tokenizer, arch: model, gguf: g, kernels, loadMs: performance.now() - t0, close: () => kernels.close() };
}
