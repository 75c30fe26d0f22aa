/** `hearth serve`: the OpenAI-compatible app on Node, the same app the worker bundle serves. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readNodeCoreModule } from '../core/node.ts';
import { assistantBeside, mmprojBeside } from '../host/node/companions.ts';
import { fileSource } from '../host/node/file-source.ts';
import { serveNode } from '../host/node/serve.ts';
import { startEngine } from '../host/start.ts';
import { createApp } from '../http/app.ts';
import { configFromEnv, ConfigError, wholeNumber } from '../http/config.ts';
import { ServedModel } from '../http/served-model.ts';

const help = `usage: hearth serve [--model FILE] [options]

  --model FILE       GGUF model to serve (default: the embedded hearth-nano, dist/hearth-nano.gguf)
  --port P           port (default: $PORT or 8787)
  --host H           address to listen on (default: $HOST or 127.0.0.1)
  --parallel N       parallel slots, each with its own KV cache (default 4)
  --threads N        kernel threads (default: the engine's choice)
  --ctx N            context per slot in tokens (default: trained context, at most 4096)
  --queue N          requests that may wait for a slot before 429 (default 64)
  --api-key KEY      require 'Authorization: Bearer KEY' (default: $HEARTH_API_KEY; none = open)
  --cors ORIGINS     allow these origins (comma-separated, or *); CORS is off by default
  --max-body BYTES   largest request body (default 33554432)
  --speculative T[:N][:fixed]  default speculative decoding: ngram, draft (needs --draft-model), mtp or none;
                     N tokens per draft at most (each step's length chosen by measured acceptance and cost;
                     fixed: always N)
  --draft-model FILE a smaller GGUF with the same vocabulary (--speculative draft), or a Gemma 4 MTP assistant
                     (--speculative mtp; default: NAME-assistant.gguf beside the model, if there is one)
  --mmproj FILE      multimodal projector for image and audio input (default: NAME-mmproj.gguf or
                     mmproj-NAME.gguf beside the model, if there is one)
  --no-mmproj        do not look for a projector beside the model
  --image-max-tokens N  soft tokens per image at most (default 1120, as llama.cpp; the batch grows to hold one image)
  --allow-remote-media  fetch http(s) image URLs named in requests (off by default)

Environment: HEARTH_API_KEY, HEARTH_CORS_ORIGINS, HEARTH_MAX_BODY_BYTES, HEARTH_PARALLEL, HEARTH_QUEUE_LIMIT,
HEARTH_CONTEXT, HEARTH_THREADS, HEARTH_SPECULATIVE, HEARTH_MAX_MEDIA_BYTES, HEARTH_MAX_IMAGE_PIXELS,
HEARTH_MAX_AUDIO_SECONDS, HEARTH_MAX_MEDIA_ITEMS, HEARTH_ALLOW_REMOTE_MEDIA, PORT, HOST (flags win).`;

/** The embedded demo model: beside the bundle (dist/cli.js), or in dist/ when run from source. */
function defaultModelPath(): string {
  for (const rel of ['./hearth-nano.gguf', '../../dist/hearth-nano.gguf']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new ConfigError('no --model given and the embedded default model is missing: run `npm run build` first');
}

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        parallel: { type: 'string' },
        threads: { type: 'string' },
        ctx: { type: 'string' },
        queue: { type: 'string' },
        'api-key': { type: 'string' },
        cors: { type: 'string' },
        'max-body': { type: 'string' },
        speculative: { type: 'string' },
        'draft-model': { type: 'string' },
        mmproj: { type: 'string' },
        'no-mmproj': { type: 'boolean', default: false },
        'image-max-tokens': { type: 'string' },
        'allow-remote-media': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    console.error(`hearth serve: ${(err as Error).message}\n\n${help}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) return void console.log(help);

  const env: Record<string, string | undefined> = { ...process.env };
  const flagToEnv: [string | undefined, string][] = [
    [values.parallel, 'HEARTH_PARALLEL'],
    [values.threads, 'HEARTH_THREADS'],
    [values.ctx, 'HEARTH_CONTEXT'],
    [values.queue, 'HEARTH_QUEUE_LIMIT'],
    [values['api-key'], 'HEARTH_API_KEY'],
    [values.cors, 'HEARTH_CORS_ORIGINS'],
    [values['max-body'], 'HEARTH_MAX_BODY_BYTES'],
    [values.speculative, 'HEARTH_SPECULATIVE'],
    [values['image-max-tokens'], 'HEARTH_IMAGE_MAX_TOKENS'],
    [values['allow-remote-media'] ? '1' : undefined, 'HEARTH_ALLOW_REMOTE_MEDIA'],
  ];
  for (const [flag, name] of flagToEnv) if (flag !== undefined) env[name] = flag;

  let config, port: number, modelPath: string, mmprojPath: string | null, draftPath: string | null;
  try {
    config = configFromEnv(env);
    port = wholeNumber(values.port ?? env.PORT ?? '8787', '--port', 1, 65535);
    modelPath = values.model ?? defaultModelPath();
    mmprojPath = values.mmproj ?? (values['no-mmproj'] ? null : mmprojBeside(modelPath));
    draftPath = values['draft-model'] ?? assistantBeside(modelPath);
  } catch (err) {
    console.error(`hearth serve: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const hostname = values.host ?? env.HOST ?? '127.0.0.1';

  let lastPct = -1;
  const model = ServedModel.load(async (onProgress) =>
    startEngine(
      await fileSource(modelPath),
      readNodeCoreModule(),
      config.engine,
      {
        onProgress: (p) => {
          onProgress(p);
          const pct = p.totalBytes > 0 ? Math.floor((100 * p.loadedBytes) / p.totalBytes) : 0;
          if (p.phase === 'weights' && pct !== lastPct && process.stderr.isTTY) process.stderr.write(`\rloading ${pct}%`);
          lastPct = pct;
        },
        draft: draftPath ? await fileSource(draftPath) : undefined,
        mmproj: mmprojPath ? await fileSource(mmprojPath) : undefined,
      },
    ),
  );
  const server = await serveNode(createApp(model, config.server), { port, hostname });
  const extras = [mmprojPath && `projector ${mmprojPath}`, draftPath && `draft ${draftPath}`].filter(Boolean).join(', ');
  console.log(`hearth: listening on ${server.url} (model ${modelPath}${extras ? `, ${extras}` : ''})`);

  const engine = await model.whenReady().catch((err: Error) => {
    console.error(`\nhearth: the model failed to load: ${err.message}`);
    return null;
  });
  if (!engine) {
    await server.close();
    process.exitCode = 1;
    return;
  }
  const s = engine.stats();
  console.log(`hearth: ready: ${engine.info.id} (${engine.info.arch}), ${s.slots} slots × ${s.contextPerSlot} tokens`);

  const stop = async () => {
    await server.close();
    await engine.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
