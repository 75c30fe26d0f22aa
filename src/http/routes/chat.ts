/** POST /v1/chat/completions: messages → the model's chat template → tokens → generation, whole or as SSE. */
import type { Hono } from 'hono';
import type { Engine, Generation, GenerateRequest } from '../../engine/api.ts';
import type { AppContext } from '../app.ts';
import { readJsonBody } from '../body.ts';
import type { TemplateMessage } from '../chat-template.ts';
import { invalidRequest } from '../errors.ts';
import { imageUrlBytes, inputAudioBytes, mediaMarker, mediaPrompt, mediaSupport, type MediaItem, type MediaLimits } from '../media.ts';
import { chatLogprobs, collect, finishReason, nowSeconds, requestId, timingsOf, usageOf } from '../generation.ts';
import { maxTokensFor, samplingFrom, speculativeFrom, stopsFrom } from '../sampling.ts';
import { chatRequestSchema, parseBody, type ChatMessage } from '../schemas.ts';
import { sseResponse } from '../sse.ts';
import { rejectUnsupportedChat } from '../unsupported.ts';
import { checkModel } from './info.ts';

export function chatRoutes(app: Hono, ctx: AppContext): void {
  app.post('/v1/chat/completions', async (c) => {
    const body = parseBody(chatRequestSchema, await readJsonBody(c.req.raw, ctx.config.maxBodyBytes));
    rejectUnsupportedChat(body);
    const serving = await ctx.serving();
    checkModel(body.model, serving);
    const { engine, template } = serving;

    const items: MediaItem[] = [];
    const text = template.render(await templateMessages(body.messages, engine, items, ctx.media));
    const { prompt, media } = items.length
      ? mediaPrompt(engine, text, items, ctx.media)
      : { prompt: engine.tokenize(text, { addSpecial: true, parseSpecial: true }), media: undefined };
    const lengthParam = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
    const request: GenerateRequest = {
      prompt,
      ...(media ? { media } : {}),
      maxTokens: maxTokensFor(
        body.max_completion_tokens ?? body.max_tokens,
        prompt.length,
        engine.stats().contextPerSlot,
        lengthParam,
      ),
      sampling: samplingFrom(body, engine.info.vocabSize),
      stop: stopsFrom(body.stop),
      speculative: speculativeFrom(body.speculative),
      logprobs: body.logprobs ? (body.top_logprobs ?? 0) : undefined,
    };
    const head = { id: requestId('chatcmpl-'), created: nowSeconds(), model: engine.info.id };

    if (!body.stream) {
      const generation = engine.submit({ ...request, signal: c.req.raw.signal });
      const result = await collect(generation);
      return c.json({
        ...head,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: result.text, refusal: null },
            logprobs: body.logprobs ? chatLogprobs(result.tokens) : null,
            finish_reason: result.finishReason,
          },
        ],
        usage: usageOf(result.usage),
        timings: timingsOf(result.usage, result.timings),
      });
    }

    const generation = engine.submit(request);
    const includeUsage = body.stream_options?.include_usage === true;
    return sseResponse(chatChunks(generation, head, includeUsage, body.logprobs === true), () => generation.cancel());
  });
}

async function* chatChunks(
  generation: Generation,
  head: { id: string; created: number; model: string },
  includeUsage: boolean,
  logprobs: boolean,
) {
  // with include_usage, every chunk but the last carries `usage: null`, as OpenAI sends it
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (delta: object, finish: string | null, lp: object | null = null) => ({
    ...head,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: lp, finish_reason: finish }],
    ...usageField,
  });

  yield chunk({ role: 'assistant', content: '' }, null);
  for await (const event of generation) {
    if (event.type === 'token') {
      if (event.text === '' && !(logprobs && event.logprob)) continue;
      yield chunk({ content: event.text }, null, logprobs ? chatLogprobs([event]) : null);
      continue;
    }
    if (event.text) yield chunk({ content: event.text }, null);
    // llama.cpp's `timings` ride on the last chunk before [DONE]
    const timings = timingsOf(event.usage, event.timings);
    yield includeUsage ? chunk({}, finishReason(event)) : { ...chunk({}, finishReason(event)), timings };
    if (includeUsage) yield { ...head, object: 'chat.completion.chunk', choices: [], usage: usageOf(event.usage), timings };
    return;
  }
}

/**
 * OpenAI messages → what templates expect: string content, `developer` read as `system`. Media parts are fetched
 * into `items` and stand in the text as markers.
 */
async function templateMessages(
  messages: ChatMessage[],
  engine: Engine,
  items: MediaItem[],
  limits: MediaLimits,
): Promise<TemplateMessage[]> {
  const out: TemplateMessage[] = [];
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool' || m.role === 'function') {
      throw invalidRequest(
        `Unsupported value for 'messages[${i}].role': tool calling is not supported.`,
        `messages[${i}].role`,
        'unsupported_parameter',
      );
    }
    if (m.tool_calls && m.tool_calls.length > 0) {
      throw invalidRequest(
        `Unsupported value for 'messages[${i}].tool_calls': tool calling is not supported.`,
        `messages[${i}].tool_calls`,
        'unsupported_parameter',
      );
    }
    const role = m.role === 'developer' ? 'system' : m.role;
    out.push({ role, content: await contentText(m, i, engine, items, limits) });
  }
  return out;
}

async function contentText(
  m: ChatMessage,
  i: number,
  engine: Engine,
  items: MediaItem[],
  limits: MediaLimits,
): Promise<string> {
  if (typeof m.content === 'string') return m.content;
  if (m.content == null) {
    throw invalidRequest(`Missing required parameter: 'messages[${i}].content'.`, `messages[${i}].content`,
      'missing_required_parameter');
  }
  // as llama.cpp: text parts joined with newlines, none before or after a media marker
  let text = '';
  let afterMedia = false;
  for (const [j, part] of m.content.entries()) {
    const param = `messages[${i}].content[${j}]`;
    if (part.type === 'text') {
      if (typeof part.text !== 'string') {
        throw invalidRequest(`Invalid value for '${param}.text': expected string.`, `${param}.text`, 'invalid_value');
      }
      if (text !== '' && !afterMedia) text += '\n';
      text += part.text;
      afterMedia = false;
      continue;
    }
    if (part.type === 'image_url' || part.type === 'input_audio') {
      const kind = part.type === 'image_url' ? 'image' : 'audio';
      mediaSupport(engine, kind, param);
      if (items.length >= limits.maxMediaItems) {
        throw invalidRequest(`Too many media parts: at most ${limits.maxMediaItems} per request.`, param, 'too_many_media');
      }
      const bytes = kind === 'image'
        ? await imageUrlBytes((part.image_url as { url?: unknown } | undefined)?.url, param, limits)
        : inputAudioBytes(part, param, limits);
      items.push({ kind, bytes, param });
      text += mediaMarker;
      afterMedia = true;
      continue;
    }
    if (part.type === 'file') {
      throw invalidRequest(`Unsupported content part 'file' in '${param}': file inputs are not supported.`, param,
        'unsupported_content');
    }
    throw invalidRequest(`Invalid content part type '${part.type}' in '${param}'.`, param, 'invalid_value');
  }
  return text;
}
