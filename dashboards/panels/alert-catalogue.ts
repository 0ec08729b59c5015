/**
 * The one place that reads the alert catalogue's generated data (alerts/thresholds): every threshold
 * line, colour step, threshold unit, runbook link and SLO objective on a dashboard comes through here,
 * so a threshold changed in the catalogue moves the dashboards with it.
 */
import {
  ALERT_THRESHOLDS,
  DASHBOARD_UIDS,
  RUNBOOK_URLS,
  SLO,
  type AlertThreshold,
  type AlertThresholdId,
} from '../../alerts/thresholds';

export type AlertName = AlertThresholdId;
export type Severity = AlertThreshold['severity'];

export interface AlertRef {
  /** The rule id (several rules may share an alert name, e.g. the SLO burn windows). */
  readonly id: string;
  readonly name: string;
  readonly threshold: number;
  /** The catalogue's unit of the threshold. */
  readonly unit: string;
  /** The Grafana unit a panel drawing this threshold shows its values in. */
  readonly grafanaUnit: string;
  readonly severity: Severity;
  /** Which side of the threshold fires: a `<` alert colours the values below it. */
  readonly comparison: AlertThreshold['comparison'];
  readonly runbookUrl: string;
  /** One line for the runbook link's tooltip. */
  readonly summary: string;
}

function toRef(a: AlertThreshold): AlertRef {
  return {
    id: a.id,
    name: a.name,
    threshold: a.threshold,
    unit: a.unit,
    grafanaUnit: a.grafanaUnit,
    severity: a.severity,
    comparison: a.comparison,
    runbookUrl: a.runbookUrl,
    summary: `${a.name} (${a.severity}) fires when ${a.comparison} ${a.threshold} for ${a.for}`,
  };
}

export function alert(id: AlertName): AlertRef {
  return toRef(ALERT_THRESHOLDS[id]);
}

/** Every threshold rule of the catalogue. */
export function allAlerts(): AlertRef[] {
  return Object.values(ALERT_THRESHOLDS).map((a) => toRef(a as AlertThreshold));
}

export type RunbookName = keyof typeof RUNBOOK_URLS;

/** Runbook of any alert name, including those without a threshold (Watchdog, TargetDown...). */
export function runbookUrl(name: RunbookName): string {
  return RUNBOOK_URLS[name];
}

export function allRunbooks(): Array<{ name: string; url: string }> {
  return Object.entries(RUNBOOK_URLS).map(([name, url]) => ({ name, url }));
}

/** The dashboard uids the catalogue's alerts link to: the dashboards take exactly these. */
export { DASHBOARD_UIDS };

export type SloKey = keyof typeof SLO.objectives;

/** One burn-rate window of an SLO with the rule that alerts on it. */
export interface BurnWindow {
  readonly long: string;
  readonly short: string;
  /** Recording rule of the bad-request ratio over the long window (job label only). */
  readonly ratioRecord: string;
  readonly alert: AlertRef;
}

/** The burn windows of an SLO, each with its alert (matched by name and window, not by a retyped id). */
export function burnWindows(slo: SloKey): BurnWindow[] {
  const o = SLO.objectives[slo];
  return SLO.burnWindows.map((w) => {
    const rule = Object.values(ALERT_THRESHOLDS).find(
      (a) => a.name === o.alertName && (a.labels as Record<string, string>).long_window === w.long,
    );
    if (!rule) throw new Error(`alerts/thresholds has no ${o.alertName} rule for the ${w.long} window`);
    return {
      long: w.long,
      short: w.short,
      ratioRecord: o.ratioRecords[w.long],
      alert: toRef(rule as AlertThreshold),
    };
  });
}

/** The SLOs the error-budget panels compute against (the period the burn factors assume). */
export const SLOS = {
  availabilityObjective: SLO.objectives.availability.objective,
  latencyObjective: SLO.objectives.latency.objective,
  latencyThresholdSeconds: SLO.latencyThresholdSeconds,
  period: SLO.period,
  uptimeObjective: SLO.uptime.objective,
  uptimeRecord: SLO.uptime.record,
} as const;
