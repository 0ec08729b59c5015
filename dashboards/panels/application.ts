/**
 * Application Overview panels: the service's RED metrics by route, its two SLOs (availability and p95
 * latency) as error budget and burn rate, the worst routes, the alerts firing now, and the telemetry's
 * own health (label overflow, head-sampling decisions).
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { collectorMetricNames } from '../../collector/metric-names';
import { exporterMetricNames } from '../../exporter/metric-names';
import { THIRD_PARTY_METRICS as X } from '../../alerts/metric-names';
import { alert, burnWindows, runbookUrl, SLOS } from './alert-catalogue';
import { HTTP_LABELS } from './labels';
import { COLORS, MATCH, RANGE, RATE, statPanel, tablePanel, timeseriesPanel, VAR } from './shared';

const m = exporterMetricNames();
const c = collectorMetricNames();
const { route, status } = HTTP_LABELS;
/** A 5xx is the service's failure; a 4xx is the client's and does not spend the error budget. */
const ERROR = `${status}=~"5.."`;
/** The quantile the latency alert and the slowest-routes table rank by. */
const P95 = 0.95;
const QUANTILES = [0.5, P95, 0.99] as const;

/** Share of requests an SLO allows to be bad, rounded as the alert rules round it (no 0.0010000000000000009). */
const budgetShare = (objective: number) => Number((1 - objective).toPrecision(12));

const requests = (match: string, window: string, extra = '') =>
  `rate(${m.httpRequestsTotal}{${match}${extra ? `, ${extra}` : ''}}[${window}])`;

function errorRatio(by: string, match: string, window: string): string {
  const sumBy = by ? `sum by (${by})` : 'sum';
  const all = `${sumBy} (${requests(match, window)})`;
  // `or 0 * all`: a route that never failed has no 5xx series; it reads 0, not "no data".
  return `(${sumBy} (${requests(match, window, ERROR)}) or 0 * ${all}) / ${all}`;
}

function latencyQuantile(q: number, by: string, match: string, window: string): string {
  return `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${m.httpRequestDurationSeconds}_bucket{${match}}[${window}])))`;
}

/** Share of requests that failed the availability SLI over `window`. */
function availabilityBadRatio(window: string): string {
  return errorRatio('', MATCH.service, window);
}

/** Share of requests slower than the latency SLO threshold over `window` (the threshold is a bucket edge). */
function latencyBadRatio(window: string): string {
  const bucket = `${m.httpRequestDurationSeconds}_bucket{${MATCH.service}, le="${SLOS.latencyThresholdSeconds}"}`;
  const count = `${m.httpRequestDurationSeconds}_count{${MATCH.service}}`;
  return `1 - sum (rate(${bucket}[${window}])) / sum (rate(${count}[${window}]))`;
}

export function requestRate() {
  return timeseriesPanel({
    title: 'Request rate by route',
    description: 'Requests per second, by route template.',
    unit: 'reqps',
    series: [{ expr: `sum by (${route}) (${requests(MATCH.route, RATE)})`, legend: `{{${route}}}` }],
    stacked: true,
  });
}

export function errorRatioPanel() {
  const high = alert('HighErrorRate');
  return timeseriesPanel({
    title: 'Error ratio (5xx)',
    description: `Share of requests answered 5xx, overall and by route. Dashed line: ${high.name} (${high.severity}).`,
    unit: high.grafanaUnit,
    series: [
      { expr: errorRatio('', MATCH.route, RATE), legend: 'all routes' },
      { expr: errorRatio(route, MATCH.route, RATE), legend: `{{${route}}}` },
    ],
    alerts: [high],
    min: 0,
  });
}

export function latencyByRoute() {
  const slow = alert('HighLatencyP95');
  return timeseriesPanel({
    title: 'Latency p50 / p95 / p99 by route',
    description: `Request duration quantiles from the histogram, by route. Dashed line: ${slow.name} on p95.`,
    unit: slow.grafanaUnit,
    series: QUANTILES.map((q) => ({
      expr: latencyQuantile(q, route, MATCH.route, RATE),
      legend: `p${Math.round(q * 100)} {{${route}}}`,
    })),
    alerts: [slow],
    width: 24,
    height: 9,
  });
}

export function availabilityBudget() {
  const budget = budgetShare(SLOS.availabilityObjective);
  return statPanel({
    title: `Availability error budget left (${SLOS.period})`,
    description: `Share of the ${SLOS.period} error budget of the ${SLOS.availabilityObjective} availability SLO not yet spent by 5xx answers (below zero: the SLO is missed).`,
    unit: 'percentunit',
    series: [{ expr: `1 - (${availabilityBadRatio(SLOS.period)}) / ${budget}`, legend: 'budget left' }],
    related: burnWindows('availability').map((w) => w.alert),
  });
}

export function latencyBudget() {
  const budget = budgetShare(SLOS.latencyObjective);
  return statPanel({
    title: `Latency error budget left (${SLOS.period})`,
    description: `Share of the ${SLOS.period} budget of the latency SLO (${SLOS.latencyObjective} of requests under ${SLOS.latencyThresholdSeconds} s) not yet spent.`,
    unit: 'percentunit',
    series: [{ expr: `1 - (${latencyBadRatio(SLOS.period)}) / ${budget}`, legend: 'budget left' }],
    related: burnWindows('latency').map((w) => w.alert),
  });
}

/**
 * Burn rate of both SLOs over the long window of each alerting window pair, from the same recording
 * rules the burn-rate alerts evaluate: the panel shows exactly what pages.
 */
export function burnRate() {
  const slos = [
    { key: 'availability' as const, objective: SLOS.availabilityObjective },
    { key: 'latency' as const, objective: SLOS.latencyObjective },
  ];
  const windows = slos.flatMap((slo) => burnWindows(slo.key).map((w) => ({ ...w, slo })));
  return timeseriesPanel({
    title: 'SLO burn rate',
    description:
      'How many times faster than sustainable each SLO spends its error budget (1 = exactly the budget over the SLO period), over the long window of each burn-rate alert. Dashed lines: the alert thresholds (page at the two highest, ticket below).',
    unit: windows[0]!.alert.grafanaUnit,
    series: windows.map((w) => ({
      expr: `${w.ratioRecord}{job=~"$${VAR.job}"} / ${budgetShare(w.slo.objective)}`,
      legend: `${w.slo.key} ${w.long} {{job}}`,
    })),
    alerts: windows.map((w) => w.alert),
    min: 0,
    width: 24,
  });
}

export function slowestRoutes() {
  const slow = alert('HighLatencyP95');
  return tablePanel({
    title: 'Slowest routes (p95 over the range)',
    description: 'The ten routes with the highest p95 latency over the selected time range.',
    unit: slow.grafanaUnit,
    series: [{ expr: `topk(10, ${latencyQuantile(P95, route, MATCH.route, RANGE)})` }],
    alerts: [slow],
    sortBy: 'Value',
    width: 12,
  });
}

export function mostFailingRoutes() {
  const high = alert('HighErrorRate');
  return tablePanel({
    title: 'Most failing routes (5xx ratio over the range)',
    description: 'The ten routes with the highest share of 5xx answers over the selected time range.',
    unit: high.grafanaUnit,
    series: [{ expr: `topk(10, ${errorRatio(route, MATCH.route, RANGE)})` }],
    alerts: [high],
    sortBy: 'Value',
    width: 12,
  });
}

/**
 * Whether the API's targets answer their scrapes, and the uptime that gives over the SLO period:
 * the platform's 99.9 % uptime target, measured where the down alerts measure it.
 */
export function apiTargetsUp() {
  return timeseriesPanel({
    title: 'API targets up',
    description:
      'Scrape targets of the API answering (up = 1), and how many there are. None up: TelehealthApiDown; none discovered: TelehealthApiAbsent (both critical).',
    unit: 'short',
    series: [
      { expr: `sum by (job) (${X.up}{${MATCH.service}})`, legend: 'up {{job}}' },
      { expr: `count by (job) (${X.up}{${MATCH.service}})`, legend: 'targets {{job}}' },
    ],
    runbooks: ['TelehealthApiDown', 'TelehealthApiAbsent'],
    min: 0,
    width: 8,
  });
}

/**
 * Uptime over the SLO period from the recording rule that counts a minute as up when any target
 * answered: per job, so the instance filter does not apply. Red below the platform's target.
 */
export function apiUptime() {
  return statPanel({
    title: `API uptime (${SLOS.period})`,
    description: `Share of the last ${SLOS.period} in which at least one target of the API answered its scrape (${SLOS.uptimeRecord}; a job with no target counts as down). The platform's target: ${SLOS.uptimeObjective * 100} %. The availability SLO counts failed requests; this counts time down.`,
    unit: 'percentunit',
    series: [
      {
        expr: `avg_over_time(${SLOS.uptimeRecord}{job=~"$${VAR.job}"}[${SLOS.period}])`,
        legend: '{{job}}',
      },
    ],
    runbooks: ['TelehealthApiDown', 'TelehealthApiAbsent'],
    width: 4,
  })
    .decimals(3)
    .thresholds(
      new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
        { value: null, color: COLORS.critical },
        { value: SLOS.uptimeObjective, color: COLORS.ok },
      ]),
    );
}

export function firingAlerts() {
  // One data link per row to that alert's runbook: the catalogue's runbook URLs share one pattern.
  const runbookTemplate = runbookUrl('Watchdog').replace('Watchdog', '${__data.fields.alertname}');
  return tablePanel({
    title: 'Firing alerts',
    description:
      'Alerts firing now, by name and severity (Prometheus ALERTS series); click a row for its runbook. Watchdog always fires: it proves the alerting pipeline is alive.',
    unit: 'short',
    series: [{ expr: 'sum by (alertname, severity) (ALERTS{alertstate="firing"})' }],
    width: 24,
    height: 7,
  }).dataLinks([new dashboard.DashboardLinkBuilder('Runbook').url(runbookTemplate).targetBlank(true)]);
}

export function labelOverflow() {
  const overflow = alert('MetricLabelOverflow');
  // Every labelled metric starts with an overflow count of 0, so the table lists what is guarded and
  // sorts an overflowing metric to the top. The catalogue's step at 0 would colour the healthy 0:
  // the alert is linked, not drawn.
  return tablePanel({
    title: 'Metric label values folded into "other" (range)',
    description: `Label values each metric replaced by "other" over the selected range, because they were outside a closed set or past a series cap. Above 0: ${overflow.name} (a dashboard lost detail; the label or its cap needs a look).`,
    unit: 'short',
    series: [
      {
        expr: `sort_desc(sum by (job, metric) (increase(${m.labelOverflowTotal}{${MATCH.service}}[${RANGE}])))`,
      },
    ],
    related: [overflow],
    sortBy: 'Value',
    width: 12,
  });
}

export function traceSampling() {
  return timeseriesPanel({
    title: 'Head-sampling decisions',
    description:
      'Incoming requests per second by tracing decision (probes and scrapes excluded): sampled, not_sampled, and rate_limited (chosen by the ratio, refused by TRACE_SAMPLING_MAX_PER_SECOND). rate_limited above 0 means the cap binds: fewer traces than the ratio gives. No series: the service runs without the tracing preload.',
    unit: 'reqps',
    series: [
      {
        expr: `sum by (job, decision) (rate(${c.traceSamplingDecisionsTotal}{${MATCH.service}}[${RATE}]))`,
        legend: '{{decision}} {{job}}',
      },
    ],
    stacked: true,
    min: 0,
  });
}
