/**
 * The generated Kubernetes manifests: valid against the Prometheus Operator CRD schemas and core v1
 * (validated in a child Node process, see validate-objects.mjs), and faithful to their sources: the
 * PrometheusRule carries exactly the rules of prometheus/rules/, the ConfigMaps exactly the dashboards.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { generatedFiles as alertFiles } from '../../alerts';
import { generatedFiles as dashboardFiles } from '../../dashboards';
import { JOBS } from '../../alerts/metric-names';
import { generatedFiles, GENERATED_HEADER, METRICS_TOKEN_SECRET } from '../../kubernetes';

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
};

interface Validation {
  kind: string;
  name: string;
  ok: boolean;
  errors: string[];
}

function validate(objects: unknown[]): Validation[] {
  const out = execFileSync(process.execPath, [join(__dirname, 'validate-objects.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    // The child must not inherit jest's vm-modules flag; it is a plain ES module run.
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return JSON.parse(out) as Validation[];
}

const files = generatedFiles();
// alerts' generatedFiles() formats every file with prettier (seconds): call it once.
const alertOutput = alertFiles();
const byPath = new Map(files.map((f) => [f.path, f.content]));

function objectsOf(path: string): K8sObject[] {
  const content = byPath.get(path);
  if (content === undefined) throw new Error(`${path} is not generated`);
  return parseAllDocuments(content).map((d) => d.toJS() as K8sObject);
}

describe('kubernetes/ generated manifests', () => {
  it('writes the three files, each with the do-not-edit header', () => {
    expect([...byPath.keys()].sort()).toEqual([
      'kubernetes/grafana-dashboards-configmap.yaml',
      'kubernetes/prometheus-rule.yaml',
      'kubernetes/service-monitors.yaml',
    ]);
    for (const f of files) expect(f.content.startsWith(GENERATED_HEADER)).toBe(true);
    // Deterministic: the drift check compares byte for byte.
    expect(generatedFiles()).toEqual(files);
  });

  it('validates every object against the Prometheus Operator CRD and core v1 schemas', () => {
    const all = files.flatMap((f) => objectsOf(f.path));
    expect(all.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining(['ConfigMap', 'PrometheusRule', 'ServiceMonitor', 'ServiceMonitor']),
    );
    const results = validate(all);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results).toHaveLength(all.length);
  });

  it('has a validator that rejects what the CRDs forbid (the check can fail)', () => {
    const [rule] = objectsOf('kubernetes/prometheus-rule.yaml');
    const [monitor] = objectsOf('kubernetes/service-monitors.yaml');
    const [configMap] = objectsOf('kubernetes/grafana-dashboards-configmap.yaml');
    const badRule = structuredClone(rule) as K8sObject;
    ((badRule.spec?.groups as Array<{ rules: Array<Record<string, unknown>> }>)[0]?.rules[0] ?? {}).for =
      'five minutes';
    const badMonitor = structuredClone(monitor) as K8sObject;
    (badMonitor.spec as Record<string, unknown>).endpoints = 'metrics';
    const badMap = structuredClone(configMap) as K8sObject;
    (badMap as Record<string, unknown>).data = { 'x.json': { not: 'a string' } };
    const results = validate([badRule, badMonitor, badMap]);
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    expect(results[0]?.errors.join(' ')).toMatch(/for/);
  });

  it('PrometheusRule carries exactly the rule groups of prometheus/rules/ (same expressions, for, labels)', () => {
    const [rule, ...rest] = objectsOf('kubernetes/prometheus-rule.yaml');
    expect(rest).toEqual([]);
    const expected = alertOutput
      .filter((f) => /^prometheus\/rules\/[^/]+\.ya?ml$/.test(f.path))
      .flatMap((f) => ((parse(f.content) as { groups?: unknown[] } | null)?.groups ?? []) as unknown[]);
    expect(expected.length).toBeGreaterThan(0);
    expect(rule?.spec?.groups).toEqual(expected);
    const alerts = (expected as Array<{ rules: Array<{ alert?: string }> }>)
      .flatMap((g) => g.rules)
      .filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(6);
  });

  it('ServiceMonitors scrape the service and the collector under the alert job names, bearer token from a Secret', () => {
    const monitors = objectsOf('kubernetes/service-monitors.yaml');
    const endpoints = monitors.map(
      (m) => (m.spec?.endpoints as Array<Record<string, unknown>>)[0] as Record<string, unknown>,
    );
    expect(
      endpoints.map((e) => (e.relabelings as Array<{ replacement: string }>)[0]?.replacement).sort(),
    ).toEqual([JOBS.api, JOBS.collector].sort());
    for (const e of endpoints) {
      expect(e.authorization).toEqual({
        type: 'Bearer',
        credentials: { name: METRICS_TOKEN_SECRET.name, key: METRICS_TOKEN_SECRET.key },
      });
      expect(JSON.stringify(e)).not.toMatch(/bearerToken"|credentials_file|"token":/);
    }
    // Scraped like the committed prometheus/prometheus.yml scrapes the same jobs.
    const prom = parse(alertOutput.find((f) => f.path === 'prometheus/prometheus.yml')?.content ?? '') as {
      global: { scrape_interval: string };
      scrape_configs: Array<{
        job_name: string;
        sample_limit: number;
        label_limit: number;
        scrape_interval?: string;
      }>;
    };
    for (const [i, m] of monitors.entries()) {
      const job = prom.scrape_configs.find((c) => c.job_name === [JOBS.api, JOBS.collector][i]);
      expect(endpoints[i]?.interval).toBe(job?.scrape_interval ?? prom.global.scrape_interval);
      expect(m.spec?.sampleLimit).toBe(job?.sample_limit);
      expect(m.spec?.labelLimit).toBe(job?.label_limit);
    }
  });

  it('the dashboards ConfigMaps hold every generated dashboard, labelled for the Grafana sidecar', () => {
    const maps = objectsOf('kubernetes/grafana-dashboards-configmap.yaml');
    const dashboards = dashboardFiles().filter((f) => /^grafana\/dashboards\/[^/]+\.json$/.test(f.path));
    expect(maps).toHaveLength(dashboards.length);
    const carried = new Map(maps.flatMap((m) => Object.entries(m.data ?? {})));
    for (const d of dashboards) {
      expect(carried.get(d.path.replace('grafana/dashboards/', ''))).toBe(d.content);
    }
    for (const m of maps) {
      expect(m.metadata.labels?.grafana_dashboard).toBe('1');
      expect(m.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });
});
