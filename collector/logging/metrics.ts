/**
 * The logging pipeline's own counters: lines dropped by reason and shipping errors. Injected so
 * the caller decides where they live (the shared Telemetry, a prom-client Registry, or a test).
 */
import { Counter, type Registry } from 'prom-client';
import { COLLECTOR_METRICS, LOG_DROP_REASONS } from '../metric-names';

export type LogDropReason = (typeof LOG_DROP_REASONS)[number];

export interface LogCounters {
  linesDropped(reason: LogDropReason, lines: number): void;
  shippingError(): void;
}

export const NOOP_LOG_COUNTERS: LogCounters = {
  linesDropped: () => undefined,
  shippingError: () => undefined,
};

const DROPPED_HELP =
  'Log lines not written or not shipped, by reason (buffer_full: the sink was too slow; sink_error: it failed or timed out).';
const ERRORS_HELP = 'Failed log shipping requests and documents refused by the log store.';

/** Creates (or reuses, when already registered) the two counters in a prom-client Registry. */
export function logCountersFromRegistry(registry: Registry, namespace = 'telehealth'): LogCounters {
  const droppedName = `${namespace}_${COLLECTOR_METRICS.logLinesDroppedTotal}`;
  const errorsName = `${namespace}_${COLLECTOR_METRICS.logShippingErrorsTotal}`;
  const dropped =
    (registry.getSingleMetric(droppedName) as Counter<'reason'> | undefined) ??
    new Counter({ name: droppedName, help: DROPPED_HELP, labelNames: ['reason'], registers: [registry] });
  const errors =
    (registry.getSingleMetric(errorsName) as Counter | undefined) ??
    new Counter({ name: errorsName, help: ERRORS_HELP, registers: [registry] });
  // Zero-initialise so that increase() sees the first drop.
  for (const reason of LOG_DROP_REASONS) dropped.inc({ reason }, 0);
  errors.inc(0);
  return {
    linesDropped: (reason, lines) => dropped.inc({ reason }, lines),
    shippingError: () => errors.inc(),
  };
}

/** The part of the exporter's Telemetry this module needs (structural, so no import cycle). */
export interface CounterFactory {
  counter<L extends string>(def: {
    name: string;
    help: string;
    labels?: Record<L, readonly string[] | { cap?: number }>;
    zeroInit?: boolean;
    /** Called before each scrape (totals counted elsewhere). */
    collect?: () => void;
  }): { inc(labels: Record<L, string>, value?: number): void };
}

/** Registers the counters through the shared Telemetry (`createTelemetry()` of exporter/). */
export function logCountersFromTelemetry(telemetry: CounterFactory): LogCounters {
  const dropped = telemetry.counter<'reason'>({
    name: COLLECTOR_METRICS.logLinesDroppedTotal,
    help: DROPPED_HELP,
    labels: { reason: LOG_DROP_REASONS },
    zeroInit: true,
  });
  const errors = telemetry.counter<never>({
    name: COLLECTOR_METRICS.logShippingErrorsTotal,
    help: ERRORS_HELP,
    zeroInit: true,
  });
  return {
    linesDropped: (reason, lines) => dropped.inc({ reason }, lines),
    shippingError: () => errors.inc({} as Record<never, string>),
  };
}
