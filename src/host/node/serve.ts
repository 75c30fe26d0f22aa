/** Serving the app from Node with @hono/node-server (the CLI, tests and benches use this). */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { HearthApp } from '../../http/app.ts';

export interface NodeServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listen on `hostname:port` (port 0 = any free port) and resolve once listening. */
export function serveNode(app: HearthApp, options: { port: number; hostname: string }): Promise<NodeServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.hostname }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            // open SSE streams would keep close() waiting forever
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
    server.once('error', reject);
  });
}
