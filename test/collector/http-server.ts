/**
 * Serves the collector's ingest on an ephemeral port, mounted either way a deployment may:
 * `listener` (a plain request listener in front of an app, as scripts/collector.ts does, wrapped by
 * the RED metrics) or `router` (an Express router inside an app).
 */
import express from 'express';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Collector } from '../../collector/collector';
import type { EventsRouterOptions } from '../../collector/http-router';
import type { Telemetry } from '../../exporter';

export type IngestMount = 'listener' | 'router';
export const INGEST_MOUNTS: readonly IngestMount[] = ['listener', 'router'];

export interface IngestServer {
  url: string;
  close(): Promise<void>;
}

export async function startIngest(
  collector: Collector,
  opts: EventsRouterOptions,
  mount: IngestMount = 'router',
  telemetry?: Telemetry,
): Promise<IngestServer> {
  const app = express();
  if (mount === 'router') app.use(collector.router(opts));
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });
  let listener: http.RequestListener = mount === 'listener' ? collector.listener(opts, app) : app;
  if (telemetry) listener = telemetry.httpRequestListener(listener);
  const server = http.createServer(listener).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
