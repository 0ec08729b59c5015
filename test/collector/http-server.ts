/** Starts an express app with the collector router on an ephemeral port. */
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Collector } from '../../collector/collector';
import type { EventsRouterOptions } from '../../collector/http-router';

export interface IngestServer {
  url: string;
  close(): Promise<void>;
}

export async function startIngest(collector: Collector, opts: EventsRouterOptions): Promise<IngestServer> {
  const app = express();
  app.use(collector.router(opts));
  const server = app.listen(0, '127.0.0.1');
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
