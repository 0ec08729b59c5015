/**
 * Wires the collector (validate -> metrics -> spool -> audit store, in the same database as the
 * service) and the allow-listed logger (one access-log line per request) into the service, and
 * registers the business gauges the collector refreshes on its schedule.
 */
import { join } from 'node:path';
import type { RequestListener } from 'node:http';
import { createDirectPager } from '../alerts';
import type { Telemetry } from '../exporter';
import {
  accessLogListener,
  createCollector,
  createLogger,
  logCountersFromTelemetry,
  type Collector,
  type CollectorSchedule,
  type Database,
  type Logger,
} from './collector-api';
import type { AppConfig } from './config';

export interface Observability {
  collector: Collector;
  logger: Logger;
  /** Wraps the app's request listener: one access-log line per request. */
  accessLog: (listener: RequestListener) => RequestListener;
  logError(err: unknown): void;
  close(): Promise<void>;
}

/** Business gauges: one indexed count each (see the partial indexes in 001_core.sql). */
const GAUGE_QUERIES = {
  orders_open: `SELECT count(*)::int AS value FROM orders WHERE status = 'open'`,
  prescriptions_pending: `SELECT count(*)::int AS value FROM prescriptions WHERE status = 'pending'`,
  invoices_unpaid: `SELECT count(*)::int AS value FROM invoices WHERE status = 'unpaid'`,
} as const;

export async function createObservability(opts: {
  config: AppConfig;
  telemetry: Telemetry;
  database: Database;
  /** false: no log output at all (the benchmark's baseline). */
  logging: boolean;
  schedule?: CollectorSchedule;
}): Promise<Observability> {
  const { config } = opts;
  const silent = config.logLevel === 'silent' || !opts.logging;
  const logger = createLogger({
    serviceName: config.serviceName,
    serviceVersion: config.version,
    serviceEnvironment: config.nodeEnv,
    level: config.logLevel === 'silent' ? 'fatal' : config.logLevel,
    destination: silent ? 'none' : 'stdout',
    elasticsearch: silent ? false : 'env',
    counters: logCountersFromTelemetry(opts.telemetry),
  });
  // The audit chain's page goes straight to PagerDuty, not through Prometheus (when configured).
  const pager = config.pagerDuty
    ? createDirectPager({ ...config.pagerDuty, source: `${config.serviceName}-collector` })
    : undefined;
  const collector = createCollector({
    telemetry: opts.telemetry,
    database: opts.database,
    spoolDir: join(config.dataDir, 'spool'),
    source: config.serviceName,
    logger,
    ...(pager ? { pager } : {}),
    ...(opts.schedule ? { schedule: opts.schedule } : {}),
  });
  await collector.started;
  for (const [name, sql] of Object.entries(GAUGE_QUERIES))
    collector.registerGauge(name as keyof typeof GAUGE_QUERIES, sql);
  // First values now rather than at the first scheduled tick.
  await collector.refreshGauges().catch(() => undefined);
  return {
    collector,
    logger,
    accessLog: accessLogListener(logger),
    logError: (err) => logger.error({ err, 'event.action': 'internal_error' }, 'request failed'),
    async close() {
      try {
        await collector.close();
      } finally {
        pager?.close();
        await logger.close();
      }
    },
  };
}
