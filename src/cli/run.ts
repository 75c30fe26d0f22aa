/** `hearth run --model FILE --prompt TEXT`: one generation, streamed to stdout (or one JSON object with --json). */
import { parseArgs } from 'node:util';
import { readNodeCoreModule } from '../core/node.ts';
import { generate } from '../engine/generate.ts';
import { loadModel } from '../engine/load.ts';
import { fileSource } from '../host/node/file-source.ts';

const help = `usage: hearth run --model FILE --prompt TEXT [options]

  --model FILE         GGUF model to run
  --prompt TEXT        prompt text (tokenized with the model's BOS rules, as llama.cpp does)
  --max-tokens N       tokens to generate (default 128)
  --temperature T      0 = greedy (default 0)
  --top-k K            (default 40)   --top-p P (default 0.95)   --min-p P (default 0.05)
  --seed S             sampling seed
  --threads N          kernel threads (default 1)
  --ctx N              context size (default: prompt + max tokens)
  --json               print one JSON object: { text, tokens, prompt_tokens, timings }`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      'max-tokens': { type: 'string', default: '128' },
      temperature: { type: 'string', default: '0' },
      'top-k': { type: 'string', default: '40' },
      'top-p': { type: 'string', default: '0.95' },
      'min-p': { type: 'string', default: '0.05' },
      seed: { type: 'string' },
      threads: { type: 'string', default: '1' },
      ctx: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void console.log(help);
  if (!values.model || values.prompt === undefined) {
    console.error(`hearth run: --model and --prompt are required\n\n${help}`);
    process.exitCode = 2;
    return;
  }
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`--${name}: not a number: ${v}`);
    return n;
  };
  const maxTokens = num('max-tokens', values['max-tokens']);
  const source = await fileSource(values.model);
  const model = await loadModel(source, {
    core: readNodeCoreModule(),
    threads: num('threads', values.threads),
    onProgress: values.json ? undefined : (p) => {
      if (p.phase === 'weights') process.stderr.write(`\rloading ${((100 * p.loadedBytes) / p.totalBytes).toFixed(0)}%`);
      if (p.phase === 'ready') process.stderr.write('\r');
    },
  });
  await source.close?.();
  const prompt = model.tokenizer.encode(values.prompt, { addSpecial: true, parseSpecial: false });
  const tokens: number[] = [];
  let text = '';
  let timings = { prefillTokS: 0, decodeTokS: 0 };
  for await (const ev of generate(model, prompt, {
    maxTokens,
    temperature: num('temperature', values.temperature),
    topK: num('top-k', values['top-k']),
    topP: num('top-p', values['top-p']),
    minP: num('min-p', values['min-p']),
    seed: values.seed === undefined ? undefined : num('seed', values.seed),
    contextSize: values.ctx ? num('ctx', values.ctx) : prompt.length + maxTokens,
  })) {
    if (ev.type === 'token') {
      tokens.push(ev.id);
      text += ev.text;
      if (!values.json) process.stdout.write(ev.text);
    } else {
      text += ev.text;
      timings = ev.timings;
      if (!values.json) {
        process.stdout.write(ev.text + '\n');
        process.stderr.write(
          `\n[${tokens.length} tokens; prefill ${timings.prefillTokS.toFixed(1)} tok/s, decode ${timings.decodeTokS.toFixed(1)} tok/s]\n`,
        );
      }
    }
  }
  if (values.json) {
    console.log(
      JSON.stringify({
        text,
        tokens,
        prompt_tokens: prompt.length,
        timings: { load_ms: model.loadMs, prefill_tok_s: timings.prefillTokS, decode_tok_s: timings.decodeTokS },
      }),
    );
  }
}
