/**
 * GET / (the playground page) and GET /playground/<asset>. The page is static and holds no secret, so these routes
 * are mounted before the API-key check: the page asks for the key and sends it with its API calls.
 *
 * Served with a strict Content-Security-Policy: scripts, styles and fetches from this origin only, nothing inline,
 * no eval, no frames; images and audio may also be `data:` / `blob:` URLs (previews of what the user attaches).
 * Trusted Types are required for script sinks: the page never writes HTML, it builds DOM nodes.
 */
import type { Hono } from 'hono';
import { playgroundAssets } from '../../playground/assets.ts';

export const playgroundCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const securityHeaders = {
  'content-security-policy': playgroundCsp,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'microphone=(self), camera=(), geolocation=()',
};

export function playgroundRoutes(app: Hono): void {
  app.get('/', async (c) => {
    const { html } = await playgroundAssets();
    return c.body(html, 200, {
      ...securityHeaders,
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
    });
  });

  app.get('/playground/:file', async (c) => {
    const { files } = await playgroundAssets();
    const name = c.req.param('file');
    if (!Object.hasOwn(files, name)) return c.notFound();
    const file = files[name];
    // content-hashed names: a new build links new names, so an old copy can be kept for good
    return c.body(file.body, 200, {
      ...securityHeaders,
      'content-type': file.type,
      'cache-control': 'public, max-age=31536000, immutable',
    });
  });
}
