/** POST /tokenize and /detokenize, in llama.cpp's server shapes. */
import type { Hono } from 'hono';
import type { AppContext } from '../app.ts';
import { readJsonBody } from '../body.ts';
import { invalidRequest } from '../errors.ts';
import { detokenizeRequestSchema, parseBody, tokenizeRequestSchema } from '../schemas.ts';
import { checkModel } from './info.ts';

export function tokenizeRoutes(app: Hono, ctx: AppContext): void {
  app.post('/tokenize', async (c) => {
    const body = parseBody(tokenizeRequestSchema, await readJsonBody(c.req.raw, ctx.config.maxBodyBytes));
    const serving = await ctx.serving();
    checkModel(body.model, serving);
    const { engine } = serving;
    // llama.cpp's /tokenize defaults: no BOS/EOS added, special-token text parsed as specials
    const tokens = engine.tokenize(body.content, {
      addSpecial: body.add_special ?? false,
      parseSpecial: body.parse_special ?? true,
    });
    if (body.with_pieces) return c.json({ tokens: tokens.map((id) => ({ id, piece: engine.tokenText(id) })) });
    return c.json({ tokens });
  });

  app.post('/detokenize', async (c) => {
    const body = parseBody(detokenizeRequestSchema, await readJsonBody(c.req.raw, ctx.config.maxBodyBytes));
    const serving = await ctx.serving();
    checkModel(body.model, serving);
    const { engine } = serving;
    const vocab = engine.info.vocabSize;
    const bad = body.tokens.findIndex((id) => id >= vocab);
    if (bad >= 0) {
      throw invalidRequest(
        `Invalid value for 'tokens[${bad}]': ${body.tokens[bad]} is not a token id of this model (0..${vocab - 1}).`,
        `tokens[${bad}]`,
        'invalid_value',
      );
    }
    return c.json({ content: engine.detokenize(body.tokens) });
  });
}
