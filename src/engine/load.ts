/**
 * loadModel: GGUF header → architecture config → weights streamed from the source straight into wasm memory →
 * tokenizer. The whole file is never held in the JS heap.
 */
import type { EngineMedia, LoadProgress, ModelInfo } from './api.ts';
import { GgufError } from './gguf/errors.ts';
import { readGguf, type GgufFile, type GgufTensorInfo } from './gguf/reader.ts';
import type { ModelSource } from './gguf/source.ts';
import { createKernels, type Kernels } from './models/kernels.ts';
import { gemma4Activations, Gemma4Model, gemma4KvBytesPerLayer, gemma4TensorNames, readGemma4Config } from './models/gemma4.ts';
import { checkAssistantFits, Gemma4Assistant, gemma4AssistantTensorNames, readGemma4AssistantConfig } from './models/gemma4-assistant.ts';
import { llamaActivations, LlamaModel, llamaKvBytesPerLayer, llamaTensorNames, readLlamaConfig } from './models/llama.ts';
import { activationBytes, ModelError, requireTensor, type ActivationLayout, type ArchModel } from './models/model.ts';
import { ggmlType } from './gguf/types.ts';
import { loadedType } from '../core/repack.ts';
import { createTokenizer, type Tokenizer } from './tokenizer/index.ts';
import { imageTokenLimits, loadMmproj, readMmprojHeader } from './multimodal/load.ts';
import type { Gemma4Projector } from './multimodal/projector.ts';

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
  /** Most bytes of weights and KV caches per memory group (default 3.5 GiB, less where activations need the room). */
  groupBytes?: number;
  /**
   * Most bytes one memory may hold in all: weights, KV caches, the activations of a maxBatch-column forward and the
   * kernels' scratch (default 4 GiB, what a wasm32 memory addresses).
   */
  memoryBytes?: number;
  /** KV caches to plan memory for: sequences (slots, draft caches) × context positions. Default 1 × 4096. */
  kvReserve?: { contextSize: number; sequences: number };
  /** Bytes to keep free in the memory group of the token embedding (a Gemma 4 MTP assistant's weights go there). */
  reserveBesideEmbedding?: number;
  /**
   * A multimodal projector (`clip` mmproj with gemma4uv and/or gemma4ua) to load beside a gemma4 model. With a
   * vision part, maxBatch is raised to the image token budget: an image block is decoded as one batch.
   */
  mmproj?: ModelSource;
  /** Soft-token budget of one image (llama.cpp's --image-min-tokens / --image-max-tokens; default 70 / 1120). */
  imageMinTokens?: number;
  imageMaxTokens?: number;
}

const DEFAULT_GROUP_BYTES = 3.5 * 2 ** 30;
const WASM32_MEMORY_BYTES = 2 ** 32;

/**
 * Bytes a memory group needs beyond its weights and KV caches: the model's activations for maxBatch columns (shared:
 * the same offset in every group), the kernels' scratch (a matmul's quantized input is at most 4 bytes a value plus a
 * 16-byte tail per column, and its input is one of the activation buffers; attention takes 4 bytes a cell per thread)
 * and a slack of 1/64 of the memory for small allocations (thread stacks, ring bookkeeping, projector and drafter
 * buffers).
 */
export function memoryOverhead(o: { activations: ActivationLayout<string>; maxBatch: number; threads: number; contextSize: number; memoryBytes: number }) {
  const activations = activationBytes(o.activations);
  const largest = Math.max(...Object.values(o.activations)) * 4;
  const scratch = largest + 16 * o.maxBatch + o.threads * 4 * (o.contextSize + 1024);
  return { activations, scratch, total: activations + scratch + Math.ceil(o.memoryBytes / 64) };
}

/** Tiny models run fastest on one thread (per-op hand-offs dominate); bigger ones use the cores there are. */
function defaultThreads(weightBytes: number): number {
  if (weightBytes < 256 * 2 ** 20) return 1;
  return Math.max(1, Math.min(hostCores(), 8));
}

/** Deno and browsers say navigator.hardwareConcurrency; Node 20 has no navigator, so its os module answers (reached
 * through process.getBuiltinModule: an import of node:os would not bundle for workerd). */
function hostCores(): number {
  const g = globalThis as {
    navigator?: { hardwareConcurrency?: number };
    process?: { getBuiltinModule?: (id: string) => { availableParallelism?: () => number } | undefined };
  };
  return g.navigator?.hardwareConcurrency ?? g.process?.getBuiltinModule?.('node:os')?.availableParallelism?.() ?? 1;
}

/**
 * Spread tensors over memory groups of at most `budget` bytes, whole layers at a time. The tensors outside the
 * layers (token embedding, output norm and head) go with the last layers, so the embedding lookup and the (often
 * tied) head read the same memory.
 */
export function planGroups(
  tensors: GgufTensorInfo[],
  budget: number,
  name: string,
  kvPerLayer: number[] = [],
  besideEmbedding = 0,
): { of: Map<string, number>; reserve: number[] } {
  const layerOf = (t: GgufTensorInfo) => {
    const m = /^blk\.(\d+)\./.exec(t.name);
    return m ? Number(m[1]) : -1;
  };
  const layers = new Map<number, GgufTensorInfo[]>();
  const globals: GgufTensorInfo[] = [];
  for (const t of tensors) {
    const l = layerOf(t);
    if (l < 0) globals.push(t);
    else layers.set(l, [...(layers.get(l) ?? []), t]);
  }
  const size = (ts: GgufTensorInfo[]) => ts.reduce((a, t) => a + t.size, 0);
  // fill from the last layer backwards: the last group holds the globals
  const backwards: { tensors: GgufTensorInfo[]; bytes: number }[] = [{ tensors: [...globals], bytes: size(globals) + besideEmbedding }];
  for (const l of [...layers.keys()].sort((a, b) => b - a)) {
    const ts = layers.get(l)!;
    const bytes = size(ts) + (kvPerLayer[l] ?? 0);
    if (bytes > budget) {
      throw new ModelError(
        'unsupported_feature',
        `${name}: layer ${l} needs ${bytes} bytes with its KV cache, more than one memory group holds (${budget}); use a smaller context or fewer slots`,
      );
    }
    let group = backwards[backwards.length - 1];
    if (group.bytes + bytes > budget) {
      group = { tensors: [], bytes: 0 };
      backwards.push(group);
    }
    group.tensors.push(...ts);
    group.bytes += bytes;
  }
  if (backwards[0].bytes > budget) throw new ModelError('unsupported_feature', `${name}: the embedding and head alone exceed one memory group`);
  const ordered = backwards.reverse();
  const of = new Map<string, number>();
  ordered.forEach((g, i) => g.tensors.forEach((t) => of.set(t.name, i)));
  return { of, reserve: ordered.map((g) => g.bytes) };
}

export interface Model {
  readonly info: ModelInfo;
  readonly tokenizer: Tokenizer;
  readonly arch: ArchModel;
  readonly gguf: GgufFile;
  readonly kernels: Kernels;
  /** The mmproj's projectors and what they accept (loaded with options.mmproj). */
  readonly projector?: Gemma4Projector;
  readonly media?: EngineMedia;
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
    /** KV cache bytes per layer for one sequence of nCtx positions (memory planning). */
    kvBytesPerLayer(nCtx: number, maxBatch: number): number[];
    /** The activation buffers of a forward pass over maxBatch columns (memory planning). */
    activations(maxBatch: number): ActivationLayout<string>;
    create(kernels: Kernels, placed: Map<string, number>, maxBatch: number, freqFactors?: Float32Array): ArchModel;
  };
}

function architecture<C>(
  readConfig: (g: GgufFile) => C,
  tensorNames: (g: GgufFile, c: C) => string[],
  kvBytesPerLayer: (c: C, nCtx: number, maxBatch: number) => number[],
  activations: (c: C, maxBatch: number) => ActivationLayout<string>,
  Model: new (kernels: Kernels, c: C, g: GgufFile, placed: Map<string, number>, maxBatch: number, freqFactors?: Float32Array) => ArchModel,
): Architecture {
  return {
    prepare(g) {
      const config = readConfig(g);
      return {
        tensorNames: tensorNames(g, config),
        kvBytesPerLayer: (nCtx, maxBatch) => kvBytesPerLayer(config, nCtx, maxBatch),
        activations: (maxBatch) => activations(config, maxBatch),
        create: (kernels, placed, maxBatch, freqFactors) => new Model(kernels, config, g, placed, maxBatch, freqFactors),
      };
    },
  };
}

/** general.architecture → how to run it. */
const architectures: Record<string, Architecture> = {
  llama: architecture(readLlamaConfig, llamaTensorNames, (c, nCtx) => llamaKvBytesPerLayer(c, nCtx), llamaActivations, LlamaModel),
  gemma4: architecture((g) => readGemma4Config(g), gemma4TensorNames, gemma4KvBytesPerLayer, gemma4Activations, Gemma4Model),
};
const supportedArchs = Object.keys(architectures);

export async function loadModel(source: ModelSource, options: LoadOptions): Promise<Model> {
  const t0 = performance.now();
  const g = await readGguf(source);
  const arch = g.metadata.get('general.architecture');
  if (typeof arch !== 'string') throw new GgufError('missing_key', `${source.name}: no general.architecture`, 'general.architecture');
  if (arch === 'gemma4-assistant') {
    throw new ModelError('unsupported_arch', `${source.name}: a gemma4-assistant file is an MTP drafter: load it beside its gemma4 target (loadAssistant)`);
  }
  if (arch === 'clip') {
    throw new ModelError('unsupported_arch', `${source.name}: a clip file is a multimodal projector (mmproj): load it beside its gemma4 text model (the mmproj option, --mmproj)`);
  }
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

  const mmproj = options.mmproj ? await readMmprojHeader(options.mmproj) : undefined;
  let maxBatch = options.maxBatch ?? 64;
  if (mmproj?.g.metadata.get('clip.has_vision_encoder') === true) {
    maxBatch = Math.max(maxBatch, imageTokenLimits(options).max);
  }
  // the projector's weights go beside the embedding (a forward pass starts in that group)
  const besideEmbedding = (options.reserveBesideEmbedding ?? 0) + (mmproj?.bytes ?? 0);
  // every layer's KV caches (all slots) live beside its weights: plan for them now, so the memories grow once and a
  // model that cannot fit with the context asked for fails here, before anything is allocated
  const kv = options.kvReserve ?? { contextSize: 4096, sequences: 1 };
  const kvPerLayer = plan.kvBytesPerLayer(kv.contextSize, maxBatch).map((b) => b * kv.sequences);
  const threads = options.threads ?? defaultThreads(totalBytes);
  // a memory holds the group's weights and caches and also a full batch's activations and scratch: the group budget
  // leaves room for those (a 1120-token image block on a 12B model needs ~0.5 GB of them)
  const memoryBytes = Math.min(options.memoryBytes ?? WASM32_MEMORY_BYTES, WASM32_MEMORY_BYTES);
  const overhead = memoryOverhead({ activations: plan.activations(maxBatch), maxBatch, threads, contextSize: kv.contextSize, memoryBytes });
  const budget = Math.min(options.groupBytes ?? DEFAULT_GROUP_BYTES, memoryBytes - overhead.total);
  if (budget <= 0) {
    throw new ModelError('unsupported_feature', `${source.name}: a batch of ${maxBatch} columns needs ${overhead.total} bytes of activations and scratch, more than a memory of ${memoryBytes} bytes holds; use a smaller batch`);
  }
  const groups = planGroups(tensors, budget, source.name, kvPerLayer, besideEmbedding);
  const kernels = await createKernels(options.core, {
    threads,
    reserveBytes: groups.reserve.map((bytes) => bytes + overhead.total),
    scratchBytes: overhead.scratch,
  });
  const placed = new Map<string, number>();
  let loaded = 0;
  let lastReport = 0;
  for (const t of tensors) {
    const ptr = kernels.alloc(t.size, groups.of.get(t.name)!);
    await placeTensor(source, t, kernels, ptr, (n) => {
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
  const model = plan.create(kernels, placed, maxBatch, freqFactors);
  const tokenizer = createTokenizer(g.metadata);
  const loadedMedia = options.mmproj && mmproj ? await loadMmproj(options.mmproj, mmproj.g, { arch: model, kernels, tokenizer }, options) : undefined;
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
  return {
    info, tokenizer, arch: model, gguf: g, kernels, projector: loadedMedia?.projector, media: loadedMedia?.media,
    loadMs: performance.now() - t0, close: () => kernels.close(),
  };
}

/** Read a tensor to ptr in the layout it runs in (bindWeight's type): Q4_0 matrices interleaved (core/repack.ts). */
async function placeTensor(source: ModelSource, t: GgufTensorInfo, kernels: Kernels, ptr: number, onBytes: (n: number) => void): Promise<void> {
  await source.readInto(t.offset, kernels.u8(ptr, t.size), onBytes);
  const rows = t.dims.slice(1).reduce((a, d) => a * d, 1);
  if (loadedType(t.type, t.dims[0], rows) !== t.type) kernels.interleaveQ4_0(ptr, t.dims[0], rows);
}

/**
 * Load a Gemma 4 MTP assistant (`gemma4-assistant`, spec gemma4.md §10) beside its loaded gemma4 target: its weights
 * go into the target's memory (the memory group of the target's embedding and last layers), because every draft
 * step reads the target's token embedding and KV cache in place.
 */
export async function loadAssistant(source: ModelSource, target: Model, options: { onProgress?: (p: LoadProgress) => void } = {}): Promise<Gemma4Assistant> {
  const g = await readGguf(source);
  const { config, tensors } = assistantPlan(g, source.name);
  if (!(target.arch instanceof Gemma4Model)) {
    throw new ModelError('unsupported_arch', `${source.name}: a gemma4-assistant drafts for a gemma4 target, not for '${target.info.arch}'`);
  }
  // before anything is allocated in the target's memory
  checkAssistantFits(config, target.arch);
  const totalBytes = tensors.reduce((a, t) => a + t.size, 0);
  options.onProgress?.({ phase: 'header', loadedBytes: 0, totalBytes });
  const kernels = target.kernels;
  const group = target.arch.embeddingGroup;
  const placed = new Map<string, number>();
  let loaded = 0;
  for (const t of tensors) {
    const ptr = kernels.alloc(t.size, group);
    await placeTensor(source, t, kernels, ptr, (n) => {
      loaded += n;
      options.onProgress?.({ phase: 'weights', loadedBytes: loaded, totalBytes });
    });
    placed.set(t.name, ptr);
  }
  const ropeFreqs = g.tensorsByName.get('rope_freqs.weight');
  let freqFactors: Float32Array | undefined;
  if (ropeFreqs) {
    if (ropeFreqs.type !== 0) throw new ModelError('bad_shape', 'rope_freqs.weight must be F32');
    freqFactors = new Float32Array((await source.read(ropeFreqs.offset, ropeFreqs.size)).slice().buffer);
  }
  const assistant = new Gemma4Assistant(kernels, config, g, placed, target.arch, freqFactors);
  options.onProgress?.({ phase: 'ready', loadedBytes: totalBytes, totalBytes });
  return assistant;
}

/** An assistant file's config and the tensors it needs, checked (architecture, tensor types). */
function assistantPlan(g: GgufFile, name: string) {
  const arch = g.metadata.get('general.architecture');
  if (arch !== 'gemma4-assistant') {
    throw new ModelError('unsupported_arch', `${name}: architecture '${String(arch)}' is not a Gemma 4 MTP assistant (gemma4-assistant)`);
  }
  const config = readGemma4AssistantConfig(g);
  const tensors = gemma4AssistantTensorNames(config).map((n) => requireTensor(g, n));
  for (const t of tensors) {
    if (!ggmlType(t.type)?.supported) {
      throw new ModelError('unsupported_feature', `${name}: tensor '${t.name}' has type ${t.typeName}, which hearth cannot run yet`);
    }
  }
  return { config, tensors };
}

/**
 * Load a model and the drafter in `draftSource`, if any: a Gemma 4 MTP assistant (speculative 'mtp'; its weights
 * go beside the target's embedding, room planned for them) or a smaller model with the same vocabulary ('draft').
 */
export async function loadModelWithDraft(
  source: ModelSource,
  draftSource: ModelSource | undefined,
  options: LoadOptions,
): Promise<{ model: Model; draftModel?: Model; assistant?: Gemma4Assistant }> {
  const header = draftSource ? await readGguf(draftSource) : undefined;
  if (draftSource && header?.metadata.get('general.architecture') === 'gemma4-assistant') {
    const bytes = assistantPlan(header, draftSource.name).tensors.reduce((a, t) => a + t.size, 0);
    const model = await loadModel(source, { ...options, reserveBesideEmbedding: (options.reserveBesideEmbedding ?? 0) + bytes });
    return { model, assistant: await loadAssistant(draftSource, model) };
  }
  const model = await loadModel(source, options);
  const draftModel = draftSource ? await loadModel(draftSource, { core: options.core, threads: options.threads, kvReserve: options.kvReserve }) : undefined;
  return { model, draftModel };
}
