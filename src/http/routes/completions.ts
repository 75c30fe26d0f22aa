/** POST /v1/completions: a raw prompt (text or token ids) → generation, whole or as SSE. */
import type { Hono } from 'hono';
import type { Engine, Generation, GenerateRequest } from '../../engine/api.ts';
import type { AppContext } from '../app.ts';
import { readJsonBody } from '../body.ts';
import { invalidRequest } from '../errors.ts';
import { collect, completionLogprobs, finishReason, nowSeconds, requestId, timingsOf, usageOf } from '../generation.ts';
import { maxTokensFor, samplingFrom, speculativeFrom, stopsFrom } from '../sampling.ts';
import { completionRequestSchema, parseBody, type CompletionRequest } from '../schemas.ts';
import { sseResponse } from '../sse.ts';
import { rejectUnsupportedCompletion } from '../unsupported.ts';
import { checkModel } from './info.ts';

/** OpenAI's default for /v1/completions when max_tokens is left out. */
const defaultCompletionTokens = 16;

export function completionRoutes(app: Hono, ctx: AppContext): void {
  app.post('/v1/completions', async (c) => {
    const body = parseBody(completionRequestSchema, await readJsonBody(c.req.raw, ctx.config.maxBodyBytes));
    rejectUnsupportedCompletion(body);
    if (body.echo && body.logprobs != null) {
      throw invalidRequest(
        "Unsupported combination: 'echo' with 'logprobs' (prompt logprobs are not computed).",
        'echo',
        'unsupported_parameter',
      );
    }
    const serving = await ctx.serving();
    checkModel(body.model, serving);
    const { engine } = serving;

    const { tokens: prompt, text: promptText } = promptOf(body.prompt, engine);
    const request: GenerateRequest = {
      prompt,
      maxTokens: maxTokensFor(body.max_tokens, prompt.length, engine.stats().contextPerSlot, 'max_tokens',
        defaultCompletionTokens),
      sampling: samplingFrom(body, engine.info.vocabSize),
      stop: stopsFrom(body.stop),
      speculative: speculativeFrom(body.speculative),
      logprobs: body.logprobs ?? undefined,
    };
    const head = { id: requestId('cmpl-'), created: nowSeconds(), model: engine.info.id };
    const echoed = body.echo ? promptText : '';

    if (!body.stream) {
      const generation = engine.submit({ ...request, signal: c.req.raw.signal });
      const result = await collect(generation);
      return c.json({
        ...head,
        object: 'text_completion',
        choices: [
          {
            index: 0,
            text: echoed + result.text,
            logprobs: body.logprobs != null ? completionLogprobs(result.tokens, echoed.length) : null,
            finish_reason: result.finishReason,
          },
        ],
        usage: usageOf(result.usage),
        timings: timingsOf(result.usage, result.timings),
      });
    }

    const generation = engine.submit(request);
    const includeUsage = body.stream_options?.include_usage === true;
    return sseResponse(
      completionChunks(generation, head, echoed, includeUsage, body.logprobs != null),
      () => generation.cancel(),
    );
  });
}

async function* completionChunks(
  generation: Generation,
  head: { id: string; created: number; model: string },
  echoed: string,
  includeUsage: boolean,
  logprobs: boolean,
) {
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (text: string, finish: string | null, lp: object | null = null) => ({
    ...head,
    object: 'text_completion',
    choices: [{ index: 0, text, logprobs: lp, finish_reason: finish }],
    ...usageField,
  });
  let offset = 0;
  if (echoed) {
    yield chunk(echoed, null);
    offset = echoed.length;
  }
  for await (const event of generation) {
    if (event.type === 'token') {
      if (event.text === '' && !(logprobs && event.logprob)) continue;
      yield chunk(event.text, null, logprobs ? completionLogprobs([event], offset) : null);
      offset += event.text.length;
      continue;
    }
    // llama.cpp's `timings` ride on the last chunk before [DONE]
    const timings = timingsOf(event.usage, event.timings);
    yield includeUsage ? chunk(event.text, finishReason(event)) : { ...chunk(event.text, finishReason(event)), timings };
    if (includeUsage) yield { ...head, object: 'text_completion', choices: [], usage: usageOf(event.usage), timings };
    return;
  }
}

/** The prompt as token ids, and as text for `echo`. Batched prompts (several at once) are not supported. */
function promptOf(prompt: CompletionRequest['prompt'], engine: Engine): { tokens: number[]; text: string } {
  let one: string | number[];
  if (typeof prompt === 'string') one = prompt;
  else if (prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) one = prompt[0];
  else if (prompt.length > 0 && prompt.every((p) => typeof p === 'number')) one = prompt as number[];
  else if (prompt.length === 0) throw invalidRequest("Invalid value for 'prompt': the prompt is empty.", 'prompt', 'invalid_value');
  else throw invalidRequest("Unsupported value for 'prompt': send one prompt per request.", 'prompt', 'unsupported_parameter');

  if (typeof one === 'string') {
    // as llama.cpp's server: BOS added when the model wants it, special-token text read as special tokens
    const tokens = engine.tokenize(one, { addSpecial: true, parseSpecial: true });
    if (tokens.length === 0) throw invalidRequest("Invalid value for 'prompt': the prompt is empty.", 'prompt', 'invalid_value');
    return { tokens, text: one };
  }
  if (one.length === 0) throw invalidRequest("Invalid value for 'prompt': the prompt is empty.", 'prompt', 'invalid_value');
  const vocab = engine.info.vocabSize;
  const bad = one.findIndex((id) => id >= vocab);
  if (bad >= 0) {
    throw invalidRequest(
      `Invalid value for 'prompt': ${one[bad]} is not a token id of this model (0..${vocab - 1}).`,
      'prompt',
      'invalid_value',
    );
  }
  return { tokens: one, text: engine.detokenize(one) };
}
