/**
 * Applies an environment's overrides and the runbook-link pass (kubernetes-mixin's add-runbook-links
 * style) to the catalogue: the resolved rules are what every renderer writes.
 */
import {
  DASHBOARD_UIDS,
  humanDuration,
  UNITS,
  type AlertDefinition,
  type Severity,
  type Unit,
} from './catalogue-schema';
import { CATALOGUE } from './catalogue';
import { num } from './fixtures';
import { overrideFor, type Overrides } from './overrides';

/** No real hostnames: `.example` is reserved (RFC 2606); operators set theirs in the overrides file. */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://runbooks.telehealth.example/alerts/runbooks';
export const DEFAULT_DASHBOARD_BASE_URL = 'https://grafana.telehealth.example';

export interface ResolvedAlert {
  readonly id: string;
  readonly name: string;
  readonly severity: Severity;
  readonly family: string;
  readonly group: AlertDefinition['group'];
  /** The compared value expression (threshold alerts) or the full expression. */
  readonly valueExpr: string;
  /** The rule's `expr`. */
  readonly expr: string;
  readonly threshold?: { value: number; comparison: string; unit: Unit; why: string };
  readonly for: string;
  readonly keepFiringFor?: string;
  /** Static labels of the rule, `service` possibly a template. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly runbookUrl: string;
  readonly dashboardUid: string;
  readonly definition: AlertDefinition;
}

export function formatThreshold(value: number, unit: Unit): string {
  switch (unit) {
    case 'ratio':
      return `${num(value * 100)}%`;
    case 'seconds':
      return `${num(value)}s`;
    case 'perMinute':
      return `${num(value)}/min`;
    case 'perSecond':
      return `${num(value)}/s`;
    case 'bytesPerSecond':
      return `${num(value)} B/s`;
    case 'bytes':
      return `${num(value)} B`;
    case 'burnRate':
      return `${num(value)}x`;
    default:
      return num(value);
  }
}

/** The texts' placeholders: `[[threshold]]` and `[[for]]` take the environment's values. */
function fill(text: string, threshold: string | undefined, pendingFor: string): string {
  const filled = text.split('[[for]]').join(humanDuration(pendingFor));
  return threshold === undefined ? filled : filled.split('[[threshold]]').join(threshold);
}

export interface ResolveOptions {
  readonly overrides?: Overrides;
  readonly catalogue?: readonly AlertDefinition[];
}

export function resolveCatalogue(options: ResolveOptions = {}): ResolvedAlert[] {
  const catalogue = options.catalogue ?? CATALOGUE;
  const runbookBase = (options.overrides?.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL).replace(/\/$/, '');
  const dashboardBase = (options.overrides?.dashboardBaseUrl ?? DEFAULT_DASHBOARD_BASE_URL).replace(
    /\/$/,
    '',
  );
  return catalogue.map((entry) => {
    const o = overrideFor(entry, options.overrides);
    const threshold = entry.threshold
      ? { ...entry.threshold, value: o.threshold ?? entry.threshold.value }
      : undefined;
    const shown = threshold ? formatThreshold(threshold.value, threshold.unit) : undefined;
    let expr = entry.expr;
    if (threshold) {
      expr = entry.alertExpr
        ? entry.alertExpr(threshold.value)
        : `${entry.expr} ${threshold.comparison} ${num(threshold.value)}`;
    }
    const pendingFor = o.for ?? entry.for;
    const dashboardUid = DASHBOARD_UIDS[entry.dashboard];
    const runbookUrl = `${runbookBase}/${entry.name}.md`;
    return {
      id: entry.id,
      name: entry.name,
      severity: entry.severity,
      family: entry.family,
      group: entry.group,
      valueExpr: entry.expr,
      expr,
      threshold,
      for: pendingFor,
      keepFiringFor: o.keepFiringFor ?? entry.keepFiringFor,
      labels: {
        severity: entry.severity,
        family: entry.family,
        service: entry.service,
        ...entry.labels,
        ...o.labels,
      },
      annotations: {
        summary: fill(entry.summary, shown, pendingFor),
        description: fill(entry.description, shown, pendingFor),
        dashboard_url: `${dashboardBase}/d/${dashboardUid}`,
      },
      runbookUrl,
      dashboardUid,
      definition: {
        ...entry,
        runbook: { ...entry.runbook, meaning: fill(entry.runbook.meaning, shown, pendingFor) },
      },
    };
  });
}

/** The runbook-link pass: every alerting rule gets `runbook_url` (kubernetes-mixin add-runbook-links). */
export function addRunbookLinks<T extends { alert?: string; annotations?: Record<string, string> }>(
  rules: T[],
  urlFor: (alertName: string) => string,
): T[] {
  return rules.map((rule) =>
    rule.alert ? { ...rule, annotations: { ...rule.annotations, runbook_url: urlFor(rule.alert) } } : rule,
  );
}

export const GRAFANA_UNITS = UNITS;
