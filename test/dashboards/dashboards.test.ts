/**
 * Static checks of the generated dashboards and provisioning, fast, over the JSON Grafana would read:
 * fixed uids, defined variables, units and titles, datasource references, thresholds equal to the
 * alert catalogue's, runbook and cross-dashboard links, and the committed files matching their source.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { resolveCatalogue } from '../../alerts';
import { EVENT_TYPE_NAMES } from '../../collector/metric-names';
import { DEFAULT_NAMESPACE } from '../../exporter/metric-names';
import { DASHBOARD_UIDS, DATASOURCES, GENERATED_MARKER, generatedFiles } from '../../dashboards';
import {
  ALERT_THRESHOLDS,
  DASHBOARD_UIDS as ALERT_DASHBOARD_UIDS,
  RUNBOOK_URLS,
  SLO,
  type AlertThreshold,
} from '../../alerts/thresholds';
import {
  type DashboardJson,
  type PanelJson,
  panelsOf,
  rowsOf,
  stringsIn,
  variablesIn,
} from './dashboard-model';

const root = join(__dirname, '..', '..');
const files = generatedFiles();
const dashboards: DashboardJson[] = files
  .filter((f) => f.path.startsWith('grafana/dashboards/'))
  .map((f) => JSON.parse(f.content) as DashboardJson);
const byUid = new Map(dashboards.map((d) => [d.uid, d]));
const PROMETHEUS_VARIABLE = 'datasource';
const LOGS_VARIABLE = 'logs_datasource';

describe('generated files', () => {
  it('are the four dashboards and the two provisioning files, under grafana/', () => {
    expect(files.map((f) => f.path).sort()).toEqual(
      [
        ...Object.values(DASHBOARD_UIDS).map((uid) => `grafana/dashboards/${uid}.json`),
        'grafana/provisioning/dashboards/telehealth.yml',
        'grafana/provisioning/datasources/telehealth.yml',
      ].sort(),
    );
  });

  it('carry the do-not-edit marker (a top-level field in JSON, a comment in YAML)', () => {
    for (const f of files) {
      if (f.path.endsWith('.json')) {
        const json = JSON.parse(f.content) as Record<string, unknown>;
        expect(Object.keys(json)[0]).toBe('__generated');
        expect(json.__generated).toBe(GENERATED_MARKER);
        expect(json.description).toContain(GENERATED_MARKER);
      } else {
        expect(f.content.startsWith(`# ${GENERATED_MARKER}\n`)).toBe(true);
      }
    }
  });

  it('never contain an import-time ${DS_*} datasource placeholder', () => {
    for (const f of files)
      expect({ path: f.path, placeholder: /\$\{?DS_/.test(f.content) }).toEqual({
        path: f.path,
        placeholder: false,
      });
  });

  it('are formatted as prettier formats them (npm run lint checks the YAML)', () => {
    // Prettier 3 loads its plugins with import(), which jest's CommonJS runtime refuses: run its CLI.
    const cli = join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
    for (const f of files.filter((x) => x.path.endsWith('.yml'))) {
      const run = spawnSync(process.execPath, [cli, '--check', '--stdin-filepath', f.path], {
        cwd: root,
        input: f.content,
        encoding: 'utf8',
      });
      expect({
        path: f.path,
        status: run.status,
        out: run.status === 0 ? '' : run.stdout + run.stderr,
      }).toEqual({
        path: f.path,
        status: 0,
        out: '',
      });
    }
  });

  it('match the committed copies when they exist (npm run check:generated does the same in CI)', () => {
    for (const f of files) {
      const target = join(root, f.path);
      if (existsSync(target))
        expect({ path: f.path, same: readFileSync(target, 'utf8') === f.content }).toEqual({
          path: f.path,
          same: true,
        });
    }
    // No stale dashboard left behind that the file provider would still load.
    const dir = join(root, 'grafana', 'dashboards');
    if (existsSync(dir)) {
      const expected = new Set(files.map((f) => f.path));
      for (const name of readdirSync(dir)) expect(expected.has(`grafana/dashboards/${name}`)).toBe(true);
    }
  });
});

describe('dashboards', () => {
  it('have the fixed uids the alerts link to, and schemaVersion the SDK emits', () => {
    expect([...byUid.keys()].sort()).toEqual(
      [
        'telehealth-app-overview',
        'telehealth-business',
        'telehealth-infrastructure',
        'telehealth-security',
      ].sort(),
    );
    for (const d of dashboards) {
      expect(d.schemaVersion).toBe(42);
      expect(d.id ?? null).toBeNull(); // provisioning assigns ids; a fixed one would clash across instances
    }
  });

  it.each(dashboards.map((d) => [d.uid, d] as const))(
    '%s: every panel has a title, a description and a unit',
    (_uid, d) => {
      const panels = panelsOf(d);
      expect(panels.length).toBeGreaterThan(0);
      for (const p of panels) {
        expect({ panel: p.title, title: (p.title ?? '').trim().length > 0 }).toEqual({
          panel: p.title,
          title: true,
        });
        expect({ panel: p.title, description: (p.description ?? '').length > 0 }).toEqual({
          panel: p.title,
          description: true,
        });
        expect({ panel: p.title, unit: p.fieldConfig?.defaults?.unit ?? '' }).not.toEqual({
          panel: p.title,
          unit: '',
        });
      }
      for (const r of rowsOf(d)) expect((r.title ?? '').length).toBeGreaterThan(0);
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    },
  );

  it.each(dashboards.map((d) => [d.uid, d] as const))(
    '%s: every $variable used is defined, every one defined is used',
    (_uid, d) => {
      const defined = new Set(d.templating.list.map((v) => v.name));
      const { templating: _t, ...rest } = d;
      const used = new Set<string>();
      for (const { path, text } of [...stringsIn(rest), ...stringsIn(d.templating)]) {
        for (const name of variablesIn(text)) {
          expect({ path, variable: name, defined: defined.has(name) }).toEqual({
            path,
            variable: name,
            defined: true,
          });
          used.add(name);
        }
      }
      for (const name of defined)
        expect({ variable: name, used: used.has(name) }).toEqual({ variable: name, used: true });
    },
  );

  it.each(dashboards.map((d) => [d.uid, d] as const))(
    '%s: datasources are variables defaulting to the fixed provisioned uids',
    (_uid, d) => {
      const vars = new Map(d.templating.list.map((v) => [v.name, v]));
      const prom = vars.get(PROMETHEUS_VARIABLE);
      expect(prom).toMatchObject({
        type: 'datasource',
        query: 'prometheus',
        current: { value: DATASOURCES.prometheus.uid },
      });
      const refs = stringsIn(d).filter((s) => s.path.endsWith('datasource.uid'));
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs)
        expect([`\${${PROMETHEUS_VARIABLE}}`, `\${${LOGS_VARIABLE}}`]).toContain(ref.text);
      const logs = vars.get(LOGS_VARIABLE);
      if (logs)
        expect(logs).toMatchObject({
          query: 'elasticsearch',
          current: { value: DATASOURCES.elasticsearch.uid },
        });
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        expect(v.datasource?.uid).toBe(`\${${PROMETHEUS_VARIABLE}}`);
        expect(String(v.query)).toMatch(/^label_values\(/);
        expect(v).toMatchObject({ includeAll: true, allValue: '.+' });
      }
    },
  );

  it.each(dashboards.map((d) => [d.uid, d] as const))(
    '%s: every target names its datasource, refId and query',
    (_uid, d) => {
      for (const p of panelsOf(d)) {
        expect(p.targets?.length ?? 0).toBeGreaterThan(0);
        const refIds = new Set<string>();
        for (const t of p.targets ?? []) {
          expect(t.refId).toMatch(/^[A-Z]$/);
          refIds.add(t.refId!);
          expect(t.datasource?.uid).toBe(p.datasource?.uid);
          if (t.datasource?.type === 'prometheus') expect((t.expr ?? '').length).toBeGreaterThan(0);
        }
        expect(refIds.size).toBe(p.targets!.length);
      }
    },
  );

  it.each(dashboards.map((d) => [d.uid, d] as const))(
    '%s: links to the three other dashboards and annotates firing alerts',
    (uid, d) => {
      const others = Object.values(DASHBOARD_UIDS).filter((u) => u !== uid);
      expect(d.links.map((l) => l.url).sort()).toEqual(others.map((u) => `/d/${u}`).sort());
      const annotation = d.annotations.list.find((a) => a.expr?.startsWith('ALERTS{'));
      expect(annotation?.expr).toContain('alertstate="firing"');
      expect(annotation?.datasource?.uid).toBe(`\${${PROMETHEUS_VARIABLE}}`);
    },
  );
});

describe('thresholds and runbooks come from the alert catalogue (alerts/thresholds)', () => {
  const rules = Object.values(ALERT_THRESHOLDS) as AlertThreshold[];
  const runbookUrls = new Set<string>(Object.values(RUNBOOK_URLS));
  // Rules of one name at several windows (the SLO burns) share one runbook.
  const rulesByRunbook = new Map<string, AlertThreshold[]>();
  for (const r of rules) rulesByRunbook.set(r.runbookUrl, [...(rulesByRunbook.get(r.runbookUrl) ?? []), r]);
  const all = dashboards.flatMap((d) => panelsOf(d).map((p) => ({ d, p })));
  /** A panel of the uptime record may draw its objective, the one step that is not an alert's threshold. */
  const isUptimeObjective = (p: PanelJson, value: number | null) =>
    value === SLO.uptime.objective && JSON.stringify(p.targets ?? []).includes(SLO.uptime.record);
  const stepsOf = (p: PanelJson) =>
    (p.fieldConfig?.defaults?.thresholds?.steps ?? []).filter(
      (s) => s.value !== null && !isUptimeObjective(p, s.value),
    );

  it("the uptime panel draws the platform's uptime objective: red below it, green at it", () => {
    const drawing = all.filter(({ p }) =>
      (p.fieldConfig?.defaults?.thresholds?.steps ?? []).some((s) => isUptimeObjective(p, s.value)),
    );
    expect(drawing.map(({ p }) => p.title)).toEqual([`API uptime (${SLO.period})`]);
    expect(drawing[0]!.p.fieldConfig?.defaults?.thresholds?.steps).toEqual([
      { value: null, color: 'red' },
      { value: 0.999, color: 'green' },
    ]);
  });

  it('every panel link is the runbook of an alert of the catalogue', () => {
    let links = 0;
    for (const { d, p } of all) {
      for (const l of p.links ?? []) {
        links++;
        expect({
          dashboard: d.uid,
          panel: p.title,
          link: l.url,
          runbook: runbookUrls.has(l.url ?? ''),
        }).toEqual({
          dashboard: d.uid,
          panel: p.title,
          link: l.url,
          runbook: true,
        });
      }
    }
    expect(links).toBeGreaterThan(10);
  });

  it('every threshold step equals the threshold of a rule whose runbook the panel links, drawn in its unit', () => {
    let drawn = 0;
    for (const { d, p } of all) {
      const linked = (p.links ?? []).flatMap((l) => rulesByRunbook.get(l.url ?? '') ?? []);
      for (const step of stepsOf(p)) {
        drawn++;
        const match = linked.find((r) => r.threshold === step.value);
        expect({ dashboard: d.uid, panel: p.title, step: step.value, rule: match?.id ?? null }).toEqual({
          dashboard: d.uid,
          panel: p.title,
          step: step.value,
          rule: expect.any(String),
        });
        expect({ panel: p.title, unit: p.fieldConfig?.defaults?.unit }).toEqual({
          panel: p.title,
          unit: match!.grafanaUnit,
        });
      }
    }
    expect(drawn).toBeGreaterThan(10);
  });

  it('the colour is on the side of a threshold where its rule fires (below it for a `<` rule)', () => {
    const COLOR = { critical: 'red', warning: 'orange', info: 'blue' } as const;
    let below = 0;
    for (const { p } of all) {
      const steps = p.fieldConfig?.defaults?.thresholds?.steps ?? [];
      const linked = (p.links ?? []).flatMap((l) => rulesByRunbook.get(l.url ?? '') ?? []);
      for (const step of stepsOf(p)) {
        const rule = linked.find((r) => r.threshold === step.value)!;
        const fires = COLOR[rule.severity];
        const [base, at] = rule.comparison === '<' ? [fires, 'green'] : ['green', fires];
        if (rule.comparison === '<') below++;
        expect({ panel: p.title, base: steps[0]?.color, at: step.color }).toEqual({
          panel: p.title,
          base,
          at,
        });
      }
    }
    expect(below).toBeGreaterThanOrEqual(2);
  });

  // The platform's six thresholds (infrastructure guide) and the page-level SLO burns must be drawn.
  const DRAWN = [
    'HighErrorRate',
    'HighLatencyP95',
    'HostCpuHigh',
    'HostMemoryHigh',
    'FailedLoginsHigh',
    'PhiAccessDeniedHigh',
    'ServiceCpuHigh',
    'ServiceMemoryHigh',
    'AvailabilityErrorBudgetBurn_1h_5m',
    'AvailabilityErrorBudgetBurn_6h_30m',
    'LatencyBudgetBurn_1h_5m',
    'LatencyBudgetBurn_6h_30m',
    'CollectorQueueNearFull',
    'CollectorSpoolNearFull',
  ] as const satisfies ReadonlyArray<keyof typeof ALERT_THRESHOLDS>;
  it.each(DRAWN)('%s is drawn at its threshold on the dashboard the alert links to', (id) => {
    const rule = ALERT_THRESHOLDS[id] as AlertThreshold;
    const drawing = all.filter(
      ({ p }) =>
        stepsOf(p).some((s) => s.value === rule.threshold) &&
        (p.links ?? []).some((l) => l.url === rule.runbookUrl),
    );
    expect(drawing.map(({ d }) => d.uid)).toContain(rule.dashboardUid);
  });

  /** Metric and recording-rule names in a PromQL expression (ours, node_exporter's, the meta jobs'). */
  const METRIC_NAME = new RegExp(
    `\\b(?:${DEFAULT_NAMESPACE}|node|alertmanager|prometheus)_\\w+|\\b[a-z_]+:[\\w:]+`,
    'g',
  );
  const metricsIn = (expr: string): string[] => [...new Set(expr.match(METRIC_NAME) ?? [])];
  it('every alert has a panel on the dashboard its runbook names that queries its metric and links its runbook', () => {
    const uncovered = [
      ...new Set(
        rules
          .filter((r) => {
            const metrics = metricsIn(r.expr);
            expect({ rule: r.id, metrics: metrics.length > 0 }).toEqual({ rule: r.id, metrics: true });
            return !panelsOf(byUid.get(r.dashboardUid)!).some(
              (p) =>
                (p.links ?? []).some((l) => l.url === r.runbookUrl) &&
                (p.targets ?? []).some((t) => metrics.some((m) => (t.expr ?? '').includes(m))),
            );
          })
          .map((r) => r.name),
      ),
    ].sort();
    expect(uncovered).toEqual([]);
  });

  it('so has every alert without a threshold (a target down, metrics absent), except one on no metric', () => {
    const thresholdNames = new Set(rules.map((r) => r.name));
    const others = resolveCatalogue().filter((a) => !thresholdNames.has(a.name));
    expect(others.map((a) => a.name)).toEqual(
      expect.arrayContaining([
        'TargetDown',
        'TelehealthApiDown',
        'TelehealthApiAbsent',
        'CollectorMetricsAbsent',
      ]),
    );
    // Prometheus's own `up` as well as our names, matched as whole words.
    const metricsOf = (expr: string) => [...metricsIn(expr), ...(/\bup\b/.test(expr) ? ['up'] : [])];
    const queries = (expr: string | undefined, m: string) => new RegExp(`\\b${m}\\b`).test(expr ?? '');
    const uncovered = others
      // The Watchdog is `vector(1)`: the firing-alerts table shows it, and links its runbook by name.
      .filter((a) => metricsOf(a.expr).length > 0)
      .filter(
        (a) =>
          !panelsOf(byUid.get(a.dashboardUid)!).some(
            (p) =>
              (p.links ?? []).some((l) => l.url === a.runbookUrl) &&
              (p.targets ?? []).some((t) => metricsOf(a.expr).some((m) => queries(t.expr, m))),
          ),
      )
      .map((a) => a.name);
    expect(others.filter((a) => metricsOf(a.expr).length === 0).map((a) => a.name)).toEqual(['Watchdog']);
    expect(uncovered).toEqual([]);
  });

  it("every alert's dashboard link points at one of these dashboards", () => {
    for (const r of rules) expect(byUid.has(r.dashboardUid)).toBe(true);
    expect(Object.values(ALERT_DASHBOARD_UIDS).sort()).toEqual([...byUid.keys()].sort());
  });

  it('no threshold number is written in the dashboard sources', () => {
    const sources = listTs(join(root, 'dashboards')).map((f) => ({ f, text: readFileSync(f, 'utf8') }));
    const fractional = [...new Set(rules.map((r) => r.threshold))].filter((v) => !Number.isInteger(v));
    expect(fractional.length).toBeGreaterThan(2);
    for (const v of fractional) {
      const literal = new RegExp(`(?<![\\w.])${String(v).replace('.', '\\.')}(?![\\w.])`);
      for (const { f, text } of sources) {
        expect({ file: f, value: v, written: literal.test(text) }).toEqual({
          file: f,
          value: v,
          written: false,
        });
      }
    }
  });

  it('the firing-alerts table links each row to its runbook by the catalogue pattern', () => {
    const table = all.find(({ p }) => p.title === 'Firing alerts')!.p;
    const url = table.fieldConfig?.defaults?.links?.[0]?.url ?? '';
    expect(url).toContain('${__data.fields.alertname}');
    for (const [name, runbook] of Object.entries(RUNBOOK_URLS)) {
      expect(url.replace('${__data.fields.alertname}', name)).toBe(runbook);
    }
  });
});

describe('the Elasticsearch logs panel', () => {
  const security = byUid.get(DASHBOARD_UIDS.security)!;
  const panel = panelsOf(security).find((p) => p.type === 'logs')!;

  it('is a logs query of authentication events on the logs datasource', () => {
    expect(panel.datasource).toEqual({ type: 'elasticsearch', uid: `\${${LOGS_VARIABLE}}` });
    const t = panel.targets![0]!;
    expect(t.metrics).toEqual([expect.objectContaining({ type: 'logs', id: '1' })]);
    expect(t.timeField).toBe('@timestamp');
    // Lucene: field:(a OR b ...), balanced, naming only event types of the collector's vocabulary.
    const m = /^([a-z.]+):\(([a-z_]+(?: OR [a-z_]+)*)\)$/.exec(t.query ?? '');
    expect(m).not.toBeNull();
    const types = m![2]!.split(' OR ');
    for (const type of types) expect(EVENT_TYPE_NAMES).toContain(type);
    expect(types).toEqual(
      expect.arrayContaining(['authn_login_success', 'authn_login_fail', 'authn_mfa_fail']),
    );
  });
});

describe('provisioning', () => {
  const yamlOf = (path: string) =>
    parse(files.find((f) => f.path === path)!.content) as Record<string, unknown>;

  it('provisions Prometheus, Alertmanager, Elasticsearch and Tempo under their fixed uids', () => {
    const doc = yamlOf('grafana/provisioning/datasources/telehealth.yml') as {
      apiVersion: number;
      datasources: Array<{ uid: string; type: string; name: string; url: string; isDefault?: boolean }>;
    };
    expect(doc.apiVersion).toBe(1);
    expect(
      doc.datasources
        .map((d) => ({ uid: d.uid, type: d.type, name: d.name }))
        .sort((a, b) => a.uid.localeCompare(b.uid)),
    ).toEqual(
      Object.values(DATASOURCES)
        .map((d) => ({ uid: d.uid, type: d.type, name: d.name }))
        .sort((a, b) => a.uid.localeCompare(b.uid)),
    );
    for (const d of doc.datasources) expect(d.url).toMatch(/^http:\/\/[a-z]+:\d+$/);
    expect(doc.datasources.filter((d) => d.isDefault)).toHaveLength(1);
  });

  it('loads the dashboards with a read-only file provider into a folder', () => {
    const doc = yamlOf('grafana/provisioning/dashboards/telehealth.yml') as {
      providers: Array<{
        type: string;
        folder: string;
        folderUid: string;
        allowUiUpdates: boolean;
        options: { path: string };
      }>;
    };
    expect(doc.providers).toHaveLength(1);
    expect(doc.providers[0]).toMatchObject({ type: 'file', folder: 'Telehealth', allowUiUpdates: false });
    expect(doc.providers[0]!.options.path).toMatch(/^\//);
  });
});

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? listTs(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
        ? [join(dir, e.name)]
        : [],
  );
}
