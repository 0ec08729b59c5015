/**
 * PromQL building blocks shared by the catalogue, the SLO rules and the runbooks. Every metric name
 * comes from the exporter/collector contracts; label values are checked against their closed sets.
 */
import {
  exporterMetricNames,
  HTTP_DURATION_BUCKETS_SECONDS,
  NODE_EXPORTER_METRICS,
} from '../exporter/metric-names';
import { collectorMetricNames, EVENT_TYPES, type EventType } from '../collector/metric-names';
import { JOBS, THIRD_PARTY_METRICS } from './metric-names';

export const EXPORTER = exporterMetricNames();
export const COLLECTOR = collectorMetricNames();
export const NODE = NODE_EXPORTER_METRICS;
export const EXTERNAL = THIRD_PARTY_METRICS;

/** The HTTP status label of `http_requests_total` (the exporter's RED middleware). */
export const HTTP_STATUS_LABEL = 'status_code';
/** 5xx are the service's errors; 4xx and 499 (client went away) are the client's. */
export const HTTP_ERROR_STATUS = '5..';

/** Rate window of request-based alerts: 20 scrape intervals of 15 s, smooth enough to page on. */
export const REQUEST_RATE_WINDOW = '5m';
/**
 * Requests a minute a job must serve for its p95 to page: 4 a minute is 20 in the 5-minute window,
 * so the 95th percentile is not simply the slowest request (one slow request at night is not an
 * incident; the latency SLO's burn-rate alerts still count every request).
 */
export const MIN_REQUESTS_PER_MINUTE_FOR_P95 = 4;
/**
 * Window of the per-minute security rates: 8 scrape intervals of 15 s (at least 4 samples even at a
 * 30 s scrape) keeps one lost scrape from zeroing the rate while still reacting within minutes.
 */
export const EVENT_RATE_WINDOW = '2m';

export function durationSeconds(duration: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d|w)$/.exec(duration);
  if (!match) {
    if (duration === '0') return 0;
    throw new Error(`not a duration: ${duration}`);
  }
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[match[2] as 'ms'];
  return Number(match[1]) * factor;
}

export function durationMinutes(duration: string): number {
  return durationSeconds(duration) / 60;
}

/** Checks an event type against the collector's vocabulary (a typo fails the type check and this). */
export function eventType(type: EventType): string {
  if (!(type in EVENT_TYPES)) throw new Error(`unknown event type ${type}`);
  return type;
}

/** The `le` value of a latency bucket, checked to be one of the exporter's boundaries. */
export function bucketLe(seconds: number): string {
  if (!(HTTP_DURATION_BUCKETS_SECONDS as readonly number[]).includes(seconds)) {
    throw new Error(`${seconds}s is not a bucket boundary of the exporter's latency histogram`);
  }
  return String(seconds);
}

export const API_JOB = JOBS.api;

/** Per-minute rate of one security event type across every job that exports it. */
export function eventsPerMinute(type: EventType): string {
  return `sum(rate(${COLLECTOR.eventsTotal}{event_type="${eventType(type)}"}[${EVENT_RATE_WINDOW}])) * 60`;
}

export function requestRate(window: string, extra = ''): string {
  return `sum by (job) (rate(${EXPORTER.httpRequestsTotal}{job="${API_JOB}"${extra}}[${window}]))`;
}

/**
 * How much a counter rose within `window`, counting a series first seen above 0 as risen by its value
 * when its process started within `window`. A process that counts at start-up, before its first
 * scrape (a new pod, or one back after a longer outage than `window`), is first seen above 0, and
 * increase() needs two samples to see a rise. The second term is each such series with no sample in
 * the `window` before the last minute (room for scrapes up to 1m apart), so it lasts about a minute
 * and `keep_firing_for` holds the alert after that. The start-time condition keeps old counts out: a
 * Prometheus back from a longer outage, or a new rule, also sees every series "first", and would
 * otherwise report each process's lifetime total as new. The counters are zero-initialised, so a
 * label set first counted later in a process's life is not "first seen".
 */
export function increaseFromFirstSeen(series: string, window: string): string {
  const firstSeen = `${series} unless max_over_time(${series}[${window}] offset 1m)`;
  const startedWithin = `time() - ${EXPORTER.processStartTimeSeconds} < ${durationSeconds(window)}`;
  return `increase(${series}[${window}]) or ((${firstSeen}) and on (job, instance) (${startedWithin}))`;
}
