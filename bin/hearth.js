#!/usr/bin/env node
// The CLI is bundled into dist/ by `npm run build` (run by `npm install` through the prepare script).
import { existsSync } from 'node:fs';
const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('hearth: dist/cli.js is missing; run `npm run build` first.');
  process.exit(1);
}
await import(cli.href);
