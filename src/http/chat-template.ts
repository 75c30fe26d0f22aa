/**
 * Chat messages → prompt text, through the model's own `tokenizer.chat_template` rendered with @huggingface/jinja.
 * A model without a template (or with one our jinja cannot parse) gets ChatML, as llama.cpp's server does.
 */
import { Template } from '@huggingface/jinja';
import type { ModelInfo } from '../engine/api.ts';
import { invalidRequest } from './errors.ts';

/** The fallback, equivalent to llama.cpp's built-in ChatML template. */
const chatmlSource =
  "{%- for message in messages -%}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}" +
  "{%- endfor -%}{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

export interface TemplateMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface TemplateDescription {
  /** Where the template came from. */
  source: 'gguf' | 'chatml-fallback';
  /** Why the GGUF's template was not used, when it exists but failed to parse. */
  reason?: string;
}

export class ChatTemplate {
  readonly description: TemplateDescription;
  private readonly template: Template;

  constructor(
    private readonly info: ModelInfo,
    /** Whether tokenizing with special tokens already adds BOS / EOS (then a template's own copy is dropped). */
    private readonly addsBos: boolean,
    private readonly addsEos: boolean,
  ) {
    let template: Template | null = null;
    let reason: string | undefined;
    if (info.chatTemplate) {
      try {
        template = new Template(info.chatTemplate);
      } catch (err) {
        reason = `the GGUF chat template does not parse: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    this.template = template ?? new Template(chatmlSource);
    this.description = template ? { source: 'gguf' } : { source: 'chatml-fallback', ...(reason ? { reason } : {}) };
  }

  render(messages: TemplateMessage[]): string {
    let text: string;
    try {
      text = this.template.render({
        messages,
        add_generation_prompt: true,
        bos_token: this.info.bosToken ?? '',
        eos_token: this.info.eosToken ?? '',
      });
    } catch (err) {
      // templates reject conversations they cannot express (raise_exception: "roles must alternate", ...)
      throw invalidRequest(
        `The model's chat template rejected the messages: ${err instanceof Error ? err.message : String(err)}`,
        'messages',
        'invalid_messages',
      );
    }
    // As llama.cpp: the tokenizer adds BOS/EOS itself when the model asks for them, so a template's copy would double.
    const bos = this.info.bosToken;
    const eos = this.info.eosToken;
    if (this.addsBos && bos && text.startsWith(bos)) text = text.slice(bos.length);
    if (this.addsEos && eos && text.endsWith(eos)) text = text.slice(0, -eos.length);
    return text;
  }
}
