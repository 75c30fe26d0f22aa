/**
 * Starting real hosts in tests: free ports on 127.0.0.1, child processes that are always killed, waiting for an
 * HTTP endpoint with a deadline, and a build of dist/ into a temporary folder laid out like the repo (so the
 * committed capnp configs, which embed "../dist/...", work unchanged).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './models.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Child {
  process: ChildProcess;
  /** stdout + stderr so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawn `command` in its own process group, so stopping it also stops what it started (wrangler's workerd). */
export function startChild(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Child {
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const group = -child.pid!;
      try {
        process.kill(group, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(group, 'SIGKILL');
        } catch {}
      }, 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Poll `url` until it answers `ok(status)`, the child dies, or the deadline passes. */
export async function waitForHttp(
  url: string,
  child: Child | null,
  timeoutMs: number,
  ok: (status: number) => boolean = (s) => s === 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && (child.process.exitCode !== null || child.process.signalCode !== null)) {
      throw new Error(`the server exited before answering ${url}:\n${child.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      last = `${res.status} ${await res.text()}`;
      if (ok(res.status)) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not become ready in ${timeoutMs} ms (last: ${last})\n${child?.output() ?? ''}`);
}

/**
 * Build the bundle into <tmp>/dist and copy the committed workerd configs and pipeline example into <tmp>/scripts.
 * Returns the temporary root; remove it with `rmSync(root, { recursive: true })`.
 */
export async function buildIntoTemp(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'hearth-build-'));
  try {
    const { build } = await import('../../scripts/build.js');
    await build({ outdir: join(root, 'dist'), quiet: true });
    mkdirSync(join(root, 'scripts'));
    for (const f of ['workerd.capnp', 'workerd-pipeline.capnp', 'workerd-files.capnp', 'pipeline-worker.js']) {
      copyFileSync(join(repoRoot, 'scripts', f), join(root, 'scripts', f));
    }
    return root;
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

export const bin = (name: string) => join(repoRoot, 'node_modules/.bin', name);
