/**
 * /metrics on its own port (9464 by default), so the public API never exposes it unless the app
 * mounts `metricsHandler()` on purpose. Plain node:http: a scrape should not depend on the app stack.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errors } from './errors';
import { contentTypeOf, negotiateFormat } from './exposition';
import {
  bearerAuthorizer,
  type BearerTokenOptions,
  resolveBearerToken,
  WWW_AUTHENTICATE,
} from './metrics-auth';
import { renderRegistry } from './render';

export const DEFAULT_METRICS_PORT = 9464;

export interface MetricsServerOptions extends BearerTokenOptions {
  port?: number;
  host?: string;
}

export interface MetricsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves one scrape: auth, content negotiation, render. Shared by the server and metricsHandler(). */
export function createScrapeHandler(
  registry: Registry,
  opts: BearerTokenOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const authorized = bearerAuthorizer(resolveBearerToken(opts));
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    if (!authorized(req)) {
      res.writeHead(401, {
        'WWW-Authenticate': WWW_AUTHENTICATE,
        'Content-Type': 'text/plain; charset=utf-8',
      });
      res.end('unauthorized\n');
      return;
    }
    const format = negotiateFormat(req.headers.accept);
    renderRegistry(registry, format).then(
      (body) => {
        res.writeHead(200, {
          'Content-Type': contentTypeOf(format),
          'Cache-Control': 'no-store',
          'Content-Length': Buffer.byteLength(body),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('metrics rendering failed\n');
      },
    );
  };
}

export async function startMetricsServer(
  registry: Registry,
  opts: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const port = opts.port ?? DEFAULT_METRICS_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new errors.BAD_OPTION('port', `${String(port)} is not a TCP port`);
  }
  // Resolved before listening, so a bad token file fails start-up rather than the first scrape.
  const scrape = createScrapeHandler(registry, opts);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      scrape(req, res);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  });
  // Scrapes are short; do not let idle keep-alive sockets hold close() up.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, opts.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port: address.port,
    url: `http://${urlHost}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
