/**
 * The live proof: the reference service (real database), node_exporter and a real Prometheus (Debian's
 * binary, loopback, 1 s scrape, the generated rules loaded), every simulator scenario run against the
 * service, then every Prometheus target of every panel of every dashboard queried with the template
 * variables substituted as Grafana would (their "All" value). A query that errors or returns no series
 * fails the test with the dashboard and panel title. Variable queries must resolve to values too.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOBS as SCRAPE_JOBS } from '../../alerts/metric-names';
import { runScenario, SCENARIOS, startService, type RunningService } from '../../app';
import { DEFAULT_UNTRACED_PATHS, RequestSampler, samplerFromEnv } from '../../collector/tracing';
import { generatedFiles } from '../../dashboards';
import { createTestDatabase, isPostgresAvailable, type TestDatabase } from '../support/postgres';
import { type DashboardJson, panelsOf, variablesIn, substitute, type VariableJson } from './dashboard-model';
import {
  ALERTMANAGER_BIN,
  generatedRuleFiles,
  NODE_EXPORTER_BIN,
  PROMETHEUS_BIN,
  type Prometheus,
  startAlertmanager,
  startNodeExporter,
  startPrometheus,
  waitFor,
} from './prometheus-harness';

const root = join(__dirname, '..', '..');
const haveBinaries = [PROMETHEUS_BIN, NODE_EXPORTER_BIN, ALERTMANAGER_BIN].every((b) => existsSync(b));
const JOBS = {
  api: SCRAPE_JOBS.api,
  node: SCRAPE_JOBS.node,
  prometheus: SCRAPE_JOBS.prometheus,
  alertmanager: SCRAPE_JOBS.alertmanager,
} as const;
/** What Grafana's built-in intervals become: windows that cover the scenarios just run. */
const INTERVALS = { rateInterval: '1m', range: '1h', interval: '15s' };

const dashboards: DashboardJson[] = generatedFiles()
  .filter((f) => f.path.startsWith('grafana/dashboards/'))
  .map((f) => JSON.parse(f.content) as DashboardJson);

(haveBinaries ? describe : describe.skip)(
  'live proof: every panel query returns data from a real Prometheus',
  () => {
    let dataDir: string;
    let db: TestDatabase | undefined;
    let service: RunningService | undefined;
    let nodeExporter: { target: string; stop(): Promise<void> } | undefined;
    let alertmanager: { target: string; stop(): Promise<void> } | undefined;
    let prometheus: Prometheus | undefined;
    let scenarioStart = 0;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'dash-live-'));
      db = (await isPostgresAvailable()) ? await createTestDatabase('dash') : undefined;
      // The service's head sampler (default ratio and cap), installed as the tracing preload installs
      // it, so that its decisions are counted and exported. The SDK itself is not started here: its
      // instrumentations patch modules as they load (the tracing tests run it in a child process).
      RequestSampler.install(new RequestSampler(samplerFromEnv({}).sampler, new Set(DEFAULT_UNTRACED_PATHS)));
      service = await startService({
        port: 0,
        metricsPort: 0,
        host: '127.0.0.1',
        dataDir,
        databaseUrl: db?.url,
        faultInjection: true,
        print: () => undefined,
        env: {
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          SEED_DEMO_DATA: 'true',
          DEV_CREDENTIALS_FILE: join(dataDir, 'credentials.json'),
          // Cheap hashing: the proof is about metrics, not password cost.
          ARGON2_MEMORY_KIB: '1024',
          ARGON2_TIME_COST: '1',
        },
      });
      nodeExporter = await startNodeExporter();
      alertmanager = await startAlertmanager();
      prometheus = await startPrometheus(
        [
          { job: JOBS.api, target: new URL(service.metricsUrl!).host },
          { job: JOBS.node, target: nodeExporter.target },
          { job: JOBS.alertmanager, target: alertmanager.target },
        ],
        generatedRuleFiles(root),
        { alertmanagers: [alertmanager.target], selfJob: JOBS.prometheus },
      );
      await waitFor('every scrape target up', async () => {
        const up = await prometheus!.query('up == 1');
        return up.length === Object.keys(JOBS).length ? true : undefined;
      });
      scenarioStart = Math.floor(Date.now() / 1000);
      for (const scenario of SCENARIOS) {
        const summary = await runScenario({
          target: service.apiUrl,
          scenario,
          // Normal traffic longest: payments, declines and refunds are a small share of its actions.
          rate: 25,
          durationSeconds: scenario === 'normal' ? 10 : 4,
          credentials: service.credentials!,
          fault: { latencyMs: 300 },
        });
        expect(summary.requests).toBeGreaterThan(0);
      }
      // What the collector's scheduled job does every minute, done now: the audit-integrity panels
      // read its result (its first tick may fall outside this window).
      await service.collector.flush();
      const verified = await service.collector.verifyChain();
      expect(verified.ok).toBe(true);
      // Three more scrapes and rule evaluations, so the last requests and events are in Prometheus.
      await new Promise((r) => setTimeout(r, 3500));
    }, 180_000);

    afterAll(async () => {
      RequestSampler.install(undefined);
      await prometheus?.stop();
      await alertmanager?.stop();
      await nodeExporter?.stop();
      await service?.close();
      await db?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }, 60_000);

    it('loaded the generated alert rules (the firing-alerts panel and annotations read ALERTS)', () => {
      expect(prometheus!.ruleFiles.length).toBeGreaterThan(0);
    });

    it.each(dashboards.map((d) => [d.title, d] as const))(
      '%s: every variable resolves and every panel query returns series',
      async (_title, d) => {
        const { failures, queries, maxByPanel } = await checkDashboard(prometheus!, d, scenarioStart);
        console.log(`live proof: ${d.title}: ${queries} queries`);
        proofCounts.set(d.uid, queries);
        expect(failures).toEqual([]);
        expect(queries).toBeGreaterThan(0);
        // Series alone could be zero-initialised counters: the panels the scenarios drive must move.
        expect(MOVED[d.uid]?.length ?? 0).toBeGreaterThan(0);
        for (const title of MOVED[d.uid] ?? []) {
          expect({ panel: title, moved: (maxByPanel.get(title) ?? 0) > 0 }).toEqual({
            panel: title,
            moved: true,
          });
        }
      },
      60_000,
    );

    it('fails, naming dashboard and panel, on a query with no series, a query error or an undefined variable', async () => {
      const original = dashboards.find((d) => d.uid === 'telehealth-app-overview')!;
      const broken = JSON.parse(JSON.stringify(original)) as DashboardJson;
      const [a, b, c] = panelsOf(broken).filter((p) => p.targets?.[0]?.expr);
      a!.targets![0] = { ...a!.targets![0]!, expr: 'telehealth_no_such_metric_total' };
      b!.targets![0] = { ...b!.targets![0]!, expr: 'sum(rate(telehealth_http_requests_total[1m]' };
      c!.targets![0] = { ...c!.targets![0]!, expr: 'up{job=~"$undefined_variable"}' };
      const { failures } = await checkDashboard(prometheus!, broken, scenarioStart);
      expect(failures).toEqual([
        expect.stringMatching(new RegExp(`^${escape(broken.title)} / ${escape(a!.title!)} / A: no series`)),
        expect.stringMatching(
          new RegExp(`^${escape(broken.title)} / ${escape(b!.title!)} / A: query failed`),
        ),
        expect.stringMatching(
          new RegExp(`^${escape(broken.title)} / ${escape(c!.title!)} / A: .*undefined_variable`),
        ),
      ]);
    });

    it('ran queries on every dashboard', () => {
      expect([...proofCounts.keys()].sort()).toEqual(dashboards.map((d) => d.uid).sort());
      console.log(`live proof: ${[...proofCounts.values()].reduce((a, b) => a + b, 0)} queries in total`);
    });
  },
);

const proofCounts = new Map<string, number>();

/**
 * Panels whose value the scenarios must raise above zero. Not listed: lockouts, MFA failures and token
 * revocations (no scenario provokes them), dropped/rejected events (0 is the healthy value), host
 * network (loopback only here), queue fills that may read 0 at the instant of a scrape, and the
 * business backlog gauges (a scheduled job refreshes them every 30 s, maybe not yet during the run).
 */
const MOVED: Record<string, string[]> = {
  'telehealth-app-overview': [
    'Request rate by route',
    'Error ratio (5xx)',
    'Latency p50 / p95 / p99 by route',
    'SLO burn rate',
    'Slowest routes (p95 over the range)',
    'Most failing routes (5xx ratio over the range)',
    'Firing alerts',
    'Alertmanagers Prometheus sends to',
    'Alertmanager configuration loaded',
    'Head-sampling decisions',
  ],
  'telehealth-infrastructure': [
    'Host CPU utilisation',
    'Host memory utilisation',
    'Host disk usage',
    'Service CPU against its limit',
    'Service resident memory against its limit',
    'Service RSS and heap',
    'PostgreSQL pool connections',
    'Collector events stored, rejected and dropped',
  ],
  'telehealth-security': [
    'Logins by outcome',
    'Failed logins per minute',
    'PHI access granted and denied, by role and reason',
    'PHI access denied per minute',
    'Audit rows verified',
  ],
  'telehealth-business': [
    'Orders in range',
    'Prescriptions in range',
    'Net revenue by currency (range)',
    'Orders and prescriptions',
    'Invoices issued and voided',
    'Payments captured',
    'Payment failures and refunds',
  ],
};
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Runs every query of one dashboard; returns what failed (with dashboard and panel title) and the count. */
async function checkDashboard(
  prometheus: Prometheus,
  d: DashboardJson,
  rangeStart: number,
): Promise<{ failures: string[]; queries: number; maxByPanel: Map<string, number> }> {
  const failures: string[] = [];
  const maxByPanel = new Map<string, number>();
  const values = await resolveVariables(prometheus, d, failures);
  const end = Math.floor(Date.now() / 1000);
  let queries = 0;
  for (const panel of panelsOf(d)) {
    if (!panel.title) failures.push(`${d.title}: a panel has no title`);
    if (!panel.fieldConfig?.defaults?.unit) failures.push(`${d.title} / ${panel.title}: no unit`);
    for (const target of panel.targets ?? []) {
      const where = `${d.title} / ${panel.title} / ${target.refId}`;
      if (target.datasource?.type === 'elasticsearch') {
        // No Elasticsearch here: the query's shape is checked instead.
        if (!target.query || target.metrics?.[0]?.type !== 'logs' || !target.timeField) {
          failures.push(`${where}: not a valid Elasticsearch logs query`);
        }
        continue;
      }
      let expr: string;
      try {
        expr = substitute(target.expr ?? '', values, INTERVALS);
      } catch (err) {
        failures.push(`${where}: ${String(err)}`);
        continue;
      }
      queries++;
      try {
        const result = target.instant
          ? await prometheus.query(expr)
          : await prometheus.queryRange(expr, rangeStart, end, 1);
        if (result.length === 0) failures.push(`${where}: no series for ${expr}`);
        const finite = result
          .flatMap((r) => r.values ?? (r.value ? [r.value] : []))
          .map((v) => Number(v[1]))
          .filter(Number.isFinite);
        maxByPanel.set(
          panel.title ?? '',
          Math.max(maxByPanel.get(panel.title ?? '') ?? -Infinity, ...finite),
        );
      } catch (err) {
        failures.push(`${where}: query failed (${String(err)}) for ${expr}`);
      }
    }
  }
  for (const a of d.annotations.list) {
    if (!a.expr) continue;
    queries++;
    try {
      await prometheus.query(substitute(a.expr, values, INTERVALS));
    } catch (err) {
      failures.push(`${d.title} / annotation ${a.name}: query failed (${String(err)})`);
    }
  }
  return { failures, queries, maxByPanel };
}

/**
 * Resolves each query variable with Prometheus' label-values API (the variables before it set to
 * "All"), failing when one resolves to nothing; returns the values Grafana would substitute by default.
 */
async function resolveVariables(
  prometheus: Prometheus,
  d: DashboardJson,
  failures: string[],
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const v of d.templating.list) {
    if (v.type === 'datasource') {
      values[v.name] = String(v.current?.value ?? '');
      continue;
    }
    const query = String(v.query ?? '');
    const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(query);
    if (!m) {
      failures.push(`${d.title}: variable ${v.name} has an unsupported query ${query}`);
      continue;
    }
    for (const used of variablesIn(query)) {
      if (!(used in values))
        failures.push(`${d.title}: variable ${v.name} uses $${used} before it is defined`);
    }
    const match = substitute(m[1]!, values, INTERVALS);
    const resolved = await prometheus.labelValues(m[2]!, match).catch((err: unknown) => {
      failures.push(`${d.title}: variable ${v.name} query failed (${String(err)})`);
      return [] as string[];
    });
    if (resolved.length === 0)
      failures.push(`${d.title}: variable ${v.name} resolves to no value (${query})`);
    values[v.name] = defaultValue(v);
  }
  return values;
}

function defaultValue(v: VariableJson): string {
  if (v.current?.value === '$__all' && v.includeAll) return v.allValue ?? '.*';
  return String(v.current?.value ?? '');
}
