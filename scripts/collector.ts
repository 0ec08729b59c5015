/**
 * The standalone collector: HTTP ingest (POST /v1/events, /api/health, /api/ready) and /metrics on
 * a separate port. Configuration from the environment (no secret in a variable, only file names):
 *
 *   DATABASE_URL                 postgres:// URL of the audit store (without it: embedded PGlite in
 *                                COLLECTOR_PGLITE_DIR, or in memory)
 *   COLLECTOR_SPOOL_DIR          spool folder (default .data/collector-spool)
 *   COLLECTOR_HOST               listen address (default 127.0.0.1)
 *   COLLECTOR_PORT               ingest port (default 8088; 0 = any free port)
 *   COLLECTOR_METRICS_PORT       /metrics port (default 9465; 0 = any free port)
 *   COLLECTOR_SOURCES_FILE       JSON: [{ "id": "app", "apiKeySha256": "<hex>", "hmacSecretFile": "path" }]
 *   METRICS_BEARER_TOKEN_FILE    optional bearer token protecting /metrics
 *   COLLECTOR_SPOOL_CAPACITY_BYTES, COLLECTOR_QUEUE_CAPACITY   optional limits
 *   COLLECTOR_LOG_EVENTS         `false` to stop logging one line per stored event (default true)
 *   PAGERDUTY_ROUTING_KEY_FILE   optional: the audit chain's direct page (not through Prometheus);
 *                                PAGERDUTY_SERVER (host:port) and PAGERDUTY_CA_FILE for a proxy
 *
 * Prints one JSON line `{"msg":"collector listening","port":…,"metrics_port":…}` when ready (the
 * contract tests and scripts wait for); everything else is ECS JSON from collector/logging.
 */
import express from 'express';
import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createDirectPager } from '../alerts';
import { createCollector, createLogger, openDatabase, type EventSource } from '../collector';
import { createTelemetry } from '../exporter';

interface SourceFileEntry {
  id: string;
  apiKeySha256?: string;
  hmacSecretFile?: string;
}

function loadSources(file: string | undefined): EventSource[] {
  if (!file) throw new Error('COLLECTOR_SOURCES_FILE is required (JSON list of sources)');
  const entries = JSON.parse(readFileSync(file, 'utf8')) as SourceFileEntry[];
  if (!Array.isArray(entries) || entries.length === 0)
    throw new Error('COLLECTOR_SOURCES_FILE lists no source');
  return entries.map((e) => ({
    id: e.id,
    apiKeySha256: e.apiKeySha256,
    hmacSecret: e.hmacSecretFile ? readFileSync(e.hmacSecretFile, 'utf8').trim() : undefined,
  }));
}

function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const host = process.env.COLLECTOR_HOST ?? '127.0.0.1';
  const sources = loadSources(process.env.COLLECTOR_SOURCES_FILE);
  const telemetry = createTelemetry({});
  // ECS lines on stdout, and to Elasticsearch when ELASTICSEARCH_URL etc. are set (collector/logging).
  const logger = createLogger({ serviceName: 'telehealth-collector' });
  const database = await openDatabase({
    url: process.env.DATABASE_URL || undefined,
    dataDir: process.env.COLLECTOR_PGLITE_DIR || undefined,
  });
  telemetry.instrumentPgPool(() => database.poolStats());
  const keyFile = process.env.PAGERDUTY_ROUTING_KEY_FILE;
  const pager = keyFile
    ? createDirectPager({
        routingKeyFile: keyFile,
        server: process.env.PAGERDUTY_SERVER || undefined,
        caFile: process.env.PAGERDUTY_CA_FILE || undefined,
        source: 'telehealth-collector',
      })
    : undefined;
  const collector = createCollector({
    telemetry,
    database,
    ...(pager ? { pager } : {}),
    spoolDir: process.env.COLLECTOR_SPOOL_DIR ?? '.data/collector-spool',
    spoolCapacityBytes: process.env.COLLECTOR_SPOOL_CAPACITY_BYTES
      ? intEnv('COLLECTOR_SPOOL_CAPACITY_BYTES', 0)
      : undefined,
    queueCapacity: process.env.COLLECTOR_QUEUE_CAPACITY ? intEnv('COLLECTOR_QUEUE_CAPACITY', 0) : undefined,
    logger,
    logEvents: process.env.COLLECTOR_LOG_EVENTS !== 'false',
  });
  await collector.started;
  telemetry.readiness.register('collector', () => collector.readinessCheck());

  const app = express();
  app.disable('x-powered-by');
  app.use(telemetry.healthRouter());
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });

  // POST /v1/events is served without Express (collector/http-router.ts); the app gets the rest.
  // RED metrics wrap the request listener, as in the service: an Express layer for them would cost
  // every request a layer dispatch (BENCHMARKS.md, exporter).
  const server = http.createServer(telemetry.httpRequestListener(collector.listener({ sources }, app)));
  server.listen(intEnv('COLLECTOR_PORT', 8088), host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const metricsServer = await telemetry.startMetricsServer({
    port: intEnv('COLLECTOR_METRICS_PORT', 9465),
    host,
    bearerTokenFile: process.env.METRICS_BEARER_TOKEN_FILE || undefined,
  });
  console.log(
    JSON.stringify({
      msg: 'collector listening',
      port: (server.address() as AddressInfo).port,
      metrics_port: metricsServer.port,
    }),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    telemetry.readiness.beginShutdown();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await collector.close();
    await metricsServer.close();
    await database.close();
    pager?.close();
    await logger.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  // Start-up errors are configuration errors; their messages name variables, not data.
  console.error(JSON.stringify({ msg: 'collector failed to start', error: (err as Error).message }));
  process.exit(1);
});
