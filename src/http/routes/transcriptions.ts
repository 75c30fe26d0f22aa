/**
 * POST /v1/audio/transcriptions (OpenAI's multipart form): the audio file becomes a chat turn as llama.cpp's server
 * builds it — the instruction ("Transcribe audio to text", or the request's `prompt`), " (language: X)" when a
 * language is given, then the audio — and the model's answer is the transcript.
 */
import type { Hono } from 'hono';
import type { AppContext } from '../app.ts';
import { readFormBody } from '../body.ts';
import { invalidRequest } from '../errors.ts';
import { collect, usageOf } from '../generation.ts';
import { mediaMarker, mediaPrompt, mediaSupport } from '../media.ts';
import { maxTokensFor, samplingFrom } from '../sampling.ts';
import { checkModel } from './info.ts';

const instruction = 'Transcribe audio to text';
const formats = ['json', 'text', 'verbose_json'] as const;
type Format = (typeof formats)[number];

/** Form fields OpenAI defines that hearth does not implement: named in the 400 rather than ignored. */
const unsupported: Record<string, string> = {
  'timestamp_granularities[]': 'word/segment timestamps are not supported',
  timestamp_granularities: 'word/segment timestamps are not supported',
  chunking_strategy: 'chunking strategies are not supported',
  'include[]': 'logprobs for transcriptions are not supported',
  include: 'logprobs for transcriptions are not supported',
  known_speaker_names: 'speaker names are not supported',
  known_speaker_references: 'speaker references are not supported',
};
const known = new Set(['file', 'model', 'prompt', 'language', 'response_format', 'temperature', 'stream', 'max_tokens']);

export function transcriptionRoutes(app: Hono, ctx: AppContext): void {
  app.post('/v1/audio/transcriptions', async (c) => {
    const form = await readFormBody(c.req.raw, ctx.config.maxBodyBytes);
    for (const key of form.keys()) {
      if (unsupported[key]) {
        throw invalidRequest(`Unsupported parameter '${key}': ${unsupported[key]}.`, key, 'unsupported_parameter');
      }
      if (!known.has(key)) throw invalidRequest(`Unrecognized request argument supplied: ${key}`, key, 'unknown_parameter');
    }
    const file = form.get('file');
    if (file === null) throw invalidRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
    if (typeof file === 'string') {
      throw invalidRequest("Invalid value for 'file': expected an uploaded file, not a text field.", 'file', 'invalid_value');
    }
    const field = (name: string): string | null => {
      const v = form.get(name);
      if (v !== null && typeof v !== 'string') {
        throw invalidRequest(`Invalid value for '${name}': expected a text field.`, name, 'invalid_value');
      }
      return v;
    };
    const format = (field('response_format') ?? 'json') as Format;
    if (!formats.includes(format)) {
      throw invalidRequest(
        `Unsupported value for 'response_format': '${format}' (supported: ${formats.join(', ')}).`,
        'response_format',
        'unsupported_value',
      );
    }
    if ((field('stream') ?? 'false') !== 'false') {
      throw invalidRequest("Unsupported value for 'stream': streaming transcriptions are not supported.", 'stream',
        'unsupported_value');
    }
    const temperature = numberField(field('temperature'), 'temperature', 0, 1) ?? 0;
    const maxTokens = numberField(field('max_tokens'), 'max_tokens', 1, Number.MAX_SAFE_INTEGER);
    const language = field('language');

    const serving = await ctx.serving();
    checkModel(field('model'), serving);
    const { engine, template } = serving;
    mediaSupport(engine, 'audio', 'file');

    let prompt = field('prompt') || instruction;
    if (language) prompt += ` (language: ${language})`;
    const text = template.render([{ role: 'user', content: prompt + mediaMarker }]);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const built = mediaPrompt(engine, text, [{ kind: 'audio', bytes, param: 'file' }], ctx.media);
    const context = engine.stats().contextPerSlot;
    const result = await collect(
      engine.submit({
        prompt: built.prompt,
        media: built.media,
        maxTokens: maxTokensFor(maxTokens, built.prompt.length, context, 'max_tokens'),
        sampling: { ...samplingFrom({}, engine.info.vocabSize), temperature },
        signal: c.req.raw.signal,
      }),
    );
    const transcript = result.text.trim();
    if (format === 'text') return c.text(transcript);
    const usage = usageOf(result.usage);
    if (format === 'json') return c.json({ text: transcript, usage: { type: 'tokens', ...usage } });
    const duration = built.audioSeconds;
    return c.json({
      task: 'transcribe',
      language: language ?? 'unknown',
      duration,
      text: transcript,
      segments: [
        { id: 0, seek: 0, start: 0, end: duration, text: transcript, tokens: result.tokens.map((t) => t.id), temperature },
      ],
      usage: { type: 'tokens', ...usage },
    });
  });
}

function numberField(value: string | null, name: string, min: number, max: number): number | undefined {
  if (value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max || (name === 'max_tokens' && !Number.isInteger(n))) {
    throw invalidRequest(`Invalid value for '${name}': expected a number from ${min} to ${max}, got '${value}'.`, name,
      'invalid_value');
  }
  return n;
}
