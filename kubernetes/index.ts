/**
 * Prometheus Operator resources and a Grafana dashboards ConfigMap, generated from the same sources as
 * the compose/bare-metal configuration: the alert catalogue's rule files and the dashboards' JSON.
 * scripts/generate.ts writes these files and `npm run check:generated` compares them.
 */
import { renderPrometheusConfig, renderRules } from '../alerts';
import { generatedFiles as dashboardFiles } from '../dashboards';
import { dashboardConfigMaps } from './grafana-dashboards';
import { manifestFile } from './manifest-yaml';
import { prometheusRule } from './prometheus-rule';
import { scrapeSettingsFrom } from './scrape-settings';
import { serviceMonitors } from './service-monitors';

export { GENERATED_HEADER } from './manifest-yaml';
export { METRICS_TOKEN_SECRET } from './service-monitors';

/** The Grafana folder the dashboards land in (the same as the compose file provider's). */
export const DASHBOARD_FOLDER = 'Telehealth';

export function generatedFiles(): Array<{ path: string; content: string }> {
  // The same renderers that write prometheus/rules/*.yml and prometheus/prometheus.yml.
  const ruleFiles = renderRules().map((f) => ({
    path: `prometheus/rules/${f.fileName}`,
    content: f.content,
  }));
  return [
    { path: 'kubernetes/prometheus-rule.yaml', content: manifestFile([prometheusRule(ruleFiles)]) },
    {
      path: 'kubernetes/service-monitors.yaml',
      content: manifestFile(serviceMonitors(scrapeSettingsFrom(renderPrometheusConfig()))),
    },
    {
      path: 'kubernetes/grafana-dashboards-configmap.yaml',
      content: manifestFile(dashboardConfigMaps(dashboardFiles(), DASHBOARD_FOLDER)),
    },
  ];
}
