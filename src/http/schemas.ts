/**
 * Request bodies, validated with zod. Objects are strict at the top level: an argument we do not know is an error
 * ("Unrecognized request argument supplied", as OpenAI says), never silently dropped. `null` means "not given", as
 * OpenAI accepts it for every optional field. Parameters we know but do not implement are typed loosely here and
 * refused (or accepted when their value is a no-op) in unsupported.ts, so the message can say why.
 */
import * as z from 'zod';
import { invalidRequest, type ApiError } from './errors.ts';

const maxStops = 16;

const stop = z
  .union([z.string(), z.array(z.string()).max(maxStops)], {
    error: `must be a string or an array of at most ${maxStops} strings`,
  })
  .nullish();

const probability = z.number().min(0).max(1).nullish();
const penalty = z.number().min(-2).max(2).nullish();
const positiveInt = z.number().int().min(1).nullish();

/** Shared by chat and completions: the OpenAI sampling knobs plus llama.cpp's extras. */
const samplingFields = {
  model: z.string().max(256).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: probability,
  presence_penalty: penalty,
  frequency_penalty: penalty,
  seed: z.number().int().nullish(),
  stop,
  n: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().nullish() }).nullish(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
  user: z.string().nullish(),
  // llama.cpp server extensions
  top_k: z.number().int().min(0).nullish(),
  min_p: probability,
  repeat_penalty: z.number().min(0).max(10).nullish(),
  repeat_last_n: z.number().int().min(0).max(1 << 20).nullish(),
  // hearth: speculative decoding for this request ({ type: 'none' } turns the server default off)
  speculative: z
    .strictObject({
      type: z.enum(['none', 'ngram', 'draft', 'mtp'], { error: 'must be one of none, ngram, draft, mtp' }),
      n_max: z.number().int().min(1).max(16).nullish(),
      adaptive: z.boolean().nullish(),
    })
    .nullish(),
};

const contentPart = z.looseObject({ type: z.string() });

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function'], {
    error: 'must be one of system, developer, user, assistant',
  }),
  content: z.union([z.string(), z.array(contentPart)], { error: 'must be a string or an array of content parts' }).nullish(),
  name: z.string().nullish(),
  tool_calls: z.array(z.unknown()).nullish(),
});

export const chatRequestSchema = z.strictObject({
  ...samplingFields,
  messages: z.array(message).min(1, { error: 'must contain at least one message' }),
  max_tokens: positiveInt,
  max_completion_tokens: positiveInt,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  // known, not implemented: checked in unsupported.ts
  tools: z.unknown().optional(),
  tool_choice: z.unknown().optional(),
  parallel_tool_calls: z.unknown().optional(),
  functions: z.unknown().optional(),
  function_call: z.unknown().optional(),
  response_format: z.unknown().optional(),
  modalities: z.unknown().optional(),
  audio: z.unknown().optional(),
  prediction: z.unknown().optional(),
  reasoning_effort: z.unknown().optional(),
  web_search_options: z.unknown().optional(),
  store: z.unknown().optional(),
  metadata: z.unknown().optional(),
  service_tier: z.unknown().optional(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatMessage = z.infer<typeof message>;

const tokenIds = z.array(z.number().int().min(0));

export const completionRequestSchema = z.strictObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)], {
    error: 'must be a string, an array of strings, an array of token ids, or an array of token-id arrays',
  }),
  max_tokens: positiveInt,
  logprobs: z.number().int().min(0).max(20).nullish(),
  echo: z.boolean().nullish(),
  // known, not implemented
  suffix: z.unknown().optional(),
  best_of: z.unknown().optional(),
});
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

export const tokenizeRequestSchema = z.strictObject({
  model: z.string().max(256).nullish(),
  content: z.string(),
  add_special: z.boolean().nullish(),
  parse_special: z.boolean().nullish(),
  with_pieces: z.boolean().nullish(),
});

export const detokenizeRequestSchema = z.strictObject({
  model: z.string().max(256).nullish(),
  tokens: tokenIds,
});

/** Validate `body` against `schema`, or throw a 400 naming the first offending parameter. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw issueError(result.error.issues[0], body);
}

function issueError(issue: z.core.$ZodIssue, body: unknown): ApiError {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const where = issue.path.length ? ` in ${paramName(issue.path)}` : '';
    return invalidRequest(`Unrecognized request argument supplied${where}: ${key}`, joinParam(issue.path, key), 'unknown_parameter');
  }
  const param = paramName(issue.path);
  if (issue.path.length === 0) {
    return invalidRequest(
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? issue.message
        : 'The request body must be a JSON object.',
    );
  }
  const given = valueAt(body, issue.path);
  const message =
    given === undefined
      ? `Missing required parameter: '${param}'.`
      : `Invalid value for '${param}': ${describeIssue(issue)}.`;
  return invalidRequest(message, param, given === undefined ? 'missing_required_parameter' : 'invalid_value');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'array'
        ? issue.message.startsWith('must')
          ? issue.message
          : `must have at least ${issue.minimum} item(s)`
        : `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `must have at most ${issue.maximum} ${issue.origin === 'string' ? 'characters' : 'items'}`
        : `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    case 'invalid_type':
      return `expected ${issue.expected === 'int' ? 'an integer' : issue.expected}`;
    default:
      return issue.message;
  }
}

function paramName(path: PropertyKey[]): string {
  return path.reduce<string>(
    (s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)),
    '',
  );
}

function joinParam(path: PropertyKey[], key: string): string {
  return path.length ? `${paramName(path)}.${key}` : key;
}

function valueAt(body: unknown, path: PropertyKey[]): unknown {
  let v: unknown = body;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}
