/**
 * startService(): builds and starts the whole service (config, database + migrations, collector,
 * telemetry, API server, /metrics server) and returns a handle with `close()`. `npm start`,
 * the tests, the end-to-end suite and the benchmark all start it through here.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTelemetry, type Telemetry } from '../exporter';
import { createPasswordHasher } from './auth/passwords';
import { drainAccountChanges } from './auth/account-change-outbox';
import {
  FolderLease,
  openDatabase,
  registerTraceSamplingMetrics,
  traceRequestListener,
  traceServer,
  type Collector,
  type CollectorSchedule,
  type Database,
} from './collector-api';
import { loadConfig, type AppConfig } from './config';
import type { AppContext } from './context';
import { createPhiCipher } from './crypto/phi-cipher';
import { bindPhiToPatients } from './db/bind-phi';
import { migrate } from './db/migrate';
import { createEventReporter, type EventSink } from './events/event-reporter';
import { answerClientErrors } from './http/client-error';
import { createApp, responseHeaders } from './http/create-app';
import { createFaultSwitch, type FaultSwitch } from './http/fault-switch';
import { createObservability, type Observability } from './observability';
import {
  readCredentialsFile,
  seedDemoData,
  writeCredentialsFile,
  type DemoCredentials,
} from './seed/demo-seed';

export interface StartServiceOptions {
  /** Environment to read the config from (default process.env); merged under the overrides below. */
  env?: Record<string, string | undefined>;
  /** Convenience overrides (tests pass port 0). */
  port?: number;
  metricsPort?: number;
  host?: string;
  dataDir?: string;
  databaseUrl?: string;
  faultInjection?: boolean;
  /**
   * Instrumentation switches (default all on). `false` turns off the RED metrics middleware and the
   * access log (the benchmark's baseline); tracing is the preload's, outside this process's code.
   */
  instrumentation?: boolean | { metrics?: boolean; accessLog?: boolean };
  /** Start the /metrics server (default true). */
  metricsServer?: boolean;
  /** Test tap: every event the service reports, after the collector accepted or refused it. */
  onEvent?: (event: Record<string, unknown>) => void;
  /** Where start-up messages go (default console.log; never given a secret). */
  print?: (line: string) => void;
  /**
   * The collector's schedule of jobs (collector.ts `schedule`; default: its own). Tests switch a job
   * off and run it with `collector.runJob()`, so a tick cannot fall in the middle of what they count.
   */
  schedule?: CollectorSchedule;
  /** The data folder's lease timing (folder-lease.ts; defaults: stale after 30 s, renewed every 5 s). */
  dataLease?: { staleMs?: number; renewMs?: number };
  /**
   * Called when another process took the data folder (this one was frozen past its lease): the
   * service is already closing itself. `npm start` exits non-zero on it, to be replaced.
   */
  onLeaseLost?: () => void;
}

export interface RunningService {
  readonly apiUrl: string;
  readonly metricsUrl: string | null;
  readonly port: number;
  readonly metricsPort: number | null;
  readonly config: AppConfig;
  readonly database: Database;
  readonly telemetry: Telemetry;
  readonly collector: Collector;
  readonly faults: FaultSwitch | null;
  /** Demo credentials when demo data is seeded (from this start or the credentials file). */
  readonly credentials: DemoCredentials | null;
  /** The number of events the collector refused (a bug if not 0). */
  rejectedEvents(): number;
  /** Graceful stop: readiness 503, in-flight requests finish, events flushed, pool closed. */
  close(): Promise<void>;
}

export async function startService(opts: StartServiceOptions = {}): Promise<RunningService> {
  const env: Record<string, string | undefined> = { ...(opts.env ?? process.env) };
  if (opts.port !== undefined) env.PORT = String(opts.port);
  if (opts.metricsPort !== undefined) env.METRICS_PORT = String(opts.metricsPort);
  if (opts.host !== undefined) env.HOST = opts.host;
  if (opts.dataDir !== undefined) env.DATA_DIR = opts.dataDir;
  if (opts.databaseUrl !== undefined) env.DATABASE_URL = opts.databaseUrl;
  if (opts.faultInjection !== undefined) env.FAULT_INJECTION = opts.faultInjection ? 'enabled' : 'disabled';
  const print = opts.print ?? ((l: string) => console.log(l));
  const config = loadConfig(env, { warn: print });
  const parts =
    typeof opts.instrumentation === 'object'
      ? {
          metrics: opts.instrumentation.metrics !== false,
          accessLog: opts.instrumentation.accessLog !== false,
        }
      : { metrics: opts.instrumentation !== false, accessLog: opts.instrumentation !== false };
  const instrumented = parts.metrics || parts.accessLog;

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // One service per data folder: a second one would open the same embedded database and spool.
  let onLeaseLost: () => void = () => undefined;
  const lease = await FolderLease.acquire(config.dataDir, {
    name: 'data',
    ...opts.dataLease,
    onLost: () => onLeaseLost(),
  });
  const telemetry = createTelemetry({ version: config.version });
  let database: Database;
  try {
    database = await openDatabase(
      config.databaseUrl
        ? { url: config.databaseUrl, poolMax: config.dbPoolMax }
        : { dataDir: join(config.dataDir, 'pglite') },
    );
  } catch (err) {
    await lease.release();
    throw err;
  }
  // Run in order on close; the lease goes last, once nothing uses the folder any more.
  const cleanups: Array<() => Promise<void>> = [() => database.close()];
  let obs: Observability | undefined;
  try {
    await migrate(database);
    if (parts.metrics) {
      telemetry.instrumentPgPool(() => database.poolStats());
      // Only while the tracing preload runs: how many requests were sampled, and whether the cap binds.
      registerTraceSamplingMetrics(telemetry);
    }
    obs = await createObservability({
      config,
      telemetry,
      database,
      logging: parts.accessLog,
      ...(opts.schedule ? { schedule: opts.schedule } : {}),
    });
    const sink = obs.collector;
    cleanups.unshift(() => obs!.close());
    const tapped: EventSink = opts.onEvent
      ? {
          ...sink,
          record(event) {
            const r = sink.record(event);
            opts.onEvent!(event as Record<string, unknown>);
            return r;
          },
          flush: () => sink.flush(),
          close: () => sink.close(),
          readinessCheck: () => sink.readinessCheck(),
        }
      : sink;
    const events = createEventReporter({
      sink: tapped,
      source: config.serviceName,
      pseudonymKey: config.pseudonymKey,
      onRejected: (type, errors) =>
        obs!.logger.error(
          { 'labels.event_type': type, 'telehealth.count': errors.length },
          'event refused by the collector',
        ),
    });
    const ctx: AppContext = {
      config,
      db: database,
      cipher: createPhiCipher({
        keyId: config.encryptionKeyId,
        key: config.encryptionKey,
        previousKeys: config.encryptionPreviousKeys,
      }),
      events,
      passwords: await createPasswordHasher({
        memoryKiB: config.argon2MemoryKiB,
        timeCost: config.argon2TimeCost,
      }),
    };

    // Rows written before migration 003: re-encrypted once with their patient in the associated data.
    const bound = await bindPhiToPatients(
      database,
      ctx.cipher,
      ({ resource, id, reason }) =>
        events.report('phi_integrity_fail', {
          actor: { role: 'system', id: null },
          reason,
          resource: { type: resource, id },
        }),
      // Start-up waits for the store only when there is a new failure, and not for long.
      () => sink.flush({ timeoutMs: 5000 }),
    );
    if (bound.failed > 0)
      obs?.logger.error(
        { 'event.action': 'phi_rebind', 'telehealth.count': bound.failed },
        'encrypted PHI rows that do not authenticate were left as they are',
      );

    let credentials: DemoCredentials | null = null;
    if (config.seedDemoData) {
      const seeded = await seedDemoData(ctx);
      if (seeded) {
        writeCredentialsFile(config.devCredentialsFile, seeded);
        credentials = seeded;
      } else {
        credentials = readCredentialsFile(config.devCredentialsFile);
      }
    }

    // Account changes the database recorded (disabled, enabled, another role) and the sessions they ended, as events.
    sink.registerJob('account_change_events', async () => {
      await drainAccountChanges(ctx, sink);
    });

    telemetry.readiness.register('database', async () => {
      await database.query('SELECT 1');
    });
    telemetry.readiness.register('collector', () => sink.readinessCheck());

    const faults = config.faultInjection ? createFaultSwitch() : null;
    const app = createApp(ctx, {
      healthRouter: telemetry.healthRouter(),
      faults: faults ?? undefined,
      onInternalError: (err) => obs!.logError(err),
    });
    // The instrumentation wraps the request listener rather than occupying Express layers: Express 5's
    // dispatch of one more layer costs more than the measurement itself (BENCHMARKS.md). Outermost,
    // the trace context, so that the access log and metrics see an unsampled request's trace ids too;
    // traceServer lets unsampled requests skip the http instrumentation altogether.
    let listener: RequestListener = app;
    if (parts.accessLog && obs) listener = obs.accessLog(listener);
    if (parts.metrics) listener = telemetry.httpRequestListener(listener);
    const server = traceServer(createServer(traceRequestListener(listener)));
    // Requests Node refuses before the app sees them get the API's error shape and headers too.
    answerClientErrors(server, responseHeaders());
    // Slow-loris and idle keep-alive bounds; in-flight requests are drained on close().
    server.headersTimeout = 20_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    await listen(server, config.port, config.host);
    cleanups.unshift(() => closeServer(server, config.shutdownTimeoutMs));
    const port = (server.address() as AddressInfo).port;

    let metricsUrl: string | null = null;
    let metricsPort: number | null = null;
    if (opts.metricsServer ?? instrumented) {
      const ms = await telemetry.startMetricsServer({
        port: config.metricsPort,
        host: config.metricsHost,
        ...(config.metricsBearerTokenFile ? { bearerTokenFile: config.metricsBearerTokenFile } : {}),
      });
      metricsUrl = ms.url;
      metricsPort = ms.port;
      // Closed last: a final scrape during shutdown still sees the drained state.
      cleanups.push(() => ms.close());
    }
    const displayHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const apiUrl = `http://${displayHost}:${port}`;

    let closing: Promise<void> | undefined;
    const running: RunningService = {
      apiUrl,
      metricsUrl,
      port,
      metricsPort,
      config,
      database,
      telemetry,
      collector: sink,
      faults,
      credentials,
      rejectedEvents: () => events.rejectedCount,
      close() {
        closing ??= (async () => {
          telemetry.readiness.beginShutdown();
          if (config.shutdownDrainDelayMs > 0)
            await new Promise((r) => setTimeout(r, config.shutdownDrainDelayMs));
          for (const step of cleanups) {
            try {
              await step();
            } catch (err) {
              obs?.logError(err);
            }
          }
          await lease.release();
        })();
        return closing;
      },
    };
    // Frozen past its lease, another service took the folder: this one must stop using the embedded
    // database and spool at once (readiness 503, then closed).
    onLeaseLost = () => {
      obs?.logger.error({}, 'data folder lease taken by another process; shutting down');
      void running.close();
      opts.onLeaseLost?.();
    };
    // Lost while starting (the handler did nothing then): acted on now.
    if (lease.lost) onLeaseLost();
    return running;
  } catch (err) {
    for (const step of cleanups) await step().catch(() => undefined);
    await lease.release();
    throw err;
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops accepting, lets in-flight requests finish (up to `timeoutMs`), then drops what is left. */
function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
