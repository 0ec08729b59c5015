/**
 * createTelemetry(): the exporter's one entry point. Owns a private prom-client Registry (never the
 * global one, so two instances or a test never share series), the metric definition path, the HTTP
 * middleware, readiness, the health router and the /metrics server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Router } from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { type TelemetryConfig, type TelemetryOptions, validateTelemetryOptions } from './config';
import { type Counter, CounterMetric } from './counter';
import { errors } from './errors';
import { type ExpositionFormat } from './exposition';
import { type Gauge, GaugeMetric } from './gauge';
import { createHealthRouter } from './health-router';
import { type Histogram, type HistogramDefinition, HistogramMetric } from './histogram';
import { HttpMetrics } from './http-metrics';
import type { LabelSpec } from './label-guard';
import type { MetricContext, MetricDefinition } from './metric-base';
import type { BearerTokenOptions } from './metrics-auth';
import {
  type MetricsServer,
  type MetricsServerOptions,
  createScrapeHandler,
  startMetricsServer,
} from './metrics-server';
import { DB_POOL_STATES, EXPORTER_METRICS, exporterMetricNames } from './metric-names';
import { resolveProcessLimits } from './process-limits';
import { createReadiness, type Readiness } from './readiness';

/** How old a readiness result may be when a scrape reads `dependency_up`. */
const DEPENDENCY_UP_MAX_AGE_MS = 5000;
import { countSamples, renderRegistry } from './render';

export type { TelemetryOptions } from './config';

const REDUNDANT_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export interface CounterDefinition<L extends string> {
  name: string;
  help: string;
  labels?: Record<L, LabelSpec>;
  zeroInit?: boolean;
  seriesCap?: number;
  /** Called before each scrape: for totals counted elsewhere, it adds their increase since the last. */
  collect?: () => void | Promise<void>;
}

/** A gauge's `collect` usually reads a value kept elsewhere, such as a queue length. */
export type GaugeDefinition<L extends string> = CounterDefinition<L>;

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Telemetry {
  readonly namespace: string;
  readonly config: TelemetryConfig;
  /** A private prom-client Registry; `registry.metrics()` works, but the exporter serves its own render. */
  readonly registry: Registry;
  readonly names: ReturnType<typeof exporterMetricNames>;
  counter<L extends string = never>(def: CounterDefinition<L>): Counter<L>;
  gauge<L extends string = never>(def: GaugeDefinition<L>): Gauge<L>;
  histogram<L extends string = never>(
    def: CounterDefinition<L> & { buckets: readonly number[] },
  ): Histogram<L>;
  httpMiddleware(): RequestHandler;
  /**
   * The RED metrics as a wrapper of the app's request listener instead of an Express layer (cheaper):
   * `http.createServer(telemetry.httpRequestListener(app))`. Use one of the two, not both.
   */
  httpRequestListener(
    listener: (req: IncomingMessage, res: ServerResponse) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void;
  readonly readiness: Readiness;
  healthRouter(): Router;
  startMetricsServer(opts?: MetricsServerOptions): Promise<MetricsServer>;
  /** /metrics as an Express handler, for the rare deployment that must serve it on the app's port. */
  metricsHandler(opts?: BearerTokenOptions): RequestHandler;
  instrumentPgPool(stats: () => PoolStats): void;
  /** The exposition text, as a scrape would get it. */
  render(format?: ExpositionFormat): Promise<string>;
  /** Samples in the exposition (what Prometheus counts as series). */
  seriesCount(): Promise<number>;
  /** Label sets held by the HTTP metrics (each renders one counter sample and one histogram). */
  httpSeriesCount(): number;
}

export function createTelemetry(opts: TelemetryOptions = {}): Telemetry {
  const config = validateTelemetryOptions(opts);
  const { namespace } = config;
  const names = exporterMetricNames(namespace);
  const registry = new Registry();
  const startedAt = Date.now();

  // The overflow counter is defined first; its own overflow is not counted (that would recurse).
  const overflow = new CounterMetric(
    { namespace, registry, defaultSeriesCap: config.defaultSeriesCap, onOverflow: () => undefined },
    {
      name: EXPORTER_METRICS.labelOverflowTotal,
      help: 'Label values replaced by "other" because they were outside a closed set or past a cap, by metric.',
      labels: { metric: { cap: 10_000 } },
      seriesCap: 10_000,
    },
  );
  const ctx: MetricContext = {
    namespace,
    registry,
    defaultSeriesCap: config.defaultSeriesCap,
    onOverflow: (metric) => overflow.inc({ metric }),
  };
  const define = <M extends { name: string; labelNames: readonly string[] }>(metric: M): M => {
    // Every labelled metric starts with a visible overflow count of 0.
    if (metric.labelNames.length > 0) overflow.init({ metric: metric.name });
    return metric;
  };

  if (config.defaultMetrics) {
    collectDefaultMetrics({ register: registry, prefix: `${namespace}_` });
    // prom-client exports these sums of the labelled series as gauges named `_total`, which promtool
    // flags (only counters end in `_total`); sum(nodejs_active_handles) gives the same number.
    for (const redundant of REDUNDANT_DEFAULT_METRICS)
      registry.removeSingleMetric(`${namespace}_${redundant}`);
  }

  const buildInfo = new GaugeMetric(ctx, {
    name: EXPORTER_METRICS.buildInfo,
    help: 'Always 1; the version label names the running build.',
    labels: { version: [config.version] },
  });
  buildInfo.set({ version: config.version }, 1);

  const limits = resolveProcessLimits(config.limits);
  new GaugeMetric(ctx, {
    name: EXPORTER_METRICS.processCpuLimitCores,
    help: 'CPU cores the service may use (option, else cgroup quota, else host cores).',
  }).set(limits.cpuCores);
  new GaugeMetric(ctx, {
    name: EXPORTER_METRICS.processMemoryLimitBytes,
    help: 'Memory the service may use in bytes (option, else cgroup limit, else host memory).',
  }).set(limits.memoryBytes);

  const dependencyUp = define(
    new GaugeMetric(ctx, {
      name: EXPORTER_METRICS.dependencyUp,
      help: '1 when the named readiness dependency passed its last check, else 0.',
      labels: { dependency: { cap: 64 } },
      // A scrape refreshes a stale result, so the gauge is true even where no readiness probe runs
      // (a 0 left from start-up would page DependencyDown forever).
      collect: () => readiness.refresh(DEPENDENCY_UP_MAX_AGE_MS).then(() => undefined),
    }),
  );
  const readiness: Readiness = createReadiness(dependencyUp as unknown as Gauge<'dependency'>);

  const http = new HttpMetrics({
    namespace,
    registry,
    routeCap: config.defaultSeriesCap,
    onOverflow: ctx.onOverflow,
  });
  overflow.init({ metric: http.durationName });

  let poolStats: (() => PoolStats) | null = null;
  let poolGauge: GaugeMetric | null = null;

  const telemetry: Telemetry = {
    namespace,
    config,
    registry,
    names,
    counter<L extends string = never>(def: CounterDefinition<L>): Counter<L> {
      return define(new CounterMetric(ctx, def as MetricDefinition<string>)) as unknown as Counter<L>;
    },
    gauge<L extends string = never>(def: GaugeDefinition<L>): Gauge<L> {
      return define(new GaugeMetric(ctx, def as MetricDefinition<string>)) as unknown as Gauge<L>;
    },
    histogram<L extends string = never>(
      def: CounterDefinition<L> & { buckets: readonly number[] },
    ): Histogram<L> {
      return define(new HistogramMetric(ctx, def as HistogramDefinition<string>)) as unknown as Histogram<L>;
    },
    httpMiddleware: () => http.middleware(),
    httpRequestListener: (listener) => http.requestListener(listener),
    readiness,
    healthRouter: () => createHealthRouter(readiness, startedAt),
    startMetricsServer: (serverOpts) => startMetricsServer(registry, serverOpts),
    metricsHandler(handlerOpts) {
      const scrape = createScrapeHandler(registry, handlerOpts);
      return (req, res) => scrape(req, res);
    },
    instrumentPgPool(stats) {
      if (typeof stats !== 'function') throw new errors.BAD_OPTION('instrumentPgPool', 'give a function');
      poolStats = stats;
      if (poolGauge !== null) return;
      poolGauge = define(
        new GaugeMetric(ctx, {
          name: EXPORTER_METRICS.dbPoolConnections,
          help: 'Database pool connections by state (total, idle, waiting clients), read at scrape time.',
          labels: { state: DB_POOL_STATES },
          zeroInit: true,
          collect: () => {
            if (poolStats === null || poolGauge === null) return;
            const s = poolStats();
            poolGauge.set({ state: 'total' }, s.total);
            poolGauge.set({ state: 'idle' }, s.idle);
            poolGauge.set({ state: 'waiting' }, s.waiting);
          },
        }),
      );
    },
    render: (format = 'prometheus') => renderRegistry(registry, format),
    seriesCount: () => countSamples(registry),
    httpSeriesCount: () => http.seriesCount(),
  };
  return Object.freeze(telemetry);
}
