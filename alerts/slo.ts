/**
 * The two SLOs of the platform (99.9 % availability, 95 % of requests under 200 ms) as recording rules
 * and multi-window multi-burn-rate alerts (Google SRE workbook, chapter 5; kubernetes-mixin names).
 * Ratios stay defined (0) when there is no traffic, so dashboards and alerts never see NaN or nothing.
 */
import {
  API_JOB,
  bucketLe,
  durationSeconds,
  EXPORTER,
  HTTP_ERROR_STATUS,
  HTTP_STATUS_LABEL,
} from './expressions';

/** The SLO period the budgets and burn factors are computed over. */
export const SLO_PERIOD = '30d';
export const SLO_PERIOD_DAYS = 30;

export interface BurnWindow {
  readonly long: string;
  readonly short: string;
  /** Multiple of the sustainable burn rate: 14.4 spends 2 % of a 30-day budget in 1 h. */
  readonly factor: number;
  readonly severity: 'critical' | 'warning';
  /** How long both windows must burn: filters the spike that only just crossed. */
  readonly for: string;
}

/** Page on 14.4x (1h/5m) and 6x (6h/30m); ticket on 3x (1d/2h) and 1x (3d/6h). */
export const BURN_WINDOWS: readonly BurnWindow[] = [
  { long: '1h', short: '5m', factor: 14.4, severity: 'critical', for: '2m' },
  { long: '6h', short: '30m', factor: 6, severity: 'critical', for: '15m' },
  { long: '1d', short: '2h', factor: 3, severity: 'warning', for: '1h' },
  { long: '3d', short: '6h', factor: 1, severity: 'warning', for: '3h' },
];

export const SLO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;
export type SloWindow = (typeof SLO_WINDOWS)[number];

export interface Slo {
  readonly key: 'availability' | 'latency';
  readonly alertName: string;
  /** Fraction of good requests promised over 30 days. */
  readonly objective: number;
  readonly description: string;
  /** Recording rule of the bad-request ratio per window. */
  readonly ratioRecord: (window: SloWindow) => string;
}

/** Latency SLI threshold: a bucket boundary, so the SLI is an exact count, not an interpolation. */
export const LATENCY_SLO_SECONDS = 0.2;

export const requestRateRecord = (w: SloWindow): string =>
  `job:${EXPORTER.httpRequestsTotal.replace(/_total$/, '')}:rate${w}`;

export const SLOS: readonly Slo[] = [
  {
    key: 'availability',
    alertName: 'AvailabilityErrorBudgetBurn',
    objective: 0.999,
    description: '99.9 % of API requests answer without a 5xx',
    ratioRecord: (w) => `job:${EXPORTER.httpRequestsTotal.replace(/_total$/, '')}_errors:ratio_rate${w}`,
  },
  {
    key: 'latency',
    alertName: 'LatencyBudgetBurn',
    objective: 0.95,
    description: 'p95 < 200 ms: 95 % of API requests complete within 200 ms',
    ratioRecord: (w) => `job:${EXPORTER.httpRequestsTotal.replace(/_total$/, '')}_slow:ratio_rate${w}`,
  },
];

/**
 * The uptime target (99.9 %, platform requirements), measured as time: the API is up while at least
 * one of its targets answers its scrape. The recording rule keeps one series per job, 0 while none
 * is discovered (so a vanished job counts as down, not as missing time), and the uptime over the SLO
 * period is its average: exact with any number of replicas, where averaging each target's `up` and
 * taking the best would count a minute in which replicas took turns being down as partly down.
 */
export const UPTIME = {
  objective: 0.999,
  record: 'job:up:max',
} as const;

/**
 * Minimum traffic before an SLO alert may fire: at least this many requests in the long window.
 * Below it one failing request is a burn of hundreds: the budget is meaningless, the page noise.
 */
export const SLO_MIN_REQUESTS_IN_LONG_WINDOW = 100;

/** Requests per second the long window must average to hold SLO_MIN_REQUESTS_IN_LONG_WINDOW. */
export function minRequestRate(long: string): number {
  return SLO_MIN_REQUESTS_IN_LONG_WINDOW / durationSeconds(long);
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

/** 0 for the API's job: a defined value while it has no series (rates before traffic, uptime before discovery). */
const ZERO_RATE = `label_replace(vector(0), "job", "${API_JOB}", "", "")`;

/** Recording rules, in evaluation order (later rules read earlier ones within the group). */
export function sloRecordingRules(): RecordingRule[] {
  const rules: RecordingRule[] = [
    { record: UPTIME.record, expr: `max by (job) (up{job="${API_JOB}"}) or ${ZERO_RATE}` },
  ];
  const bucket = `${EXPORTER.httpRequestDurationSeconds}_bucket`;
  const count = `${EXPORTER.httpRequestDurationSeconds}_count`;
  const le = bucketLe(LATENCY_SLO_SECONDS);
  for (const w of SLO_WINDOWS) {
    // Defined as 0 while the API has served nothing since start-up: absent series are the absent alert's job.
    rules.push({
      record: requestRateRecord(w),
      expr: `sum by (job) (rate(${EXPORTER.httpRequestsTotal}{job="${API_JOB}"}[${w}])) or ${ZERO_RATE}`,
    });
    rules.push({
      record: SLOS[0]!.ratioRecord(w),
      expr:
        `(sum by (job) (rate(${EXPORTER.httpRequestsTotal}{job="${API_JOB}",${HTTP_STATUS_LABEL}=~"${HTTP_ERROR_STATUS}"}[${w}]))` +
        ` or 0 * ${requestRateRecord(w)}) / clamp_min(${requestRateRecord(w)}, 1e-9)`,
    });
    const served = `sum by (job) (rate(${count}{job="${API_JOB}"}[${w}]))`;
    rules.push({
      record: SLOS[1]!.ratioRecord(w),
      expr:
        `(${served} - sum by (job) (rate(${bucket}{job="${API_JOB}",le="${le}"}[${w}])))` +
        ` / clamp_min(${served}, 1e-9) or 0 * ${requestRateRecord(w)}`,
    });
  }
  return rules;
}
