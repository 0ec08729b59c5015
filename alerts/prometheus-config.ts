/**
 * prometheus.yml: scrapes the service, the collector, node_exporter, Alertmanager, Prometheus and the
 * dead man's switch, with bearer auth for our /metrics and limits that stop a cardinality explosion
 * from taking Prometheus down; loads the generated rules and sends to Alertmanager.
 */
import { stringify } from 'yaml';
import { yamlHeader } from './generated-header';
import { JOBS, type JobKey } from './metric-names';

export const PROMETHEUS_SECRET_DIR = '/etc/prometheus/secrets';

/** Compose service names and default ports (the brief's port table). */
export const DEFAULT_TARGETS: Record<JobKey, string[]> = {
  api: ['app:9464'],
  collector: ['collector:9465'],
  node: ['node-exporter:9100'],
  alertmanager: ['alertmanager:9093'],
  prometheus: ['localhost:9090'],
  deadman: ['deadman:9466'],
};

/** Jobs whose /metrics require the bearer token. */
const AUTHENTICATED: readonly JobKey[] = ['api', 'collector', 'deadman'];

export interface PrometheusConfigOptions {
  readonly scrapeInterval?: string;
  readonly evaluationInterval?: string;
  readonly scrapeTimeout?: string;
  /** Targets per job; a job with no target is left out. */
  readonly targets?: Partial<Record<JobKey, readonly string[]>>;
  readonly metricsCredentialsFile?: string;
  readonly ruleFiles?: readonly string[];
  readonly alertmanagers?: readonly string[];
  readonly externalLabels?: Readonly<Record<string, string>>;
}

export function buildPrometheusConfig(o: PrometheusConfigOptions = {}): Record<string, unknown> {
  const targets = { ...DEFAULT_TARGETS, ...o.targets };
  const credentials = o.metricsCredentialsFile ?? `${PROMETHEUS_SECRET_DIR}/metrics.token`;
  const interval = o.scrapeInterval ?? '15s';
  return {
    global: {
      scrape_interval: interval,
      evaluation_interval: o.evaluationInterval ?? interval,
      scrape_timeout: o.scrapeTimeout ?? '10s',
      external_labels: { ...(o.externalLabels ?? { monitor: 'telehealth' }) },
    },
    rule_files: [...(o.ruleFiles ?? ['rules/*.yml'])],
    alerting: {
      alertmanagers: [
        { static_configs: [{ targets: [...(o.alertmanagers ?? DEFAULT_TARGETS.alertmanager)] }] },
      ],
    },
    scrape_configs: (Object.keys(JOBS) as JobKey[])
      .filter((key) => (targets[key] ?? []).length > 0)
      .map((key) => ({
        job_name: JOBS[key],
        ...(AUTHENTICATED.includes(key)
          ? { authorization: { type: 'Bearer', credentials_file: credentials } }
          : {}),
        // Our exporters cap their own series; these limits are the backstop when a cap is wrong.
        sample_limit: key === 'node' ? 10000 : 20000,
        label_limit: 30,
        label_name_length_limit: 128,
        label_value_length_limit: 512,
        body_size_limit: '16MB',
        static_configs: [{ targets: [...(targets[key] ?? [])] }],
      })),
  };
}

export function renderPrometheusConfig(o: PrometheusConfigOptions = {}): string {
  return yamlHeader() + stringify(buildPrometheusConfig(o), { lineWidth: 0 });
}
