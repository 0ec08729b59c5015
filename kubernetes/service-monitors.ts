/**
 * ServiceMonitors for the service and the standalone collector. Their `job` label is rewritten to the
 * job names the alert expressions filter on (alerts/metric-names JOBS), whatever the Kubernetes
 * Service is called, and /metrics is read with the bearer token from a Secret (never inline).
 */
import { JOBS } from '../alerts/metric-names';
import { PART_OF, type KubernetesObject } from './manifest-yaml';

/** The Secret holding the /metrics bearer token (key `token`), created by the operator of the cluster. */
export const METRICS_TOKEN_SECRET = { name: 'telehealth-metrics-token', key: 'token' } as const;

export interface ScrapeSettings {
  /** Scrape interval: the alert windows assume this one (prometheus/prometheus.yml uses the same). */
  readonly interval: string;
  readonly scrapeTimeout: string;
  /** Guards against a cardinality explosion, as in prometheus/prometheus.yml. */
  readonly sampleLimit: number;
  readonly labelLimit: number;
  readonly labelValueLengthLimit: number;
}

interface Target {
  readonly name: string;
  readonly job: string;
  /** `app.kubernetes.io/name` of the Service to select. */
  readonly service: string;
}

const TARGETS: readonly Target[] = [
  { name: 'telehealth-api', job: JOBS.api, service: 'telehealth-app' },
  { name: 'telehealth-collector', job: JOBS.collector, service: 'telehealth-collector' },
];

export function serviceMonitors(scrape: ScrapeSettings): KubernetesObject[] {
  return TARGETS.map((t) => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: {
      name: t.name,
      labels: { ...PART_OF, 'app.kubernetes.io/name': t.name },
    },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': t.service } },
      endpoints: [
        {
          // The Service must name its metrics port `metrics` (9464 for the API, 9465 for the collector).
          port: 'metrics',
          path: '/metrics',
          scheme: 'http',
          interval: scrape.interval,
          scrapeTimeout: scrape.scrapeTimeout,
          authorization: {
            type: 'Bearer',
            credentials: { name: METRICS_TOKEN_SECRET.name, key: METRICS_TOKEN_SECRET.key },
          },
          relabelings: [{ action: 'replace', targetLabel: 'job', replacement: t.job }],
        },
      ],
      sampleLimit: scrape.sampleLimit,
      labelLimit: scrape.labelLimit,
      labelValueLengthLimit: scrape.labelValueLengthLimit,
    },
  }));
}
