/**
 * The scheduler: a bounded queue in front of N slots, each slot a sequence with its own KV cache. One step runs one
 * batched forward over every active slot: decoding slots contribute their last token, prefilling slots a chunk of
 * their prompt (the batch is capped at the model's maxBatch columns). Between steps the event loop turns, so streamed
 * tokens flush and cancellations land; a cancelled generation gives its slot back before the next step.
 */
import {
  EngineError,
  type EngineMedia,
  type EngineStats,
  type MediaSpan,
  type GenerateRequest,
  type Generation,
  type GenerationEvent,
  type TokenLogprob,
  type Usage,
} from './api.ts';
import { EventQueue } from './events.ts';
import { DraftLength } from './speculative/draft-length.ts';
import type { ArchModel, ForwardSeq, KvCache } from './models/model.ts';
import { Sampler, topLogprobs } from './sampler.ts';
import type { Drafter, SpeculativeOptions } from './speculative/drafter.ts';
import { DraftModelDrafter } from './speculative/draft-model.ts';
import { MtpDrafter } from './speculative/mtp.ts';
import type { Gemma4Assistant } from './models/gemma4-assistant.ts';
import { NgramDrafter } from './speculative/ngram.ts';
import { TextStream } from './text-stream.ts';
import type { Tokenizer } from './tokenizer/index.ts';

export interface SchedulerOptions {
  slots: number;
  queueLimit: number;
  contextPerSlot: number;
  /** Speculation used when a request does not say (default none). */
  speculative?: SpeculativeOptions;
  /** A smaller model sharing the vocabulary, for speculative type 'draft'. */
  draftModel?: ArchModel;
  /** A Gemma 4 MTP assistant loaded beside this (gemma4) target, for speculative type 'mtp'. */
  assistant?: Gemma4Assistant;
  /** The mmproj's projectors and what they accept, for requests with media spans. */
  projector?: MediaProjector;
  media?: EngineMedia;
}

/** Turns a media span's input into embedding rows of the text model's width (multimodal/projector.ts). */
export interface MediaProjector {
  projectImage(patches: Float32Array, rows: number, cols: number): Float32Array;
  projectAudio(frames: Float32Array, rows: number): Float32Array;
}

const MEDIA_WIDTH = { image: 6912, audio: 640 } as const;

interface Job {
  request: GenerateRequest;
  events: EventQueue<GenerationEvent>;
  sampler: Sampler;
  text: TextStream;
  /** Prompt tokens already in the KV cache. */
  prefilled: number;
  generated: number[];
  /** The token to feed next while decoding. */
  next: number;
  slot: Slot | null;
  cancelled: boolean;
  finished: boolean;
  submittedAt: number;
  startedAt: number;
  prefillMs: number;
  decodeMs: number;
  firstTokenAt: number;
  specType: SpeculativeOptions['type'];
  drafter: Drafter | null;
  nMax: number;
  /** picks each step's draft length under nMax (speculative.adaptive, the default) */
  draftLength: DraftLength | null;
  drafted: number;
  accepted: number;
  /** Target forwards while decoding (tokens per step = generated / steps). */
  decodeSteps: number;
  /** The request's media spans by start, and their embedding rows once the projector has run. */
  spans: MediaSpan[];
  embedded: Map<MediaSpan, Float32Array>;
}

interface Slot {
  kv: KvCache;
  /** The slot's KV cache in the draft model, when there is one. */
  draftKv: KvCache | null;
  job: Job | null;
}

const now = () => performance.now();

/** An empty sink for the target's hidden rows when the job's drafter reads them (MTP), else none. */
const wantsHidden = (job: Job): Float32Array[] | undefined => (job.drafter?.observeHidden ? [] : undefined);

/**
 * Let the event loop run (flush SSE chunks, deliver aborts) between steps: workerd's scheduler.wait(0), else Node's
 * setImmediate (setTimeout(0) costs a whole millisecond per token there), else setTimeout.
 */
const host = globalThis as { scheduler?: { wait?: (ms: number) => Promise<void> }; setImmediate?: (cb: () => void) => unknown };
const turn: () => Promise<void> = host.scheduler?.wait
  ? () => host.scheduler!.wait!(0)
  : host.setImmediate
    ? () => new Promise((resolve) => host.setImmediate!(resolve))
    : () => new Promise((resolve) => setTimeout(resolve, 0));

export class Scheduler {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private running = false;
  private closed = false;
  private totals = { requests: 0, prompt: 0, completion: 0, drafted: 0, accepted: 0, decodeSteps: 0 };
  private recent: { at: number; tokens: number }[] = [];

  constructor(
    private readonly model: ArchModel,
    private readonly tokenizer: Tokenizer,
    readonly options: SchedulerOptions,
  ) {
    if (options.slots < 1) throw new RangeError('slots must be ≥ 1');
    if (options.draftModel && options.draftModel.nVocab !== model.nVocab) {
      throw new EngineError('invalid_request', `the draft model's vocabulary (${options.draftModel.nVocab}) differs from the target's (${model.nVocab})`);
    }
    if (options.assistant && (options.assistant.target as ArchModel) !== model) {
      throw new Error('the MTP assistant was loaded for another target model');
    }
    this.slots = Array.from({ length: options.slots }, () => ({
      kv: model.createKv(options.contextPerSlot),
      draftKv: options.draftModel ? options.draftModel.createKv(options.contextPerSlot) : null,
      job: null,
    }));
  }

  submit(request: GenerateRequest): Generation {
    if (this.closed) throw new EngineError('internal', 'engine is closed');
    const ctx = this.options.contextPerSlot;
    if (request.prompt.length === 0) throw new EngineError('invalid_request', 'the prompt is empty');
    if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1) {
      throw new EngineError('invalid_request', 'max_tokens must be a positive integer');
    }
    if (request.prompt.length >= ctx) {
      throw new EngineError('context_overflow', `the prompt has ${request.prompt.length} tokens; the context holds ${ctx}`);
    }
    if (request.prompt.length + request.maxTokens > ctx) {
      throw new EngineError(
        'context_overflow',
        `prompt (${request.prompt.length} tokens) + max_tokens (${request.maxTokens}) exceeds the context of ${ctx} tokens`,
      );
    }
    for (const id of request.prompt) {
      if (!Number.isInteger(id) || id < 0 || id >= this.model.nVocab) {
        throw new EngineError('invalid_request', `token id ${id} is outside the vocabulary (0..${this.model.nVocab - 1})`);
      }
    }
    const spans = this.checkMedia(request);
    const spec = request.speculative ?? this.options.speculative ?? { type: 'none', nMax: 0 };
    if (spec.type === 'draft' && !this.options.draftModel) {
      throw new EngineError('invalid_request', "speculative type 'draft' needs a draft model (start the server with --draft-model)");
    }
    if (spec.type === 'mtp' && !this.options.assistant) {
      throw new EngineError('invalid_request', "speculative type 'mtp' needs a Gemma 4 MTP assistant (a gemma4-assistant file given as --draft-model)");
    }
    if (spec.type !== 'none' && (!Number.isInteger(spec.nMax) || spec.nMax < 1 || spec.nMax > 16)) {
      throw new EngineError('invalid_request', 'speculative n_max must be an integer from 1 to 16');
    }
    const busy = this.slots.every((s) => s.job !== null);
    if (busy && this.queue.length >= this.options.queueLimit) {
      throw new EngineError('queue_full', `the queue is full (${this.options.queueLimit} waiting)`, this.retryAfter());
    }
    const job: Job = {
      request,
      events: new EventQueue(),
      sampler: new Sampler(request.sampling, request.prompt),
      text: new TextStream(request.stop ?? []),
      prefilled: 0,
      generated: [],
      next: -1,
      slot: null,
      cancelled: false,
      finished: false,
      submittedAt: now(),
      startedAt: 0,
      prefillMs: 0,
      decodeMs: 0,
      firstTokenAt: 0,
      specType: spec.type,
      drafter: null,
      nMax: spec.type === 'none' ? 0 : spec.nMax,
      draftLength: spec.type !== 'none' && spec.adaptive !== false ? new DraftLength(spec.nMax) : null,
      drafted: 0,
      accepted: 0,
      decodeSteps: 0,
      spans,
      embedded: new Map(),
    };

    const cancel = () => this.cancel(job);
    job.events.onReturn = cancel;
    request.signal?.addEventListener('abort', cancel, { once: true });
    if (request.signal?.aborted) cancel();
    this.queue.push(job);
    this.totals.requests++;
    this.kick();
    return { [Symbol.asyncIterator]: () => job.events[Symbol.asyncIterator](), cancel };
  }

  /** Validate a request's media spans against the prompt and the loaded projectors; returns them sorted. */
  private checkMedia(request: GenerateRequest): MediaSpan[] {
    const spans = [...(request.media ?? [])].sort((a, b) => a.start - b.start);
    if (spans.length === 0) return spans;
    const media = this.options.media;
    if (!media || !this.options.projector) {
      throw new EngineError('invalid_request', 'this model takes no image or audio input (load it with a multimodal projector, --mmproj)');
    }
    let end = 0;
    for (const span of spans) {
      const { kind, start, rows } = span;
      if (kind !== 'image' && kind !== 'audio') throw new EngineError('invalid_request', `unknown media kind '${String(kind)}'`);
      if (kind === 'image' && !media.image) throw new EngineError('invalid_request', "this model's projector takes no images");
      if (kind === 'audio' && !media.audio) throw new EngineError('invalid_request', "this model's projector takes no audio");
      if (!Number.isInteger(start) || !Number.isInteger(rows) || rows < 1 || start < end || start + rows > request.prompt.length) {
        throw new EngineError('invalid_request', `media span [${start}, ${start + rows}) is empty, overlaps another or lies outside the prompt of ${request.prompt.length} tokens`);
      }
      const soft = kind === 'image' ? media.tokens.imageSoft : media.tokens.audioSoft;
      for (let i = start; i < start + rows; i++) {
        if (request.prompt[i] !== soft) {
          throw new EngineError('invalid_request', `media span [${start}, ${start + rows}): prompt position ${i} holds token ${request.prompt[i]}, not the ${kind} placeholder ${soft}`);
        }
      }
      if (!(span.input instanceof Float32Array) || span.input.length !== rows * MEDIA_WIDTH[kind]) {
        throw new EngineError('invalid_request', `media span at ${start}: ${kind} input must hold ${rows} × ${MEDIA_WIDTH[kind]} floats`);
      }
      if (kind === 'image') {
        const cols = span.cols ?? 0;
        if (!Number.isInteger(cols) || cols < 1 || rows % cols !== 0) {
          throw new EngineError('invalid_request', `image span at ${start}: ${rows} soft tokens do not make a grid of ${cols} columns`);
        }
        // llama.cpp decodes an image as one non-causal batch, so it must fit one (its n_ubatch; our maxBatch)
        if (rows > this.model.maxBatch) {
          throw new EngineError('invalid_request', `an image of ${rows} soft tokens does not fit one batch of ${this.model.maxBatch}; use a smaller image or a larger batch size`);
        }
      }
      end = start + rows;
    }
    return spans;
  }

  stats(): EngineStats {
    const cutoff = now() - 10_000;
    this.recent = this.recent.filter((r) => r.at >= cutoff);
    const tokens = this.recent.reduce((a, r) => a + r.tokens, 0);
    const span = this.recent.length > 1 ? (this.recent[this.recent.length - 1].at - this.recent[0].at) / 1000 : 0;
    return {
      idle: this.idle,
      slots: this.slots.length,
      active: this.slots.filter((s) => s.job !== null).length,
      queued: this.queue.length,
      queueLimit: this.options.queueLimit,
      contextPerSlot: this.options.contextPerSlot,
      requestsTotal: this.totals.requests,
      promptTokensTotal: this.totals.prompt,
      completionTokensTotal: this.totals.completion,
      draftedTokensTotal: this.totals.drafted,
      acceptedTokensTotal: this.totals.accepted,
      decodeStepsTotal: this.totals.decodeSteps,
      decodeTokS: span > 0 ? tokens / span : 0,
    };
  }

  /** True while no generation is queued or running (hosts that keep a request alive for the loop watch this). */
  get idle(): boolean {
    return !this.running && this.queue.length === 0 && this.slots.every((s) => s.job === null);
  }

  close(): void {
    this.closed = true;
    for (const job of [...this.queue, ...this.slots.map((s) => s.job)]) if (job) this.cancel(job);
  }

  private retryAfter(): number {
    // a rough guess: one queued request's worth of decoding at the recent rate, at least a second
    return Math.max(1, Math.ceil(this.queue.length / Math.max(1, this.slots.length)));
  }

  private cancel(job: Job): void {
    if (job.finished) return;
    job.cancelled = true;
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
    // a job in a slot is finished between steps (never mid-forward); if no step is running, do it now
    if (!this.running || !job.slot) this.finish(job, 'abort');
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      await turn();
      while (this.assign() > 0) {
        this.step();
        await turn();
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      for (const slot of this.slots) {
        if (slot.job) {
          slot.job.events.push({ type: 'done', finishReason: 'abort', text: `[engine error: ${message}]`, usage: this.usage(slot.job), timings: this.timings(slot.job) });
          slot.job.finished = true;
          slot.job.events.close();
          slot.job = null;
        }
      }
      console.error('hearth: engine step failed:', err);
    } finally {
      this.running = false;
      if (this.queue.length > 0 && !this.closed) this.kick();
    }
  }

  /** Move queued jobs into free slots; drop finished/cancelled ones. Returns the number of active slots. */
  private assign(): number {
    for (const slot of this.slots) {
      if (slot.job && (slot.job.cancelled || slot.job.finished)) {
        if (!slot.job.finished) this.finish(slot.job, 'abort');
        slot.job = null;
      }
      if (!slot.job) {
        const job = this.queue.shift();
        if (job) {
          slot.job = job;
          job.slot = slot;
          job.startedAt = now();
          slot.kv.used = 0;
          job.drafter = this.drafterFor(job, slot);
        }
      }
    }
    return this.slots.filter((s) => s.job).length;
  }

  private drafterFor(job: Job, slot: Slot): Drafter | null {
    if (job.specType === 'ngram') return new NgramDrafter();
    if (job.specType === 'draft' && this.options.draftModel && slot.draftKv) {
      slot.draftKv.used = 0;
      return new DraftModelDrafter(this.options.draftModel, this.options.contextPerSlot, slot.draftKv);
    }
    if (job.specType === 'mtp' && this.options.assistant) return new MtpDrafter(this.options.assistant, slot.kv);
    return null;
  }

  private step(): void {
    const active = this.slots.filter((s): s is Slot & { job: Job } => s.job !== null);
    const batch: { job: Job; seq: ForwardSeq; prefill: boolean }[] = [];
    let budget = this.model.maxBatch;
    // decoding slots first: their last token, plus a draft when speculating
    const drafts = new Map<Job, number[]>();
    const draftMs = new Map<Job, number>();
    for (const { job, kv } of active) {
      if (job.prefilled < job.request.prompt.length) continue;
      let draft: number[] = [];
      if (job.drafter) {
        // never draft past max_tokens, the context, or the batch
        let room = Math.min(job.nMax, job.request.maxTokens - job.generated.length - 1, kv.size - kv.used - 2, budget - 1);
        if (job.draftLength) room = job.draftLength.choose(room);
        if (room > 0) {
          const t0 = now();
          draft = job.drafter.draft([...job.request.prompt, ...job.generated], room);
          draftMs.set(job, now() - t0);
        }
      }
      drafts.set(job, draft);
      batch.push({
        job,
        prefill: false,
        seq: { kv, tokens: [job.next, ...draft], pos0: kv.used, logits: draft.length ? 'all' : 'last', hidden: wantsHidden(job) },
      });
      budget -= 1 + draft.length;
    }
    for (const { job, kv } of active) {
      if (budget <= 0) break;
      const rest = job.request.prompt.length - job.prefilled;
      if (rest <= 0) continue;
      const span = job.spans.find((m) => m.start <= job.prefilled && job.prefilled < m.start + m.rows);
      // an image block goes alone, in one forward of its own (below), as llama.cpp decodes it
      if (span?.kind === 'image') continue;
      const nextSpan = job.spans.find((m) => m.start > job.prefilled);
      const stop = span ? span.start + span.rows : nextSpan ? nextSpan.start : job.request.prompt.length;
      const take = Math.min(stop - job.prefilled, budget);
      budget -= take;
      const tokens = job.request.prompt.slice(job.prefilled, job.prefilled + take);
      const last = job.prefilled + take === job.request.prompt.length;
      const seq: ForwardSeq = { kv, tokens, pos0: job.prefilled, logits: last ? 'last' : 'none', hidden: last ? wantsHidden(job) : undefined };
      // a prompt with media is processed as llama.cpp's mtmd does: chunks are batches, with its batch numerics
      if (job.spans.length > 0) seq.tiledAttention = true;
      if (span) {
        const rows = this.embeddings(job, span);
        const E = rows.length / span.rows;
        seq.embeddings = rows.subarray((job.prefilled - span.start) * E, (job.prefilled - span.start + take) * E);
      }
      batch.push({ job, prefill: true, seq });
    }
    for (const { job, kv } of active) {
      const span = job.spans.find((m) => m.start === job.prefilled);
      if (span?.kind !== 'image') continue;
      const last = span.start + span.rows === job.request.prompt.length;
      const seq: ForwardSeq = {
        kv,
        tokens: job.request.prompt.slice(span.start, span.start + span.rows),
        pos0: span.start,
        logits: last ? 'last' : 'none',
        hidden: last ? wantsHidden(job) : undefined,
        embeddings: this.embeddings(job, span),
        nonCausal: true,
        tiledAttention: true,
      };
      const t0 = now();
      const logits = this.model.forward([seq]);
      job.prefilled += span.rows;
      job.prefillMs += now() - t0;
      if (logits[0].length > 0) {
        if (seq.hidden) job.drafter?.observeHidden?.(seq.hidden[0]);
        this.emitToken(job, logits[0][0]);
      }
    }
    if (batch.length === 0) return;
    // a step's forward time is charged to every job in it: that is what each one waited
    const t0 = now();
    const logits = this.model.forward(batch.map((b) => b.seq));
    const ms = now() - t0;
    let decoded = 0;
    batch.forEach(({ job, seq, prefill }, i) => {
      if (prefill) {
        job.prefilled += seq.tokens.length;
        job.prefillMs += ms;
      } else {
        job.decodeMs += ms;
        job.decodeSteps++;
        this.totals.decodeSteps++;
      }
      const rows = logits[i];
      if (rows.length === 0) return;
      const draft = drafts.get(job) ?? [];
      const acceptedBefore = job.accepted;
      if (draft.length === 0) {
        if (seq.hidden) job.drafter?.observeHidden?.(seq.hidden[0]);
        this.emitToken(job, rows[0]);
        decoded++;
      } else {
        decoded += this.emitVerified(job, seq, rows, draft);
      }
      // a forward's time is this request's own cost only when it ran alone
      if (!prefill) job.draftLength?.observe(draft.length, job.accepted - acceptedBefore, batch.length === 1 ? ms : undefined, draftMs.get(job));
    });
    if (decoded > 0) this.recent.push({ at: now(), tokens: decoded });
  }

  /** A span's embedding rows, projected the first time prefill reaches it (the time counts as prefill). */
  private embeddings(job: Job, span: MediaSpan): Float32Array {
    let rows = job.embedded.get(span);
    if (!rows) {
      const t0 = now();
      const p = this.options.projector!;
      rows = span.kind === 'image' ? p.projectImage(span.input, span.rows, span.cols!) : p.projectAudio(span.input, span.rows);
      job.embedded.set(span, rows);
      job.prefillMs += now() - t0;
    }
    return rows;
  }

  private emitToken(job: Job, logits: Float32Array): void {
    const alternatives = this.alternatives(job, logits);
    const id = job.sampler.sample(logits);
    this.publish(job, id, alternatives);
  }

  /** Verify a draft against the target's rows; emit what is kept; roll the KV caches back past the rest. */
  private emitVerified(job: Job, seq: ForwardSeq, rows: Float32Array[], draft: number[]): number {
    const raw = job.request.logprobs !== undefined ? rows.map((r) => r.slice()) : null;
    const emitted = job.sampler.verify(rows, draft);
    const accepted = emitted.length - 1;
    job.drafted += draft.length;
    job.accepted += accepted;
    this.totals.drafted += draft.length;
    this.totals.accepted += accepted;
    // cells hold [next, draft...]: keep next and the accepted drafts
    seq.kv.used = seq.pos0 + 1 + accepted;
    // the row that produced the last emitted token (llama.cpp's pending_h after accepting `accepted` drafts)
    if (seq.hidden) job.drafter?.observeHidden?.(seq.hidden[accepted]);
    const historyBefore = job.request.prompt.length + job.generated.length;
    job.drafter?.rollback(historyBefore + accepted);
    let n = 0;
    for (let i = 0; i < emitted.length && !job.finished; i++, n++) {
      this.publish(job, emitted[i], raw ? this.alternatives(job, raw[i]) : undefined);
    }
    return n;
  }

  private alternatives(job: Job, logits: Float32Array) {
    // logprobs describe the model's own distribution, so they are taken before bias and penalties touch the logits
    return job.request.logprobs !== undefined
      ? { ...topLogprobs(logits, job.request.logprobs, (t) => this.tokenizer.tokenText(t)), raw: logits.slice() }
      : undefined;
  }

  private publish(job: Job, id: number, alternatives: ReturnType<Scheduler['alternatives']>): void {
    const req = job.request;
    let logprob: (TokenLogprob & { top: TokenLogprob[] }) | undefined;
    if (alternatives) {
      const { max, logSum } = alternatives.stats;
      logprob = { id, text: this.tokenizer.tokenText(id), logprob: alternatives.raw[id] - max - logSum, top: alternatives.top };
    }
    job.generated.push(id);
    job.next = id;
    if (job.firstTokenAt === 0) job.firstTokenAt = now();
    const eog = (req.stopOnEog ?? true) && this.tokenizer.isEog(id);
    if (eog) {
      this.finish(job, 'stop');
      return;
    }
    // control tokens stream as nothing, as llama-server does by default
    const text = job.text.push(this.tokenizer.tokenBytes(id, false));
    job.events.push({ type: 'token', id, text, logprob });
    if (job.text.stopped) this.finish(job, 'stop');
    else if (job.generated.length >= req.maxTokens) this.finish(job, 'length');
  }

  private usage(job: Job): Usage {
    const usage: Usage = { promptTokens: job.request.prompt.length, completionTokens: job.generated.length };
    if (job.drafter) {
      usage.speculative = {
        type: job.specType,
        draftedTokens: job.drafted,
        acceptedTokens: job.accepted,
        acceptanceRate: job.drafted > 0 ? job.accepted / job.drafted : 0,
        tokensPerStep: job.decodeSteps > 0 ? job.generated.length / job.decodeSteps : 0,
      };
    }
    return usage;
  }

  private timings(job: Job) {
    const decodeTokens = Math.max(0, job.generated.length - 1);
    return {
      queueMs: (job.startedAt || now()) - job.submittedAt,
      prefillMs: job.prefillMs,
      decodeMs: job.decodeMs,
      prefillTokS: job.prefillMs > 0 ? (job.prefilled / job.prefillMs) * 1000 : 0,
      decodeTokS: job.decodeMs > 0 ? (decodeTokens / job.decodeMs) * 1000 : 0,
    };
  }

  private finish(job: Job, reason: 'stop' | 'length' | 'abort'): void {
    if (job.finished) return;
    job.finished = true;
    const text = reason === 'abort' ? '' : job.text.finish();
    this.totals.prompt += job.prefilled;
    this.totals.completion += job.generated.length;
    job.events.push({ type: 'done', finishReason: reason, text, usage: this.usage(job), timings: this.timings(job) });
    job.events.close();
    if (job.slot) {
      job.slot.job = null;
      job.slot = null;
    }
  }
}
