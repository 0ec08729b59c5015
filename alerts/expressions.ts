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
