/** alerts/thresholds.ts: typed threshold data for the dashboards (no number is written twice). */
import { DASHBOARD_UIDS, UNITS } from './catalogue-schema';
import { tsHeader } from './generated-header';
import type { ResolvedAlert } from './resolve';
import {
  BURN_WINDOWS,
  LATENCY_SLO_SECONDS,
  requestRateRecord,
  SLO_PERIOD,
  SLO_PERIOD_DAYS,
  SLO_WINDOWS,
  SLOS,
  UPTIME,
} from './slo';

export function renderThresholds(alerts: readonly ResolvedAlert[]): string {
  const entries: Record<string, unknown> = {};
  for (const a of alerts) {
    if (!a.threshold) continue;
    entries[a.id] = {
      id: a.id,
      name: a.name,
      severity: a.severity,
      family: a.family,
      service: a.labels.service,
      expr: a.valueExpr,
      comparison: a.threshold.comparison,
      threshold: a.threshold.value,
      unit: a.threshold.unit,
      grafanaUnit: UNITS[a.threshold.unit],
      for: a.for,
      keepFiringFor: a.keepFiringFor ?? null,
      runbookUrl: a.runbookUrl,
      dashboardUid: a.dashboardUid,
      labels: Object.fromEntries(
        Object.entries(a.labels).filter(([k]) => !['severity', 'family', 'service'].includes(k)),
      ),
      why: a.threshold.why,
    };
  }
  const slo = {
    period: SLO_PERIOD,
    periodDays: SLO_PERIOD_DAYS,
    requestRateRecords: Object.fromEntries(SLO_WINDOWS.map((w) => [w, requestRateRecord(w)])),
    latencyThresholdSeconds: LATENCY_SLO_SECONDS,
    uptime: { ...UPTIME },
    burnWindows: BURN_WINDOWS.map((w) => ({ ...w })),
    objectives: Object.fromEntries(
      SLOS.map((s) => [
        s.key,
        {
          alertName: s.alertName,
          objective: s.objective,
          description: s.description,
          ratioRecords: Object.fromEntries(SLO_WINDOWS.map((w) => [w, s.ratioRecord(w)])),
        },
      ]),
    ),
  };
  const runbooks = Object.fromEntries([...new Map(alerts.map((a) => [a.name, a.runbookUrl])).entries()]);
  return `${tsHeader()}
/** One threshold alert rule: what dashboards draw as a threshold line or colour step. */
export interface AlertThreshold {
  readonly id: string;
  /** Alert name (several rules may share one, e.g. the SLO burn windows). */
  readonly name: string;
  readonly severity: 'critical' | 'warning' | 'info';
  /** Alerts of one family: a critical one inhibits the warnings of the same service. */
  readonly family: string;
  /** A job name, or \`{{ $labels.job }}\` when the expression keeps \`job\`. */
  readonly service: string;
  /** The PromQL value the threshold is compared with (plot it, draw the threshold on it). */
  readonly expr: string;
  readonly comparison: '>' | '>=' | '<' | '<=' | '==';
  readonly threshold: number;
  readonly unit: ${Object.keys(UNITS)
    .map((u) => `'${u}'`)
    .join(' | ')};
  /** Grafana unit id for the panel drawing \`expr\`. */
  readonly grafanaUnit: string;
  readonly for: string;
  /** keep_firing_for of the rule, null when it resolves as soon as the condition clears. */
  readonly keepFiringFor: string | null;
  readonly runbookUrl: string;
  readonly dashboardUid: string;
  /** Extra labels of the rule (e.g. the SLO windows). */
  readonly labels: Readonly<Record<string, string>>;
  /** Why this number. */
  readonly why: string;
}

export const ALERT_THRESHOLDS = ${JSON.stringify(entries, null, 2)} as const satisfies Record<string, AlertThreshold>;

export type AlertThresholdId = keyof typeof ALERT_THRESHOLDS;

/** Runbook URL of every alert name (also the non-threshold ones), for panel links. */
export const RUNBOOK_URLS = ${JSON.stringify(runbooks, null, 2)} as const satisfies Record<string, string>;

/** The dashboard UIDs the alerts link to; the dashboards use exactly these. */
export const DASHBOARD_UIDS = ${JSON.stringify(DASHBOARD_UIDS, null, 2)} as const;

/** SLO recording rules and burn-rate windows (Application Overview: error budget and burn rate). */
export const SLO = ${JSON.stringify(slo, null, 2)} as const;
`;
}
