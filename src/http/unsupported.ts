/**
 * OpenAI parameters hearth knows but does not implement. A value that changes nothing (`n: 1`, `tools: []`,
 * `response_format: {type: "text"}`) is accepted, because client libraries send such defaults; any other value is a
 * 400 that names the parameter, so a client never gets a silently different behaviour.
 */
import { invalidRequest } from './errors.ts';
import type { ChatRequest, CompletionRequest } from './schemas.ts';

type Check = (value: unknown) => boolean;

const isNone: Check = (v) => v === undefined || v === null;
const isEmpty: Check = (v) => isNone(v) || (Array.isArray(v) && v.length === 0);
const isOne: Check = (v) => isNone(v) || v === 1;

const chatNoOps: Record<string, [Check, string]> = {
  n: [isOne, 'only n = 1 is supported'],
  tools: [isEmpty, 'tool calling is not supported'],
  tool_choice: [(v) => isNone(v) || v === 'none' || v === 'auto', 'tool calling is not supported'],
  parallel_tool_calls: [(v) => isNone(v) || typeof v === 'boolean', 'tool calling is not supported'],
  functions: [isEmpty, 'function calling is not supported'],
  function_call: [(v) => isNone(v) || v === 'none' || v === 'auto', 'function calling is not supported'],
  response_format: [
    (v) => isNone(v) || (typeof v === 'object' && (v as { type?: unknown }).type === 'text'),
    'structured output (json_object / json_schema) is not supported',
  ],
  modalities: [
    (v) => isNone(v) || (Array.isArray(v) && v.every((m) => m === 'text')),
    'only the text output modality is supported',
  ],
  audio: [isNone, 'audio output is not supported'],
  prediction: [isNone, 'predicted outputs are not supported'],
  reasoning_effort: [isNone, 'reasoning_effort is not supported'],
  web_search_options: [isNone, 'web search is not supported'],
  store: [(v) => isNone(v) || v === false, 'stored completions are not supported'],
  metadata: [(v) => isNone(v) || typeof v === 'object', 'metadata must be an object'],
  service_tier: [(v) => isNone(v) || v === 'auto' || v === 'default', 'service tiers are not supported'],
};

const completionNoOps: Record<string, [Check, string]> = {
  n: [isOne, 'only n = 1 is supported'],
  best_of: [isOne, 'only best_of = 1 is supported'],
  suffix: [(v) => isNone(v) || v === '', 'suffix (fill-in-the-middle) is not supported'],
};

function check(body: Record<string, unknown>, table: Record<string, [Check, string]>): void {
  for (const [param, [ok, why]] of Object.entries(table)) {
    if (!ok(body[param])) {
      throw invalidRequest(`Unsupported value for '${param}': ${why}.`, param, 'unsupported_parameter');
    }
  }
}

export function rejectUnsupportedChat(body: ChatRequest): void {
  check(body, chatNoOps);
  if (!isNone(body.stream_options) && body.stream !== true) {
    throw invalidRequest(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
      'invalid_value',
    );
  }
  if (!isNone(body.top_logprobs) && body.logprobs !== true) {
    throw invalidRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs', 'invalid_value');
  }
  if (!isNone(body.max_tokens) && !isNone(body.max_completion_tokens) && body.max_tokens !== body.max_completion_tokens) {
    throw invalidRequest(
      "Give only one of 'max_tokens' and 'max_completion_tokens'.",
      'max_completion_tokens',
      'invalid_value',
    );
  }
}

export function rejectUnsupportedCompletion(body: CompletionRequest): void {
  check(body, completionNoOps);
  if (!isNone(body.stream_options) && body.stream !== true) {
    throw invalidRequest(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
      'invalid_value',
    );
  }
}
