/**
 * Public entry of alerts/: the catalogue, the generators (`generatedFiles()` for scripts/generate.ts),
 * config renderers for test variants, the PagerDuty client, the collector's Pager adapter and the
 * dead man's switch.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { renderAlertmanagerConfig } from './alertmanager-config';
import { CATALOGUE } from './catalogue';
import { formatWithPrettier, REPO_ROOT } from './format';
import { loadOverridesFile, type Overrides } from './overrides';
import { renderPrometheusConfig } from './prometheus-config';
import { buildRuleGroups, renderRuleFile } from './render-rules';
import { renderRunbooks } from './render-runbooks';
import { renderTestFiles } from './render-tests';
import { renderThresholds } from './render-thresholds';
import { resolveCatalogue } from './resolve';

export { CATALOGUE } from './catalogue';
export type { AlertDefinition, Severity } from './catalogue-schema';
export { DASHBOARD_UIDS, SEVERITIES, validateCatalogue } from './catalogue-schema';
export { loadOverridesFile, validateOverrides, type Overrides } from './overrides';
export { resolveCatalogue, type ResolvedAlert } from './resolve';
export {
  buildAlertmanagerConfig,
  renderAlertmanagerConfig,
  RECEIVER_BY_SEVERITY,
  RECEIVERS,
  type AlertmanagerConfigOptions,
} from './alertmanager-config';
export {
  buildPrometheusConfig,
  renderPrometheusConfig,
  type PrometheusConfigOptions,
} from './prometheus-config';
export { buildRuleGroups, renderRuleFile } from './render-rules';
export { BURN_WINDOWS, SLOS } from './slo';

export const OVERRIDES_DIR = join(REPO_ROOT, 'alerts', 'overrides');

export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
}

/** Rule files (and, with `testsDir`, generated tests) for one environment, paths relative to `dir`. */
export function renderRules(
  options: { overrides?: Overrides } = {},
): Array<{ fileName: string; content: string }> {
  const alerts = resolveCatalogue({ overrides: options.overrides });
  return buildRuleGroups(alerts).map((f) => ({ fileName: f.fileName, content: renderRuleFile(f) }));
}

function environmentFiles(
  base: string,
  overrides: Overrides | undefined,
  withConfigs: boolean,
): GeneratedFile[] {
  const alerts = resolveCatalogue({ overrides });
  const groups = buildRuleGroups(alerts);
  const files: GeneratedFile[] = groups.map((g) => ({
    path: `${base}/rules/${g.fileName}`,
    content: renderRuleFile(g),
  }));
  for (const t of renderTestFiles(alerts, groups, base === 'prometheus' ? '../../rules' : '../rules')) {
    files.push({
      path: base === 'prometheus' ? `${base}/tests/generated/${t.fileName}` : `${base}/tests/${t.fileName}`,
      content: t.content,
    });
  }
  if (withConfigs) {
    files.push({ path: `${base}/prometheus.yml`, content: renderPrometheusConfig() });
    files.push({ path: `${base}/alertmanager.yml`, content: renderAlertmanagerConfig(alerts) });
  }
  return files;
}

/** Environments with an overrides file under alerts/overrides/. */
export function environments(): Array<{ name: string; overrides: Overrides }> {
  let names: string[] = [];
  try {
    names = readdirSync(OVERRIDES_DIR).filter((f) => /\.ya?ml$/.test(f));
  } catch {
    return [];
  }
  return names.sort().map((file) => {
    const overrides = loadOverridesFile(join(OVERRIDES_DIR, file), CATALOGUE);
    return { name: overrides.environment, overrides };
  });
}

/**
 * Overrides named by an environment (`staging` -> alerts/overrides/staging.yml) or a file path; from
 * the process environment when not given: TELEHEALTH_ALERT_OVERRIDES (a path) or TELEHEALTH_ALERT_ENV.
 * Undefined means production (no overrides).
 */
export function loadEnvironmentOverrides(
  nameOrPath: string | undefined = process.env.TELEHEALTH_ALERT_OVERRIDES ?? process.env.TELEHEALTH_ALERT_ENV,
): Overrides | undefined {
  if (!nameOrPath || nameOrPath === 'production') return undefined;
  const path = /[/\\]|\.ya?ml$/.test(nameOrPath) ? nameOrPath : join(OVERRIDES_DIR, `${nameOrPath}.yml`);
  return loadOverridesFile(path, CATALOGUE);
}

/** Every file alerts/ generates, paths relative to the repository root, formatted as prettier would. */
export function generatedFiles(): GeneratedFile[] {
  const alerts = resolveCatalogue();
  const files: GeneratedFile[] = [
    ...environmentFiles('prometheus', undefined, true),
    { path: 'alerts/thresholds.ts', content: renderThresholds(alerts) },
    ...renderRunbooks(alerts).map((r) => ({ path: `alerts/runbooks/${r.name}.md`, content: r.content })),
  ];
  for (const env of environments()) {
    files.push(...environmentFiles(`prometheus/environments/${env.name}`, env.overrides, true));
  }
  return formatWithPrettier(files);
}

export {
  createPagerDutyClient,
  DEFAULT_PAGERDUTY_SERVER,
  type PagerDutyClient,
  type PagerDutyClientOptions,
  type SendResult,
} from './pagerduty-client';
export {
  eventSchema,
  fitDedupKey,
  truncateSummary,
  validateEvent,
  MAX_DEDUP_KEY,
  MAX_EVENT_BYTES,
  MAX_SUMMARY,
  ROUTING_KEY_LENGTH,
  type PagerDutyEvent,
} from './pagerduty-event';
export {
  createDirectPager,
  createPager,
  type DirectPagerSettings,
  type Pager,
  type PagerOptions,
} from './pager';
export { createDeadmanSwitch, DEADMAN_DEDUP_KEY, type DeadmanOptions, type DeadmanSwitch } from './deadman';
export { readRoutingKeyFile } from './routing-key';
export { alertsMetricNames, ALERTS_METRICS, JOBS } from './metric-names';
