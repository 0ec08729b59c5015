/**
 * The alert catalogue: the single source of every rule, test, runbook, route and threshold line.
 * Thresholds are data with the reason for the number; expressions are built from the imported metric
 * names. `[[threshold]]` in a summary is replaced by the (possibly overridden) threshold when rendered.
 */
import { SCHEDULED_JOBS } from '../collector/metric-names';
import { HTTP_DURATION_BUCKETS_SECONDS } from '../exporter/metric-names';
import type { AlertDefinition, ThresholdTest } from './catalogue-schema';
import { validateCatalogue } from './catalogue-schema';
import {
  COLLECTOR,
  EVENT_RATE_WINDOW,
  eventsPerMinute,
  eventType,
  EXPORTER,
  EXTERNAL,
  HTTP_ERROR_STATUS,
  HTTP_STATUS_LABEL,
  increaseFromFirstSeen,
  NODE,
  MIN_REQUESTS_PER_MINUTE_FOR_P95,
  REQUEST_RATE_WINDOW,
} from './expressions';
import { fixture, num, selector, type SeriesSpec, type ThresholdTestCases } from './fixtures';
import { JOBS } from './metric-names';
import {
  ALERTING_PIPELINE_STEPS,
  PAGERDUTY_DELIVERY_STEP,
  COLLECTOR_STEPS,
  DATABASE_STEPS,
  HIGH_ERROR_RATE_STEPS,
  SATURATION_STEPS,
  SECURITY_INCIDENT_STEPS,
} from './runbook-steps';
import {
  BURN_WINDOWS,
  minRequestRate,
  SLO_PERIOD_DAYS,
  SLOS,
  requestRateRecord,
  type SloWindow,
} from './slo';

const API_TARGET = { job: JOBS.api, instance: 'app:9464' };
type ScheduledJob = (typeof SCHEDULED_JOBS)[number];
/**
 * When something last succeeded, by job (or by job and `by`), from a Unix-time gauge that is 0 until
 * the first success of the process: the latest success of any instance, else, while none has
 * succeeded, the oldest start. Both are read over `lookback` (longer than the alert's threshold), as
 * the gauge lives in process memory: a restart sets it back to 0, and read at the instant, a process
 * restarted more often than the threshold would never look stale. A task that never succeeds still
 * ages, and a fresh replica cannot hide another's stale success.
 */
function lastSuccess(gauge: string, lookback: string, by?: 'instance'): string {
  const labels = by ? `job, ${by}` : 'job';
  return (
    `(max by (${labels}) (max_over_time(${gauge}[${lookback}]) > 0)` +
    ` or min by (${labels}) (min_over_time(${EXPORTER.processStartTimeSeconds}[${lookback}]) and on (job, instance) ${gauge}))`
  );
}
/** A scheduled task's last-success gauge, its name checked against the collector's closed set. */
function taskGauge(task: ScheduledJob): string {
  if (!SCHEDULED_JOBS.includes(task)) throw new Error(`unknown scheduled job ${task}`);
  return `${COLLECTOR.scheduledJobLastSuccessTimestampSeconds}{task="${task}"}`;
}
/** The investigation of a stale scheduled task: every task's runs, so a stopped scheduler shows too. */
const TASK_RUNS = {
  title: 'Runs by task and outcome',
  query: `sum by (instance, task, outcome) (increase(${COLLECTOR.scheduledJobRunsTotal}[1h]))`,
};
const NODE_TARGET = { job: JOBS.node, instance: 'node-exporter:9100' };
const COLLECTOR_TARGET = { job: JOBS.collector, instance: 'collector:9465' };
const AM_TARGET = { job: JOBS.alertmanager, instance: 'alertmanager:9093' };
const PROM_TARGET = { job: JOBS.prometheus, instance: 'prometheus:9090' };

/** "Just inside / just past" a threshold: 2 % either side for continuous values. */
const near = {
  safe: (t: number) => t * 0.98,
  breach: (t: number) => t * 1.02,
};

/** A gauge (or per-minute counter) fixture where the expression's value is the series' own value. */
function gaugeTest(
  build: (value: number) => { specs: SeriesSpec[]; labels: Record<string, string> },
  idle: number,
  safe: (t: number) => number = near.safe,
  breach: (t: number) => number = near.breach,
): ThresholdTest {
  return {
    fixture: (v) => {
      const b = build(v);
      return fixture(b.specs, b.labels);
    },
    idle: () => {
      const b = build(idle);
      return fixture(b.specs, b.labels);
    },
    justBelow: safe,
    justAbove: breach,
  };
}

/** A threshold test with the extra generated cases (minimum-traffic guard, inputs that must stay silent). */
function withCases(
  base: ThresholdTest,
  cases: Pick<ThresholdTestCases, 'minTraffic' | 'silent'>,
): ThresholdTestCases {
  return { ...base, ...cases };
}

/** Requests a minute HighErrorRate needs before it pages (its minimum-traffic guard). */
const MIN_REQUESTS_PER_MINUTE_FOR_ERROR_RATIO = 1;

/**
 * Error ratio over requests: 200 requests a minute, `ratio` of them 5xx. The others are not all 200:
 * 20 % of them are 404 and 5 % 499 (client went away), which are the clients' outcomes and must not
 * count as errors.
 */
const errorRatioTest: ThresholdTestCases = (() => {
  const STATUSES = ['200', '404', '499', '503'] as const;
  const specs = (perMinute: Record<(typeof STATUSES)[number], number>): SeriesSpec[] =>
    STATUSES.map((status) => ({
      series: selector(EXPORTER.httpRequestsTotal, {
        ...API_TARGET,
        method: 'GET',
        route: '/api/appointments',
        [HTTP_STATUS_LABEL]: status,
      }),
      kind: 'counter',
      step: perMinute[status],
    }));
  const labels = { job: JOBS.api };
  const at = (ratio: number, perMinute: number, clientShare = { notFound: 0.2, gone: 0.05 }) => {
    const rest = perMinute * (1 - ratio);
    return fixture(
      specs({
        '200': rest * (1 - clientShare.notFound - clientShare.gone),
        '404': rest * clientShare.notFound,
        '499': rest * clientShare.gone,
        '503': perMinute * ratio,
      }),
      labels,
    );
  };
  const idle = () => fixture(specs({ '200': 0, '404': 0, '499': 0, '503': 0 }), labels);
  return {
    fixture: (ratio) => at(ratio, 200),
    idle,
    justBelow: near.safe,
    justAbove: near.breach,
    minTraffic: { perMinute: MIN_REQUESTS_PER_MINUTE_FOR_ERROR_RATIO, fixture: at },
    silent: (threshold) => [
      {
        name: 'a lone 5xx every 2 minutes and no other traffic (0.5 requests/min) stays silent',
        phases: [
          { fixture: at(1, 1), minutes: 1 },
          { fixture: idle(), minutes: 1 },
        ],
      },
      {
        name: `a client-error storm (40 % 404, 10 % 499) beside ${num(near.safe(threshold) * 100)} % 5xx stays silent: 4xx and 499 are not server errors`,
        phases: [{ fixture: at(near.safe(threshold), 200, { notFound: 0.4, gone: 0.1 }), minutes: 60 }],
      },
    ],
  };
})();

/**
 * Histogram whose p95 is exactly `value`: mass below the bucket holding `value`, inside it and above it,
 * solved for histogram_quantile's linear interpolation within the bucket.
 */
const p95Test: ThresholdTestCases = (() => {
  const bounds = [...HTTP_DURATION_BUCKETS_SECONDS];
  const les = [...bounds, Infinity];
  /** The histogram's series from its cumulative count per minute at each `le`. */
  const histogram = (cumulative: (le: number) => number): SeriesSpec[] => {
    const out: SeriesSpec[] = les.map((le) => ({
      series: selector(`${EXPORTER.httpRequestDurationSeconds}_bucket`, {
        ...API_TARGET,
        method: 'GET',
        route: '/api/appointments',
        le: le === Infinity ? '+Inf' : String(le),
      }),
      kind: 'counter',
      step: cumulative(le),
    }));
    // The histogram's count, which the minimum-traffic guard reads: every request of the buckets.
    out.push({
      series: selector(`${EXPORTER.httpRequestDurationSeconds}_count`, {
        ...API_TARGET,
        method: 'GET',
        route: '/api/appointments',
      }),
      kind: 'counter',
      step: cumulative(Infinity),
    });
    return out;
  };
  const specs = (value: number | null, perMinute: number): SeriesSpec[] => {
    let below = 0;
    let inside = 0;
    let above = 0;
    let hiIndex = 0;
    if (value !== null) {
      hiIndex = bounds.findIndex((b) => b >= value);
      if (hiIndex <= 0)
        throw new Error(`p95 fixture needs a value between ${bounds[0]} and ${bounds.at(-1)}`);
      const lo = bounds[hiIndex - 1]!;
      const hi = bounds[hiIndex]!;
      const r = (value - lo) / (hi - lo);
      if (r <= 0.95) {
        below = (0.95 - r) / (1 - r);
        inside = 1 - below;
      } else {
        inside = 0.95 / r;
        above = 1 - inside;
      }
    }
    const cumulative = (le: number): number => {
      if (value === null) return 0;
      let c = below; // below mass sits in the first bucket
      if (le >= bounds[hiIndex]!) c += inside;
      if (hiIndex + 1 < bounds.length ? le >= bounds[hiIndex + 1]! : le === Infinity) c += above;
      return c * perMinute;
    };
    return histogram(cumulative);
  };
  const labels = { job: JOBS.api };
  const idle = () => fixture(specs(null, 0), labels);
  /** One request a minute that took `seconds`. */
  const oneRequest = (seconds: number) =>
    fixture(
      histogram((le) => (le >= seconds ? 1 : 0)),
      labels,
    );
  return {
    fixture: (v) => fixture(specs(v, 1000), labels),
    idle,
    justBelow: near.safe,
    justAbove: near.breach,
    minTraffic: {
      perMinute: MIN_REQUESTS_PER_MINUTE_FOR_P95,
      fixture: (v, perMinute) => fixture(specs(v, perMinute), labels),
    },
    silent: () => [
      {
        name: 'one 3 s request every 4 minutes and no other traffic (0.25 requests/min) stays silent',
        phases: [
          { fixture: oneRequest(3), minutes: 1 },
          { fixture: idle(), minutes: 3 },
        ],
      },
    ],
  };
})();

function perMinuteEventsTest(
  type: 'authn_login_fail' | 'authz_fail',
  reasons: readonly string[],
  role: string,
) {
  return gaugeTest(
    (perMinute) => ({
      specs: reasons.map((reason) => ({
        series: selector(COLLECTOR.eventsTotal, {
          ...API_TARGET,
          event_type: eventType(type),
          outcome: 'failure',
          actor_role: role,
          reason,
        }),
        kind: 'counter' as const,
        step: perMinute / reasons.length,
      })),
      labels: {},
    }),
    0,
  );
}

const platform: AlertDefinition[] = [
  {
    id: 'HighErrorRate',
    name: 'HighErrorRate',
    severity: 'critical',
    family: 'errors',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr:
      `(sum by (job) (rate(${EXPORTER.httpRequestsTotal}{${HTTP_STATUS_LABEL}=~"${HTTP_ERROR_STATUS}"}[${REQUEST_RATE_WINDOW}]))` +
      ` / sum by (job) (rate(${EXPORTER.httpRequestsTotal}[${REQUEST_RATE_WINDOW}]))` +
      ` and on (job) sum by (job) (rate(${EXPORTER.httpRequestsTotal}[${REQUEST_RATE_WINDOW}])) * 60 >= ${MIN_REQUESTS_PER_MINUTE_FOR_ERROR_RATIO})`,
    threshold: {
      value: 0.05,
      comparison: '>',
      unit: 'ratio',
      why: 'Infrastructure guide, Key Metrics: error rate > 5 % is critical (1 in 20 requests fails). Needs at least 1 request a minute so a lone 5xx at night does not page.',
    },
    for: '5m',
    keepFiringFor: '5m',
    summary:
      '{{ $labels.job }}: {{ $value | humanizePercentage }} of requests fail with 5xx (threshold [[threshold]])',
    description:
      'Over the last 5 minutes {{ $value | humanizePercentage }} of the requests served by {{ $labels.job }} answered with a 5xx status. Users see failures on every route that errs.',
    runbook: {
      meaning:
        'More than [[threshold]] of the HTTP requests served by the job answered with a 5xx status over 5 minutes, for [[for]].',
      impact:
        'Patients and providers see failed pages and actions; appointments, prescriptions or payments may not complete.',
      steps: HIGH_ERROR_RATE_STEPS,
      investigate: [
        {
          title: 'Error ratio by route',
          query: `sum by (route) (rate(${EXPORTER.httpRequestsTotal}{${HTTP_STATUS_LABEL}=~"5.."}[5m])) / sum by (route) (rate(${EXPORTER.httpRequestsTotal}[5m]))`,
        },
        {
          title: 'Errors by status code',
          query: `sum by (${HTTP_STATUS_LABEL}) (rate(${EXPORTER.httpRequestsTotal}{${HTTP_STATUS_LABEL}=~"5.."}[5m]))`,
        },
        { title: 'Failing readiness dependencies', query: `${EXPORTER.dependencyUp} == 0` },
      ],
    },
    dashboard: 'appOverview',
    test: errorRatioTest,
  },
  {
    id: 'HighLatencyP95',
    name: 'HighLatencyP95',
    severity: 'warning',
    family: 'latency',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr:
      `(histogram_quantile(0.95, sum by (job, le) (rate(${EXPORTER.httpRequestDurationSeconds}_bucket[${REQUEST_RATE_WINDOW}])))` +
      ` and on (job) sum by (job) (rate(${EXPORTER.httpRequestDurationSeconds}_count[${REQUEST_RATE_WINDOW}])) * 60 >= ${MIN_REQUESTS_PER_MINUTE_FOR_P95})`,
    threshold: {
      value: 2,
      comparison: '>',
      unit: 'seconds',
      why: `Infrastructure guide, Key Metrics: P95 latency > 2 s is a warning. 2 s is a bucket boundary of the exporter, so the quantile is exact there. Needs at least ${MIN_REQUESTS_PER_MINUTE_FOR_P95} requests a minute, so that one slow request in a quiet hour does not page.`,
    },
    for: '10m',
    summary: '{{ $labels.job }}: p95 latency is {{ printf "%.2f" $value }}s (threshold [[threshold]])',
    description:
      'The 95th percentile of request duration of {{ $labels.job }} has been above [[threshold]] for [[for]] (now {{ printf "%.2f" $value }}s). One request in twenty is that slow or slower.',
    runbook: {
      meaning: 'The p95 request duration over 5 minutes has stayed above [[threshold]] for [[for]].',
      impact: 'Slow pages and video-visit setup; clients may time out and retry, adding load.',
      steps: [
        'Find the slow routes: the Application Overview "slowest routes" panel, or the first query below.',
        ...DATABASE_STEPS.slice(0, 1),
        'Check saturation: service CPU against its limit, event-loop lag and GC (Infrastructure dashboard).',
        ...HIGH_ERROR_RATE_STEPS.slice(2),
      ],
      investigate: [
        {
          title: 'p95 by route',
          query: `histogram_quantile(0.95, sum by (route, le) (rate(${EXPORTER.httpRequestDurationSeconds}_bucket[5m])))`,
        },
        { title: 'Event-loop lag', query: EXPORTER.nodejsEventloopLagP99Seconds },
        { title: 'Pool waiting', query: `${EXPORTER.dbPoolConnections}{state="waiting"}` },
      ],
    },
    dashboard: 'appOverview',
    test: p95Test,
  },
  {
    id: 'HostCpuHigh',
    name: 'HostCpuHigh',
    severity: 'warning',
    family: 'cpu',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr: `1 - avg by (job, instance) (rate(${NODE.cpuSecondsTotal}{mode="idle"}[${REQUEST_RATE_WINDOW}]))`,
    threshold: {
      value: 0.8,
      comparison: '>',
      unit: 'ratio',
      why: 'Infrastructure guide, Key Metrics: CPU > 80 % is a warning; past it, latency climbs and there is no room for a spike or a failed-over peer.',
    },
    for: '15m',
    summary:
      'Host {{ $labels.instance }}: CPU at {{ $value | humanizePercentage }} (threshold [[threshold]])',
    description:
      'All CPUs of {{ $labels.instance }} averaged {{ $value | humanizePercentage }} busy over 5 minutes, for [[for]].',
    runbook: {
      meaning: 'The host (node_exporter) has been busier than [[threshold]] of its CPU capacity for [[for]].',
      impact: 'Every process on the host slows down; request latency and collector throughput suffer.',
      steps: SATURATION_STEPS,
      investigate: [
        {
          title: 'CPU by mode',
          query: `sum by (mode) (rate(${NODE.cpuSecondsTotal}{instance="<instance>"}[5m]))`,
        },
        {
          title: 'Service CPU against its limit',
          query: `rate(${EXPORTER.processCpuSecondsTotal}[5m]) / ${EXPORTER.processCpuLimitCores}`,
        },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (busy) => ({
        specs: ['0', '1'].map((cpu) => ({
          series: selector(NODE.cpuSecondsTotal, { ...NODE_TARGET, cpu, mode: 'idle' }),
          kind: 'counter' as const,
          step: (1 - busy) * 60,
        })),
        labels: { ...NODE_TARGET },
      }),
      0.05,
    ),
  },
  {
    id: 'HostMemoryHigh',
    name: 'HostMemoryHigh',
    severity: 'warning',
    family: 'memory',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr: `1 - ${NODE.memoryAvailableBytes} / ${NODE.memoryTotalBytes}`,
    threshold: {
      value: 0.85,
      comparison: '>',
      unit: 'ratio',
      why: 'Infrastructure guide, Key Metrics: memory > 85 % is a warning; the rest is page cache and headroom before the OOM killer.',
    },
    for: '15m',
    summary:
      'Host {{ $labels.instance }}: memory at {{ $value | humanizePercentage }} (threshold [[threshold]])',
    description:
      '{{ $labels.instance }} has used {{ $value | humanizePercentage }} of its memory (MemAvailable against MemTotal) for [[for]].',
    runbook: {
      meaning: 'Less than 15 % of the host memory has been available for [[for]].',
      impact: 'The kernel may OOM-kill the service or PostgreSQL; swapping slows everything.',
      steps: SATURATION_STEPS,
      investigate: [
        { title: 'Available memory', query: NODE.memoryAvailableBytes },
        { title: 'Service RSS', query: EXPORTER.processResidentMemoryBytes },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (used) => ({
        specs: [
          { series: selector(NODE.memoryTotalBytes, NODE_TARGET), kind: 'gauge', step: 8589934592 },
          {
            series: selector(NODE.memoryAvailableBytes, NODE_TARGET),
            kind: 'gauge',
            step: 8589934592 * (1 - used),
          },
        ],
        labels: { ...NODE_TARGET },
      }),
      0.3,
    ),
  },
  {
    id: 'ServiceCpuHigh',
    name: 'ServiceCpuHigh',
    severity: 'warning',
    family: 'cpu',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr: `rate(${EXPORTER.processCpuSecondsTotal}[${REQUEST_RATE_WINDOW}]) / on (job, instance) (${EXPORTER.processCpuLimitCores} > 0)`,
    threshold: {
      value: 0.8,
      comparison: '>',
      unit: 'ratio',
      why: 'Infrastructure guide, Key Metrics: CPU > 80 %, measured against the CPU limit the service was given (a container throttled at its quota is slow long before the host is busy).',
    },
    for: '15m',
    summary:
      '{{ $labels.job }} {{ $labels.instance }}: CPU at {{ $value | humanizePercentage }} of its limit (threshold [[threshold]])',
    description:
      'The process has used {{ $value | humanizePercentage }} of its configured CPU limit (`process_cpu_limit_cores`) over 5 minutes, for [[for]].',
    runbook: {
      meaning: 'The service process uses more than [[threshold]] of the CPU cores it is allowed.',
      impact: 'The event loop saturates: latency rises for every request, health checks may time out.',
      steps: SATURATION_STEPS,
      investigate: [
        {
          title: 'CPU against the limit',
          query: `rate(${EXPORTER.processCpuSecondsTotal}[5m]) / ${EXPORTER.processCpuLimitCores}`,
        },
        { title: 'Event-loop lag', query: EXPORTER.nodejsEventloopLagP99Seconds },
        { title: 'Request rate', query: `sum by (job) (rate(${EXPORTER.httpRequestsTotal}[5m]))` },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (used) => ({
        specs: [
          { series: selector(EXPORTER.processCpuLimitCores, API_TARGET), kind: 'gauge', step: 2 },
          {
            series: selector(EXPORTER.processCpuSecondsTotal, API_TARGET),
            kind: 'counter',
            step: used * 2 * 60,
          },
        ],
        labels: { ...API_TARGET },
      }),
      0.02,
    ),
  },
  {
    id: 'ServiceMemoryHigh',
    name: 'ServiceMemoryHigh',
    severity: 'warning',
    family: 'memory',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr: `${EXPORTER.processResidentMemoryBytes} / on (job, instance) (${EXPORTER.processMemoryLimitBytes} > 0)`,
    threshold: {
      value: 0.85,
      comparison: '>',
      unit: 'ratio',
      why: 'Infrastructure guide, Key Metrics: memory > 85 %, against the memory limit of the service: past it the container is close to being OOM-killed.',
    },
    for: '15m',
    summary:
      '{{ $labels.job }} {{ $labels.instance }}: memory at {{ $value | humanizePercentage }} of its limit (threshold [[threshold]])',
    description:
      'The resident memory of the process has been {{ $value | humanizePercentage }} of its configured limit (`process_memory_limit_bytes`) for [[for]].',
    runbook: {
      meaning: 'The service process holds more than [[threshold]] of the memory it is allowed.',
      impact: 'An OOM kill drops in-flight requests and restarts the instance.',
      steps: SATURATION_STEPS,
      investigate: [
        {
          title: 'RSS against the limit',
          query: `${EXPORTER.processResidentMemoryBytes} / ${EXPORTER.processMemoryLimitBytes}`,
        },
        { title: 'Heap used', query: EXPORTER.nodejsHeapSizeUsedBytes },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (used) => ({
        specs: [
          { series: selector(EXPORTER.processMemoryLimitBytes, API_TARGET), kind: 'gauge', step: 1073741824 },
          {
            series: selector(EXPORTER.processResidentMemoryBytes, API_TARGET),
            kind: 'gauge',
            step: 1073741824 * used,
          },
        ],
        labels: { ...API_TARGET },
      }),
      0.2,
    ),
  },
  {
    id: 'FailedLoginsHigh',
    name: 'FailedLoginsHigh',
    severity: 'warning',
    family: 'authn',
    service: JOBS.api,
    group: 'platform',
    expr: `${eventsPerMinute('authn_login_fail')}`,
    threshold: {
      value: 10,
      comparison: '>',
      unit: 'perMinute',
      why: 'Infrastructure guide, Key Metrics: failed logins > 10/min is a warning: above a typing-error background, it looks like credential stuffing or brute force.',
    },
    for: '2m',
    keepFiringFor: '10m',
    summary: 'Failed logins at {{ printf "%.1f" $value }}/min (threshold [[threshold]])',
    description: `Failed logins (event authn_login_fail, all reasons) have run above [[threshold]] for [[for]], averaged over ${EVENT_RATE_WINDOW}: {{ printf "%.1f" $value }} per minute. Possible credential stuffing or brute force.`,
    runbook: {
      meaning: 'More than [[threshold]] failed logins a minute across the platform, for [[for]].',
      impact: 'Accounts may be under attack; lockouts may deny service to real patients and providers.',
      steps: SECURITY_INCIDENT_STEPS,
      investigate: [
        {
          title: 'Failed logins by reason',
          query: `sum by (reason) (rate(${COLLECTOR.eventsTotal}{event_type="authn_login_fail"}[2m])) * 60`,
        },
        {
          title: 'Lockouts',
          query: `sum(rate(${COLLECTOR.eventsTotal}{event_type="authn_login_lock"}[5m])) * 60`,
        },
      ],
    },
    dashboard: 'security',
    test: perMinuteEventsTest('authn_login_fail', ['bad_password', 'unknown_user'], 'anonymous'),
  },
  {
    id: 'PhiAccessDeniedHigh',
    name: 'PhiAccessDeniedHigh',
    severity: 'critical',
    family: 'authz',
    service: JOBS.api,
    group: 'platform',
    expr: `${eventsPerMinute('authz_fail')}`,
    threshold: {
      value: 5,
      comparison: '>',
      unit: 'perMinute',
      why: 'Infrastructure guide, Key Metrics: PHI access denied > 5/min is critical: someone is probing patient records they are not assigned to (HIPAA).',
    },
    for: '1m',
    keepFiringFor: '10m',
    summary: 'PHI access denied {{ printf "%.1f" $value }}/min (threshold [[threshold]])',
    description: `Denied attempts to read patient records (event authz_fail) have run above [[threshold]] for [[for]], averaged over ${EVENT_RATE_WINDOW}: {{ printf "%.1f" $value }} per minute. Treat as a possible PHI snooping incident.`,
    runbook: {
      meaning:
        'More than [[threshold]] denied PHI accesses a minute: a user or token is requesting records outside its assignment.',
      impact:
        'Possible insider snooping or a compromised account probing PHI; a HIPAA security incident until shown otherwise.',
      steps: SECURITY_INCIDENT_STEPS,
      investigate: [
        {
          title: 'Denials by role and reason',
          query: `sum by (actor_role, reason) (rate(${COLLECTOR.eventsTotal}{event_type="authz_fail"}[2m])) * 60`,
        },
        {
          title: 'Granted PHI access by role',
          query: `sum by (actor_role) (rate(${COLLECTOR.eventsTotal}{event_type="phi_access"}[5m])) * 60`,
        },
      ],
    },
    dashboard: 'security',
    test: perMinuteEventsTest('authz_fail', ['not_assigned', 'role_forbidden'], 'staff'),
  },
  {
    id: 'PhiIntegrityFailure',
    name: 'PhiIntegrityFailure',
    severity: 'critical',
    family: 'phi-integrity',
    service: '{{ $labels.job }}',
    group: 'platform',
    // A pod that reports at start-up (legacy rows rebound before its first scrape) is first scraped
    // with the counter above 0, which increase() alone cannot see.
    expr: `(sum by (job, reason) (${increaseFromFirstSeen(
      `${COLLECTOR.eventsTotal}{event_type="${eventType('phi_integrity_fail')}"}`,
      '10m',
    )}))`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'count',
      why: 'A stored PHI value failing AES-GCM authentication was altered or moved in the database, or written under a key this deployment lacks: one is an integrity incident (HIPAA 164.312(c)), and every read of that record fails closed until it is resolved.',
    },
    for: '0m',
    keepFiringFor: '15m',
    summary:
      '{{ $labels.job }}: {{ printf "%.0f" $value }} stored PHI values failed to decrypt in 10 minutes ({{ $labels.reason }})',
    description:
      'Reads of encrypted PHI or MFA secrets failed closed (event phi_integrity_fail, reason {{ $labels.reason }}): the stored value does not authenticate under its row, column and key. The caller got a 500; the record stays unreadable until restored.',
    runbook: {
      meaning:
        'A stored encrypted value did not decrypt. `authentication_failed`: its bytes or associated data (table, column, row, patient) do not match, i.e. it was changed or copied from another row. `unknown_key`: it names a key id this deployment does not hold. `malformed` / `unknown_format`: it is not a value this service wrote.',
      impact:
        'The affected patient records, notes or prescriptions cannot be read (500), or an MFA account cannot log in. With `authentication_failed`, someone with database access may have altered PHI.',
      steps: [
        "Find the affected records: the audit log's `phi_integrity_fail` events name the resource (type and pseudonymous reference) and who was reading it; the Security dashboard shows them by reason.",
        'Reported at start-up (actor `system`): a note or prescription written before patient binding (migration 003) that did not authenticate when it was re-encrypted. Each is reported once and kept in `phi_integrity_failures` (resource, id, reason, first reported); every start still counts them in its log line `encrypted PHI rows that do not authenticate were left as they are`.',
        'Reason `unknown_key` right after a deployment or key rotation: a previous key was dropped from `ENCRYPTION_PREVIOUS_KEYS`; put it back and redeploy (no data is damaged).',
        'Reason `authentication_failed` or `malformed`: do not repair anything yet; snapshot the database for forensics, compare the rows with the latest backup, and restore the values from it.',
        ...SECURITY_INCIDENT_STEPS.slice(1),
      ],
      investigate: [
        {
          title: 'Failures by reason',
          query: `sum by (reason) (increase(${COLLECTOR.eventsTotal}{event_type="phi_integrity_fail"}[1h]))`,
        },
        {
          title: 'Server errors on the API',
          query: `sum by (route) (rate(${EXPORTER.httpRequestsTotal}{job="${JOBS.api}",status_code=~"5.."}[5m]))`,
        },
      ],
    },
    dashboard: 'security',
    test: gaugeTest(
      (failed) => ({
        specs: [
          {
            series: selector(COLLECTOR.eventsTotal, {
              ...API_TARGET,
              event_type: eventType('phi_integrity_fail'),
              outcome: 'failure',
              actor_role: 'provider',
              reason: 'authentication_failed',
            }),
            kind: 'counter',
            step: failed / 10,
          },
        ],
        labels: { job: JOBS.api, reason: 'authentication_failed' },
      }),
      0,
      () => 0,
      () => 1,
    ),
  },
  {
    id: 'DependencyDown',
    name: 'DependencyDown',
    severity: 'warning',
    family: 'dependency',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr: `${EXPORTER.dependencyUp}`,
    threshold: {
      value: 1,
      comparison: '<',
      unit: 'boolean',
      why: 'The readiness check of a dependency (database, audit store) failed: 0 means the last check failed.',
    },
    for: '2m',
    summary:
      '{{ $labels.job }} {{ $labels.instance }}: dependency {{ $labels.dependency }} is failing its readiness check',
    description:
      'The readiness check of {{ $labels.dependency }} has failed for [[for]] on {{ $labels.instance }}; the instance reports not ready.',
    runbook: {
      meaning: 'A dependency the service needs (usually PostgreSQL) failed its readiness checks for [[for]].',
      impact: 'Requests needing the dependency fail; the load balancer takes the instance out of rotation.',
      steps: DATABASE_STEPS,
      investigate: [
        { title: 'Dependencies down', query: `${EXPORTER.dependencyUp} == 0` },
        { title: 'Pool connections', query: `${EXPORTER.dbPoolConnections}` },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (up) => ({
        specs: [
          {
            series: selector(EXPORTER.dependencyUp, { ...API_TARGET, dependency: 'database' }),
            kind: 'gauge',
            step: up,
          },
        ],
        labels: { ...API_TARGET, dependency: 'database' },
      }),
      1,
      () => 1,
      () => 0,
    ),
  },
  {
    id: 'DatabasePoolExhausted',
    name: 'DatabasePoolExhausted',
    severity: 'warning',
    family: 'dependency',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr: `max by (job, instance) (${EXPORTER.dbPoolConnections}{state="waiting"})`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'count',
      why: 'Any request waiting for a connection for 5 minutes means the pool is too small or connections are held too long.',
    },
    for: '5m',
    summary:
      '{{ $labels.job }} {{ $labels.instance }}: {{ printf "%.0f" $value }} queries waiting for a database connection',
    description:
      'Queries have been queueing for a pooled connection for [[for]] (now {{ printf "%.0f" $value }} waiting).',
    runbook: {
      meaning: 'The PostgreSQL connection pool has had waiting clients for [[for]].',
      impact: 'Requests wait for a connection: latency rises, then requests time out.',
      steps: DATABASE_STEPS,
      investigate: [{ title: 'Pool by state', query: `${EXPORTER.dbPoolConnections}` }],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (waiting) => ({
        specs: [
          {
            series: selector(EXPORTER.dbPoolConnections, { ...API_TARGET, state: 'waiting' }),
            kind: 'gauge',
            step: waiting,
          },
        ],
        labels: { ...API_TARGET },
      }),
      0,
      () => 0,
      () => 3,
    ),
  },
  {
    id: 'MetricLabelOverflow',
    name: 'MetricLabelOverflow',
    severity: 'info',
    family: 'metrics',
    service: '{{ $labels.job }}',
    group: 'platform',
    expr: `sum by (job) (increase(${EXPORTER.labelOverflowTotal}[15m]))`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'count',
      why: 'A capped label overflowed into `other`: harmless for paging, but a dashboard lost detail and the cap or the label needs a look.',
    },
    for: '0m',
    summary: '{{ $labels.job }}: metric label values overflowed into "other"',
    description: '{{ printf "%.0f" $value }} label sets were folded into the overflow value over 15 minutes.',
    runbook: {
      meaning: 'A metric label exceeded its cardinality cap and new values are counted as `other`.',
      impact: 'None on users; per-route or per-reason detail on dashboards is lost for the new values.',
      steps: [
        'Find the metric: `sum by (metric) (increase(telehealth_metrics_label_overflow_total[1h]))`.',
        'Decide whether the new values are legitimate (raise the cap) or unbounded input leaking into a label (fix the code).',
      ],
      investigate: [
        {
          title: 'Overflow by metric',
          query: `sum by (metric) (increase(${EXPORTER.labelOverflowTotal}[1h]))`,
        },
      ],
    },
    dashboard: 'appOverview',
    test: gaugeTest(
      (count) => ({
        specs: [
          {
            series: selector(EXPORTER.labelOverflowTotal, { ...API_TARGET, metric: 'http_requests_total' }),
            kind: 'counter',
            step: count / 15,
          },
        ],
        labels: { job: JOBS.api },
      }),
      0,
      () => 0,
      () => 3,
    ),
  },
];

function sloEntries(): AlertDefinition[] {
  const out: AlertDefinition[] = [];
  for (const slo of SLOS) {
    const budget = Number((1 - slo.objective).toPrecision(12));
    for (const w of BURN_WINDOWS) {
      const long = w.long as SloWindow;
      const short = w.short as SloWindow;
      const what = slo.key === 'availability' ? 'error' : 'slow-request';
      out.push({
        id: `${slo.alertName}_${w.long}_${w.short}`,
        name: slo.alertName,
        severity: w.severity,
        family: slo.key === 'availability' ? 'errors' : 'latency',
        service: '{{ $labels.job }}',
        group: 'slo',
        expr: `${slo.ratioRecord(long)} / ${budget}`,
        threshold: {
          value: w.factor,
          comparison: '>',
          unit: 'burnRate',
          why:
            w.severity === 'critical'
              ? `${w.factor}x the sustainable burn over ${w.long} (confirmed over ${w.short}) spends ${Number((((w.factor * durationHours(w.long)) / (SLO_PERIOD_DAYS * 24)) * 100).toPrecision(3))}% of the ${SLO_PERIOD_DAYS}-day budget: page.`
              : `${w.factor}x over ${w.long} (confirmed over ${w.short}) exhausts the ${SLO_PERIOD_DAYS}-day budget within ${Math.round(SLO_PERIOD_DAYS / w.factor)} days: a ticket, not a page.`,
        },
        alertExpr: (factor: number) => {
          const limit = Number((factor * budget).toPrecision(12));
          return (
            `${slo.ratioRecord(long)} > ${limit} and ${slo.ratioRecord(short)} > ${limit}` +
            ` and on (job) ${requestRateRecord(long)} >= ${Number(minRequestRate(w.long).toPrecision(6))}`
          );
        },
        for: w.for,
        labels: { long_window: w.long, short_window: w.short },
        summary: `{{ $labels.job }}: ${slo.key} SLO burning its error budget at over [[threshold]] (${what} ratio {{ $value | humanizePercentage }} over ${w.long})`,
        description: `SLO: ${slo.description}. The ${what} ratio is {{ $value | humanizePercentage }} over ${w.long} and also above ${w.factor}x the budget over ${w.short}. At this pace the ${SLO_PERIOD_DAYS}-day budget is gone in ${Math.round((SLO_PERIOD_DAYS / w.factor) * 10) / 10} days.`,
        runbook: {
          meaning: `The ${slo.key} SLO (${slo.description}) is consuming its error budget ${w.factor} times faster than sustainable, over both the ${w.long} and the ${w.short} windows.`,
          impact:
            w.severity === 'critical'
              ? "A large part of the month's budget is going within hours; users are affected now."
              : 'The budget will run out before the month ends if nothing changes.',
          steps:
            slo.key === 'availability'
              ? HIGH_ERROR_RATE_STEPS
              : [
                  'Find the slow routes (first query below) and whether the slowness started with a deployment.',
                  ...DATABASE_STEPS.slice(0, 1),
                  ...SATURATION_STEPS.slice(0, 2),
                ],
          investigate: [
            { title: `Bad-request ratio over ${w.long}`, query: slo.ratioRecord(long) },
            { title: `Bad-request ratio over ${w.short}`, query: slo.ratioRecord(short) },
            { title: 'Traffic', query: requestRateRecord(long) },
          ],
        },
        dashboard: 'appOverview',
        handWrittenTest: 'prometheus/tests/slo-burn-rate.test.yml',
      });
    }
  }
  return out;
}

function durationHours(d: string): number {
  const n = Number(d.slice(0, -1));
  return d.endsWith('d') ? n * 24 : d.endsWith('h') ? n : n / 60;
}

const availability: AlertDefinition[] = [
  {
    id: 'TargetDown',
    name: 'TargetDown',
    severity: 'warning',
    family: 'availability',
    service: '{{ $labels.job }}',
    group: 'availability',
    expr: `${EXTERNAL.up} == 0`,
    for: '5m',
    summary: '{{ $labels.job }} target {{ $labels.instance }} is down',
    description:
      'Prometheus has failed to scrape {{ $labels.instance }} of job {{ $labels.job }} for [[for]].',
    runbook: {
      meaning: 'One scrape target has been unreachable or failing for [[for]].',
      impact:
        'Its metrics are missing: alerts built on them cannot fire. If the target is the service itself, users may be affected.',
      steps: [
        'Open Prometheus `/targets` and read the scrape error (connection refused, timeout, 401 from a rotated bearer token, sample_limit exceeded).',
        'Check the process or pod: `kubectl get pods -n <namespace> -o wide`, its logs and restarts.',
        'If the error is 401, make sure the metrics token file Prometheus reads matches the one the service was started with.',
      ],
      investigate: [
        { title: 'Down targets', query: `${EXTERNAL.up} == 0` },
        {
          title: 'Samples over the limit',
          query: `increase(${EXTERNAL.prometheusTargetScrapesSampleLimitExceededTotal}[15m])`,
        },
      ],
    },
    dashboard: 'infrastructure',
    handWrittenTest: 'prometheus/tests/availability.test.yml',
  },
  {
    id: 'TelehealthApiDown',
    name: 'TelehealthApiDown',
    severity: 'critical',
    family: 'availability',
    service: JOBS.api,
    group: 'availability',
    expr: `sum by (job) (${EXTERNAL.up}{job="${JOBS.api}"}) == 0`,
    for: '2m',
    summary: 'Every instance of the telehealth API is down',
    description:
      'No instance of job {{ $labels.job }} could be scraped for [[for]]: the API is most likely unavailable to users.',
    runbook: {
      meaning: 'All scrape targets of the API job are down.',
      impact:
        'The platform is unavailable: patients cannot book or join visits, providers cannot reach records.',
      steps: [
        'Check the service from outside: `curl -sf https://<public-host>/api/health`.',
        ...HIGH_ERROR_RATE_STEPS,
      ],
      investigate: [{ title: 'API targets', query: `${EXTERNAL.up}{job="${JOBS.api}"}` }],
    },
    dashboard: 'appOverview',
    handWrittenTest: 'prometheus/tests/availability.test.yml',
  },
  {
    id: 'TelehealthApiAbsent',
    name: 'TelehealthApiAbsent',
    severity: 'critical',
    family: 'availability',
    service: JOBS.api,
    group: 'availability',
    expr: `absent(${EXTERNAL.up}{job="${JOBS.api}"})`,
    for: '5m',
    summary: 'Prometheus has no target for the telehealth API',
    description:
      'There has been no `up` series for job {{ $labels.job }} for [[for]]: service discovery or the scrape configuration lost the API.',
    runbook: {
      meaning: 'Prometheus does not know any API target, so none of the API alerts can fire.',
      impact: 'Monitoring of the API is blind; outages would go unnoticed.',
      steps: [
        'Check Prometheus `/service-discovery` and `/config` for the job.',
        'Check whether the deployment, its service or its labels changed (the scrape config or ServiceMonitor selects by them).',
      ],
      investigate: [{ title: 'Known jobs', query: `count by (job) (${EXTERNAL.up})` }],
    },
    dashboard: 'appOverview',
    handWrittenTest: 'prometheus/tests/availability.test.yml',
  },
  {
    id: 'CollectorMetricsAbsent',
    name: 'CollectorMetricsAbsent',
    severity: 'warning',
    family: 'collector-queue',
    service: JOBS.collector,
    group: 'availability',
    expr: `absent(${COLLECTOR.queueCapacityEvents})`,
    for: '10m',
    summary: 'No event collector is reporting metrics',
    description:
      'No series of the collector (embedded or standalone) has been seen for [[for]]: security and audit events may not be collected.',
    runbook: {
      meaning: 'Neither the API nor the standalone collector exports the collector queue metrics.',
      impact: 'Security alerts (failed logins, PHI denials) cannot fire; audit events may be lost.',
      steps: COLLECTOR_STEPS,
      investigate: [{ title: 'Collector queue', query: COLLECTOR.queueEvents }],
    },
    dashboard: 'infrastructure',
    handWrittenTest: 'prometheus/tests/availability.test.yml',
  },
];

const collector: AlertDefinition[] = [
  {
    id: 'CollectorQueueNearFull',
    name: 'CollectorQueueNearFull',
    severity: 'warning',
    family: 'collector-queue',
    service: '{{ $labels.job }}',
    group: 'collector',
    expr: `${COLLECTOR.queueEvents} / on (job, instance) (${COLLECTOR.queueCapacityEvents} > 0)`,
    threshold: {
      value: 0.8,
      comparison: '>',
      unit: 'ratio',
      why: 'At 80 % the queue has minutes, not hours, before it refuses business events; it means the store is not keeping up.',
    },
    for: '5m',
    summary:
      '{{ $labels.job }} {{ $labels.instance }}: collector queue at {{ $value | humanizePercentage }} (threshold [[threshold]])',
    description:
      'The in-memory event queue has been fuller than [[threshold]] for [[for]]; next it refuses events with queue_full.',
    runbook: {
      meaning: 'The collector receives events faster than it stores them.',
      impact: 'Soon new events are refused (business first); security events spill to the spool.',
      steps: COLLECTOR_STEPS,
      investigate: [
        { title: 'Queue fill', query: `${COLLECTOR.queueEvents} / ${COLLECTOR.queueCapacityEvents}` },
        {
          title: 'Store batch p95',
          query: `histogram_quantile(0.95, sum by (le) (rate(${COLLECTOR.storeBatchDurationSeconds}_bucket[5m])))`,
        },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (fill) => ({
        specs: [
          { series: selector(COLLECTOR.queueCapacityEvents, COLLECTOR_TARGET), kind: 'gauge', step: 10000 },
          { series: selector(COLLECTOR.queueEvents, COLLECTOR_TARGET), kind: 'gauge', step: 10000 * fill },
        ],
        labels: { ...COLLECTOR_TARGET },
      }),
      0,
    ),
  },
  {
    id: 'CollectorSpoolNearFull',
    name: 'CollectorSpoolNearFull',
    severity: 'critical',
    family: 'collector-spool',
    service: '{{ $labels.job }}',
    group: 'collector',
    expr: `${COLLECTOR.spoolBytes} / on (job, instance) (${COLLECTOR.spoolCapacityBytes} > 0)`,
    threshold: {
      value: 0.9,
      comparison: '>',
      unit: 'ratio',
      why: 'At 90 % the spool is about to refuse security events, which would be lost from the audit trail.',
    },
    for: '5m',
    summary:
      '{{ $labels.job }} {{ $labels.instance }}: event spool at {{ $value | humanizePercentage }} (threshold [[threshold]])',
    description:
      'The on-disk spool has been fuller than [[threshold]] for [[for]]; when full, accepted audit events are dropped.',
    runbook: {
      meaning: 'The collector cannot store events and has nearly filled its disk spool.',
      impact: 'Audit events (HIPAA) are about to be lost.',
      steps: COLLECTOR_STEPS,
      investigate: [
        { title: 'Spool fill', query: `${COLLECTOR.spoolBytes} / ${COLLECTOR.spoolCapacityBytes}` },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (fill) => ({
        specs: [
          {
            series: selector(COLLECTOR.spoolCapacityBytes, COLLECTOR_TARGET),
            kind: 'gauge',
            step: 104857600,
          },
          { series: selector(COLLECTOR.spoolBytes, COLLECTOR_TARGET), kind: 'gauge', step: 104857600 * fill },
        ],
        labels: { ...COLLECTOR_TARGET },
      }),
      0,
    ),
  },
  {
    id: 'CollectorSpoolGrowing',
    name: 'CollectorSpoolGrowing',
    severity: 'warning',
    family: 'collector-spool',
    service: '{{ $labels.job }}',
    group: 'collector',
    // The backlog (accepted, not yet committed), not the spool's size on disk: committed records stay
    // in their 8 MiB segment until it is released, so at a low event rate the spool file grows for
    // half an hour or more while the store is perfectly healthy (the first version of this alert,
    // on deriv(spool_bytes), would have fired on that sawtooth).
    expr: `min_over_time(${COLLECTOR.backlogEvents}[15m])`,
    threshold: {
      value: 1000,
      comparison: '>',
      unit: 'count',
      why: 'A healthy store commits a batch (at most 1000 events) within seconds, so the backlog falls below one batch at least once in any 15 minutes; one that never did is not draining: the store is down or slower than the inflow.',
    },
    for: '5m',
    summary:
      '{{ $labels.job }} {{ $labels.instance }}: event backlog not draining (at least {{ printf "%.0f" $value }} events for 15 minutes)',
    description:
      'For 15 minutes the backlog of accepted events never fell below [[threshold]] (lowest {{ printf "%.0f" $value }}): events are not reaching the audit store fast enough and wait in the spool.',
    runbook: {
      meaning: 'Accepted events wait in the spool and are not drained into the audit store.',
      impact: 'Events reach the audit store late; if it continues the spool fills and events are dropped.',
      steps: COLLECTOR_STEPS,
      investigate: [
        { title: 'Backlog (events)', query: COLLECTOR.backlogEvents },
        { title: 'Spool bytes', query: COLLECTOR.spoolBytes },
        { title: 'Store errors', query: `rate(${COLLECTOR.storeErrorsTotal}[5m])` },
      ],
    },
    dashboard: 'infrastructure',
    test: (() => {
      const backlog = gaugeTest(
        (events) => ({
          specs: [
            { series: selector(COLLECTOR.backlogEvents, COLLECTOR_TARGET), kind: 'gauge', step: events },
          ],
          labels: { ...COLLECTOR_TARGET },
        }),
        0,
      );
      // A store that keeps up drains the backlog below one batch at least once in any 15 minutes,
      // however high it peaks in between: only a backlog that never drains may page.
      return withCases(backlog, {
        silent: (threshold) => [
          {
            name: `bursts to ${num(threshold * 5)} events for 3 minutes in every 10, drained to ${num(threshold / 10)} in between, stay silent`,
            phases: [
              { fixture: backlog.fixture(threshold / 10), minutes: 7 },
              { fixture: backlog.fixture(threshold * 5), minutes: 3 },
            ],
          },
          {
            name: `a backlog of ${num(threshold * 5)} that drains to ${num(threshold / 10)} once every 14 minutes stays silent`,
            phases: [
              { fixture: backlog.fixture(threshold / 10), minutes: 1 },
              { fixture: backlog.fixture(threshold * 5), minutes: 13 },
            ],
          },
        ],
      });
    })(),
  },
  {
    id: 'CollectorEventsDropped',
    name: 'CollectorEventsDropped',
    severity: 'critical',
    family: 'collector-store',
    service: '{{ $labels.job }}',
    group: 'collector',
    // Drops of a damaged spool are counted at start-up, before the first scrape (see the helper).
    expr: `(sum by (job, event_class) (${increaseFromFirstSeen(COLLECTOR.eventsDroppedTotal, '10m')}))`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'count',
      why: 'Accepted events must never be lost: one dropped security event is a gap in the HIPAA audit trail.',
    },
    for: '0m',
    keepFiringFor: '15m',
    summary:
      '{{ $labels.job }}: {{ printf "%.0f" $value }} accepted {{ $labels.event_class }} events dropped in 10 minutes',
    description:
      'The collector dropped {{ printf "%.0f" $value }} {{ $labels.event_class }} events it had accepted (spool full, store rejected them, their event id was already stored for another event, or the spool was damaged on disk).',
    runbook: {
      meaning:
        'Events that were accepted have left the pipeline: lost (spool_full), refused by the audit store for themselves (store_rejected), sent under an event id the store already holds for a different event (id_conflict), or found damaged on disk when the collector started (spool_corrupt).',
      impact: 'The audit trail has a gap; business metrics undercount.',
      steps: [
        "Reason `store_rejected`: the rows are kept, one per line, in `quarantine.rows` beside the collector's spool; find the constraint they break (the error log has the event id and SQLSTATE), fix it, and replay them.",
        "Reason `spool_corrupt`: the disk under the spool returned damaged bytes; the intact records after them were replayed, and the damaged bytes are in `<segment>.corrupt` beside the spool's segments. Check the disk (`dmesg`, SMART) and move the spool off it; the sources' own logs may hold the lost events' ids for resending.",
        'Reason `id_conflict`: the stored event stands and the later one is kept in `quarantine.rows`; compare the two (the error log has the event id). A source reusing ids is a bug in that source (each event needs a fresh UUID); a stored event that differs from what its source sent is a possible tampering and goes to the AuditChainBroken steps.',
        ...COLLECTOR_STEPS,
        ...SECURITY_INCIDENT_STEPS.slice(4),
      ],
      investigate: [
        {
          title: 'Drops by class and reason',
          query: `sum by (event_class, reason) (increase(${COLLECTOR.eventsDroppedTotal}[1h]))`,
        },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (dropped) => ({
        specs: [
          {
            series: selector(COLLECTOR.eventsDroppedTotal, {
              ...COLLECTOR_TARGET,
              event_class: 'security',
              reason: 'spool_full',
            }),
            kind: 'counter',
            step: dropped / 10,
          },
        ],
        labels: { job: JOBS.collector, event_class: 'security' },
      }),
      0,
      () => 0,
      () => 5,
    ),
  },
  {
    id: 'CollectorStoreErrors',
    name: 'CollectorStoreErrors',
    severity: 'warning',
    family: 'collector-store',
    service: '{{ $labels.job }}',
    group: 'collector',
    expr: `sum by (job) (rate(${COLLECTOR.storeErrorsTotal}[5m]))`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'perSecond',
      why: 'Writes to the audit store failing for 10 minutes: the spool is filling.',
    },
    for: '10m',
    summary: '{{ $labels.job }}: audit store writes failing ({{ printf "%.2f" $value }}/s)',
    description:
      'Batches written to the audit database have failed for [[for]] ({{ printf "%.2f" $value }} errors per second).',
    runbook: {
      meaning: 'The collector cannot write to the audit store.',
      impact: 'Events are spooled and delayed; if it lasts, dropped.',
      steps: [...DATABASE_STEPS, ...COLLECTOR_STEPS.slice(2)],
      investigate: [{ title: 'Store errors', query: `rate(${COLLECTOR.storeErrorsTotal}[5m])` }],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (perSecond) => ({
        specs: [
          {
            series: selector(COLLECTOR.storeErrorsTotal, COLLECTOR_TARGET),
            kind: 'counter',
            step: perSecond * 60,
          },
        ],
        labels: { job: JOBS.collector },
      }),
      0,
      () => 0,
      () => 0.5,
    ),
  },
  {
    id: 'AuditChainBroken',
    name: 'AuditChainBroken',
    severity: 'critical',
    family: 'audit',
    service: '{{ $labels.job }}',
    group: 'collector',
    expr: `max by (job) (${COLLECTOR.auditChainBroken})`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'boolean',
      why: 'The hash chain of the audit table failed verification: a row was altered or removed behind the triggers.',
    },
    for: '0m',
    summary: '{{ $labels.job }}: the audit log hash chain is broken',
    description:
      "Verification of the audit table's hash chain failed: an audit row was changed or deleted outside the application. Treat as a security incident.",
    runbook: {
      meaning: 'Someone with database privileges altered the audit trail, or storage corrupted it.',
      impact: 'The HIPAA audit trail cannot be trusted from the first broken row on.',
      steps: [
        'Do not repair anything yet: preserve the database state (snapshot) for forensics.',
        "Run `npm run audit:verify -- --head-dir <the collector's spool folder>` (or `--anchor-seq`/`--anchor-hash` with the externally kept head) to find the first broken row; unanchored, a deleted tail is not seen.",
        "Kind `anchor_mismatch` (in the collector's error log): the row the collector had verified last (kept in `audit-chain-head.json` beside its spool) is gone or changed, i.e. the verified tail was deleted or rewritten. After a deliberate database restore or reset only, and once that is recorded, move the file aside to re-anchor the collector on the restored chain.",
        ...SECURITY_INCIDENT_STEPS,
      ],
      investigate: [
        { title: 'Chain state', query: COLLECTOR.auditChainBroken },
        { title: 'Last verification', query: `time() - ${COLLECTOR.auditChainLastVerifiedTimestampSeconds}` },
      ],
    },
    dashboard: 'security',
    test: gaugeTest(
      (broken) => ({
        specs: [
          { series: selector(COLLECTOR.auditChainBroken, COLLECTOR_TARGET), kind: 'gauge', step: broken },
        ],
        labels: { job: JOBS.collector },
      }),
      0,
      () => 0,
      () => 1,
    ),
  },
  {
    id: 'AuditChainVerificationStale',
    name: 'AuditChainVerificationStale',
    severity: 'warning',
    family: 'audit',
    service: '{{ $labels.job }}',
    group: 'collector',
    // The gauge is 0 until a verification succeeds. The latest success of any instance counts (the
    // chain is one per database); only when no instance has one does the age count from the oldest
    // start, so a collector that never manages one still fires, and a restarted or new replica
    // cannot hide another's stale one.
    expr: `(time() - ${lastSuccess(COLLECTOR.auditChainLastVerifiedTimestampSeconds, '2h')})`,
    threshold: {
      value: 3600,
      comparison: '>',
      unit: 'seconds',
      why: 'The chain is verified every minute; an hour without a successful verification means tampering would go unnoticed (the verify job fails or stopped).',
    },
    for: '10m',
    summary: '{{ $labels.job }}: the audit chain has not been verified for {{ printf "%.0f" $value }}s',
    description:
      'The last successful verification of the audit hash chain is older than [[threshold]]: a tampered audit row would not be detected.',
    runbook: {
      meaning:
        'The scheduled audit chain verification has not succeeded for more than [[threshold]], or has not succeeded once in the [[threshold]] since the collector started.',
      impact: 'Tampering with the audit trail would go undetected until verification runs again.',
      steps: [
        `Check the collector's scheduled jobs: \`${COLLECTOR.scheduledJobRunsTotal}\` by outcome for the verify job.`,
        `Check whether the collector restarts (\`${EXPORTER.processStartTimeSeconds}\` changes): while no verification has succeeded, the age counts from its start.`,
        'Run `npm run audit:verify` by hand; if it fails on a broken link, follow the AuditChainBroken runbook.',
        ...COLLECTOR_STEPS.slice(1, 2),
      ],
      investigate: [
        {
          title: 'Age of the last verification',
          query: `time() - ${COLLECTOR.auditChainLastVerifiedTimestampSeconds}`,
        },
        {
          title: 'Scheduled job runs',
          query: `sum by (outcome) (increase(${COLLECTOR.scheduledJobRunsTotal}[1h]))`,
        },
      ],
    },
    dashboard: 'security',
    handWrittenTest: 'prometheus/tests/collector.test.yml',
  },
  {
    id: 'BusinessGaugesStale',
    name: 'BusinessGaugesStale',
    severity: 'warning',
    family: 'business-gauges',
    service: '{{ $labels.job }}',
    group: 'collector',
    // Per instance: each collector refreshes its own gauges, and the Business panels take the max.
    expr: `(time() - ${lastSuccess(taskGauge('business_gauges'), '30m', 'instance')})`,
    threshold: {
      value: 900,
      comparison: '>',
      unit: 'seconds',
      why: 'The gauges refresh every 30 s: 15 minutes without a successful refresh (30 runs) is no blip, and the Business dashboard shows stale backlogs.',
    },
    for: '5m',
    summary: '{{ $labels.instance }}: business gauges not refreshed for {{ printf "%.0f" $value }}s',
    description:
      'The collector has not refreshed the open orders, pending prescriptions and unpaid invoices for more than [[threshold]]: the Business dashboard shows stale backlogs.',
    runbook: {
      meaning:
        'The scheduled business_gauges task of a collector has not succeeded for more than [[threshold]] (or not once since the collector started).',
      impact:
        'The open orders, pending prescriptions and unpaid invoices on the Business dashboard are stale.',
      steps: [
        `Runs by outcome: \`${COLLECTOR.scheduledJobRunsTotal}{task="business_gauges"}\`. Failures: read the collector's log lines \`scheduled job failed\` (\`error.code\` names the cause). No runs at all: the scheduler stopped or the process is hung; restart the collector.`,
        ...DATABASE_STEPS.slice(0, 3),
      ],
      investigate: [TASK_RUNS],
    },
    dashboard: 'infrastructure',
    handWrittenTest: 'prometheus/tests/collector.test.yml',
  },
  {
    id: 'AccountChangeEventsStale',
    name: 'AccountChangeEventsStale',
    severity: 'warning',
    family: 'account-changes',
    service: '{{ $labels.job }}',
    group: 'collector',
    // Per job: the outbox is one per database, and any replica's drain empties it.
    expr: `(time() - ${lastSuccess(taskGauge('account_change_events'), '30m')})`,
    threshold: {
      value: 900,
      comparison: '>',
      unit: 'seconds',
      why: 'The drain runs every 30 s: 15 minutes without a successful run (30 runs) is no blip, and an account created, disabled or given another role in that time is missing from the security events and the audit trail.',
    },
    for: '5m',
    summary: '{{ $labels.job }}: account changes not reported for {{ printf "%.0f" $value }}s',
    description:
      'No replica of {{ $labels.job }} has drained the account change outbox for more than [[threshold]]: accounts created, disabled, enabled or given another role, and the sessions that ended, are not in the security events or the audit trail.',
    runbook: {
      meaning:
        'The scheduled account_change_events task of the service has not succeeded on any replica for more than [[threshold]] (or not once since the oldest replica started). It turns the rows that the database leaves in `account_change_outbox` (an account created, disabled, enabled or given another role, by the API or by SQL) into `user_created`, `user_updated` and `authn_token_revoked` events.',
      impact:
        'The changes themselves took effect, and the sessions ended with them (the database does that in the same transaction); what is missing is the record: the Security dashboard and the audit trail do not show them until the drain runs again. Nothing is lost: the rows wait in the outbox.',
      steps: [
        `Runs by outcome: \`${COLLECTOR.scheduledJobRunsTotal}{task="account_change_events"}\`. Failures: read the service's log lines \`scheduled job failed\` with \`job.name\` account_change_events (\`error.code\` names the cause: WAIT_TIMEOUT, the audit store did not store the events in time, see CollectorStoreErrors; EVENTS_REFUSED, the collector refused them, see \`${COLLECTOR.eventsRejectedTotal}\` by reason).`,
        'How much waits: `SELECT count(*), min(changed_at) FROM account_change_outbox` (rows whose events were refused stay claimed for two minutes, then are tried again).',
        ...DATABASE_STEPS.slice(0, 3),
      ],
      investigate: [TASK_RUNS],
    },
    dashboard: 'infrastructure',
    handWrittenTest: 'prometheus/tests/collector.test.yml',
  },
  {
    id: 'AuditChainFullVerificationStale',
    name: 'AuditChainFullVerificationStale',
    severity: 'warning',
    // The audit family: a broken chain (AuditChainBroken, critical) inhibits this warning.
    family: 'audit',
    service: '{{ $labels.job }}',
    group: 'collector',
    // Per job: the chain is one per database, so any instance's success counts.
    expr: `(time() - ${lastSuccess(taskGauge('audit_chain_verify_full'), '2d')})`,
    threshold: {
      value: 93600,
      comparison: '>',
      unit: 'seconds',
      why: 'The full verification runs nightly: 26 hours leaves two hours for a long run before a missed night counts; a failed night is then noticed the next morning and stays until a run succeeds.',
    },
    for: '10m',
    summary: '{{ $labels.job }}: the audit chain has not been fully verified for {{ printf "%.0f" $value }}s',
    description:
      "The nightly full verification of the audit hash chain has not succeeded for more than [[threshold]]: rows older than the incremental verification's window were not re-checked.",
    runbook: {
      meaning:
        'The nightly full re-verification of the audit hash chain has not succeeded for more than [[threshold]] (or not once since the collector started).',
      impact:
        'Tampering with rows the minutely incremental verification has already passed would go unnoticed until a full run succeeds.',
      steps: [
        `Runs by outcome: \`${COLLECTOR.scheduledJobRunsTotal}{task="audit_chain_verify_full"}\`; the collector's log lines \`scheduled job failed\` give \`error.code\` (CHAIN_BROKEN: follow the AuditChainBroken runbook).`,
        'Run `npm run audit:verify` by hand against the audit database: it verifies the whole chain and prints the head hash.',
        ...DATABASE_STEPS.slice(0, 3),
      ],
      investigate: [
        {
          title: 'Full verification runs',
          query: `sum by (outcome) (increase(${COLLECTOR.scheduledJobRunsTotal}{task="audit_chain_verify_full"}[2d]))`,
        },
      ],
    },
    dashboard: 'infrastructure',
    handWrittenTest: 'prometheus/tests/collector.test.yml',
  },
  {
    id: 'LogShippingDropping',
    name: 'LogShippingDropping',
    severity: 'warning',
    family: 'log-shipping',
    service: '{{ $labels.job }}',
    group: 'collector',
    expr: `sum by (job, reason) (rate(${COLLECTOR.logLinesDroppedTotal}[5m]))`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'perSecond',
      why: 'Log lines lost for 10 minutes: the log sink is down or the shipper did not reconnect (pino-elasticsearch does not).',
    },
    for: '10m',
    keepFiringFor: '10m',
    summary: '{{ $labels.job }}: log lines dropped ({{ $labels.reason }}, {{ printf "%.2f" $value }}/s)',
    description:
      'Log shipping has dropped lines ({{ $labels.reason }}) for [[for]]; the centralized logs are incomplete.',
    runbook: {
      meaning: 'Log lines are being dropped instead of shipped.',
      impact:
        'Investigations lack logs for the window; the audit trail itself is unaffected (it is in PostgreSQL).',
      steps: [
        'Check the log sink (Elasticsearch) health and disk watermarks.',
        'Check `telehealth_log_shipping_errors_total`: if errors stopped but drops continue, the shipper did not reconnect; restart the instance.',
        'Note the window in the incident log: searches over it are incomplete.',
      ],
      investigate: [
        { title: 'Drops by reason', query: `sum by (reason) (rate(${COLLECTOR.logLinesDroppedTotal}[5m]))` },
        { title: 'Shipping errors', query: `rate(${COLLECTOR.logShippingErrorsTotal}[5m])` },
      ],
    },
    dashboard: 'infrastructure',
    test: gaugeTest(
      (perSecond) => ({
        specs: [
          {
            series: selector(COLLECTOR.logLinesDroppedTotal, { ...API_TARGET, reason: 'sink_error' }),
            kind: 'counter',
            step: perSecond * 60,
          },
        ],
        labels: { job: JOBS.api, reason: 'sink_error' },
      }),
      0,
      () => 0,
      () => 2,
    ),
  },
];

const alerting: AlertDefinition[] = [
  {
    id: 'Watchdog',
    name: 'Watchdog',
    severity: 'info',
    family: 'meta',
    service: JOBS.prometheus,
    group: 'alerting',
    expr: 'vector(1)',
    for: '0m',
    summary: 'Watchdog: the alerting pipeline is alive',
    description:
      "Always firing. Alertmanager sends it to the dead man's switch every minute; when it stops arriving, the switch pages PagerDuty directly.",
    runbook: {
      meaning:
        "This alert always fires; it is the heartbeat of Prometheus -> Alertmanager -> dead man's switch.",
      impact:
        'None while it fires. If the dead man\'s switch pages "no heartbeat", paging through Alertmanager is broken.',
      steps: [
        "If the dead man's switch paged: check that Prometheus and Alertmanager run (`/-/healthy`) and that Prometheus lists the Alertmanager (`/status`).",
        'Check the webhook delivery errors in the Alertmanager logs (integration webhook, receiver deadman).',
        ...ALERTING_PIPELINE_STEPS.slice(3),
      ],
      investigate: [
        { title: 'Alertmanagers discovered', query: EXTERNAL.prometheusNotificationsAlertmanagersDiscovered },
        {
          title: 'Webhook failures',
          query: `rate(${EXTERNAL.alertmanagerNotificationsFailedTotal}{integration="webhook"}[5m])`,
        },
      ],
    },
    dashboard: 'appOverview',
    handWrittenTest: 'prometheus/tests/alerting.test.yml',
  },
  {
    id: 'AlertmanagerFailedToSendAlerts',
    name: 'AlertmanagerFailedToSendAlerts',
    severity: 'critical',
    family: 'alerting',
    service: '{{ $labels.job }}',
    group: 'alerting',
    expr:
      `sum by (job, instance, integration) (rate(${EXTERNAL.alertmanagerNotificationsFailedTotal}[5m]))` +
      ` / sum by (job, instance, integration) (rate(${EXTERNAL.alertmanagerNotificationsTotal}[5m]))`,
    threshold: {
      value: 0.01,
      comparison: '>',
      unit: 'ratio',
      why: 'Alertmanager already retries within a group interval; a failed notification is one that exhausted its retries, so more than 1 % means pages are being lost.',
    },
    for: '5m',
    summary:
      '{{ $labels.instance }}: {{ $value | humanizePercentage }} of {{ $labels.integration }} notifications fail',
    description:
      'Alertmanager has failed to deliver {{ $value | humanizePercentage }} of its {{ $labels.integration }} notifications for [[for]]: pages may be lost.',
    runbook: {
      meaning: 'Alertmanager cannot deliver notifications to an integration after retrying.',
      impact: 'On-call is not paged for real incidents.',
      steps: [PAGERDUTY_DELIVERY_STEP, ...ALERTING_PIPELINE_STEPS],
      investigate: [
        {
          title: 'Failures by integration',
          query: `sum by (integration) (rate(${EXTERNAL.alertmanagerNotificationsFailedTotal}[5m]))`,
        },
      ],
    },
    dashboard: 'appOverview',
    test: gaugeTest(
      (ratio) => ({
        specs: [
          {
            series: selector(EXTERNAL.alertmanagerNotificationsTotal, {
              ...AM_TARGET,
              integration: 'pagerduty',
            }),
            kind: 'counter',
            step: 10,
          },
          {
            series: selector(EXTERNAL.alertmanagerNotificationsFailedTotal, {
              ...AM_TARGET,
              integration: 'pagerduty',
            }),
            kind: 'counter',
            step: 10 * ratio,
          },
        ],
        labels: { ...AM_TARGET, integration: 'pagerduty' },
      }),
      0,
    ),
  },
  {
    id: 'AlertmanagerConfigReloadFailed',
    name: 'AlertmanagerConfigReloadFailed',
    severity: 'warning',
    family: 'alerting',
    service: '{{ $labels.job }}',
    group: 'alerting',
    expr: `max by (job, instance) (${EXTERNAL.alertmanagerConfigLastReloadSuccessful})`,
    threshold: {
      value: 1,
      comparison: '<',
      unit: 'boolean',
      why: 'The last configuration reload failed: Alertmanager runs an older routing than the one deployed.',
    },
    for: '10m',
    summary: '{{ $labels.instance }}: Alertmanager configuration reload failed',
    description:
      'The last reload of the Alertmanager configuration failed 10 minutes ago or more; it keeps routing with the previous configuration.',
    runbook: {
      meaning: 'A new Alertmanager configuration was rejected.',
      impact: 'Routing changes (new receivers, keys) are not in effect.',
      steps: [
        'Run `amtool check-config <file>` on the deployed file and read the Alertmanager log for the error.',
        'Check that the routing key files and the CA file it names exist and are readable.',
      ],
      investigate: [{ title: 'Reload state', query: EXTERNAL.alertmanagerConfigLastReloadSuccessful }],
    },
    dashboard: 'appOverview',
    test: gaugeTest(
      (ok) => ({
        specs: [
          {
            series: selector(EXTERNAL.alertmanagerConfigLastReloadSuccessful, AM_TARGET),
            kind: 'gauge',
            step: ok,
          },
        ],
        labels: { ...AM_TARGET },
      }),
      1,
      () => 1,
      () => 0,
    ),
  },
  {
    id: 'PrometheusNotConnectedToAlertmanagers',
    name: 'PrometheusNotConnectedToAlertmanagers',
    severity: 'warning',
    family: 'alerting',
    service: '{{ $labels.job }}',
    group: 'alerting',
    expr: `max by (job, instance) (${EXTERNAL.prometheusNotificationsAlertmanagersDiscovered})`,
    threshold: {
      value: 1,
      comparison: '<',
      unit: 'count',
      why: "Without a discovered Alertmanager every alert stays inside Prometheus (the dead man's switch pages as well).",
    },
    for: '10m',
    summary: '{{ $labels.instance }}: Prometheus is connected to no Alertmanager',
    description: 'Prometheus has discovered no Alertmanager for [[for]]; alerts are not being sent.',
    runbook: {
      meaning:
        "Prometheus has no Alertmanager to send alerts to. This alert itself cannot be delivered (it needs the Alertmanager it reports missing): it is seen on Prometheus's alerts page, and the page that reaches on-call is the dead man's switch's, once the Watchdog stops arriving.",
      impact: 'No alert notifies anyone.',
      steps: [
        'Check the `alerting` section of prometheus.yml and that the Alertmanager is reachable from Prometheus.',
        ...ALERTING_PIPELINE_STEPS.slice(3),
      ],
      investigate: [
        { title: 'Discovered Alertmanagers', query: EXTERNAL.prometheusNotificationsAlertmanagersDiscovered },
      ],
    },
    dashboard: 'appOverview',
    test: gaugeTest(
      (n) => ({
        specs: [
          {
            series: selector(EXTERNAL.prometheusNotificationsAlertmanagersDiscovered, PROM_TARGET),
            kind: 'gauge',
            step: n,
          },
        ],
        labels: { ...PROM_TARGET },
      }),
      1,
      () => 1,
      () => 0,
    ),
  },
  {
    id: 'PrometheusRuleEvaluationFailures',
    name: 'PrometheusRuleEvaluationFailures',
    severity: 'warning',
    family: 'alerting',
    service: '{{ $labels.job }}',
    group: 'alerting',
    expr: `sum by (job, instance) (increase(${EXTERNAL.prometheusRuleEvaluationFailuresTotal}[5m]))`,
    threshold: {
      value: 0,
      comparison: '>',
      unit: 'count',
      why: 'A rule that fails to evaluate never fires: any failure for 15 minutes needs fixing.',
    },
    for: '15m',
    summary: '{{ $labels.instance }}: {{ printf "%.0f" $value }} rule evaluations failed in 5 minutes',
    description: 'Prometheus failed to evaluate rules for [[for]]; the alerts in those rules cannot fire.',
    runbook: {
      meaning:
        'Some recording or alerting rules fail at evaluation (e.g. many-to-many matching after a label change).',
      impact: 'Alerts built on those rules are silent.',
      steps: [
        'Open Prometheus `/rules` and read the last error of the failing rules.',
        'Run `promtool test rules` against the deployed rule files and fix the expression or the labels.',
      ],
      investigate: [
        {
          title: 'Failures by group',
          query: `sum by (rule_group) (increase(${EXTERNAL.prometheusRuleEvaluationFailuresTotal}[15m]))`,
        },
      ],
    },
    dashboard: 'appOverview',
    test: gaugeTest(
      (n) => ({
        specs: [
          {
            series: selector(EXTERNAL.prometheusRuleEvaluationFailuresTotal, {
              ...PROM_TARGET,
              rule_group: 'platform',
            }),
            kind: 'counter',
            step: n / 5,
          },
        ],
        labels: { ...PROM_TARGET },
      }),
      0,
      () => 0,
      () => 5,
    ),
  },
];

/** The catalogue, validated once at load: a bad entry fails fast everywhere. */
export const CATALOGUE: readonly AlertDefinition[] = validateCatalogue([
  ...platform,
  ...sloEntries(),
  ...availability,
  ...collector,
  ...alerting,
]);
