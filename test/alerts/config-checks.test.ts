/**
 * CI checks with the real binaries (Debian's prometheus 2.42 / alertmanager 0.25): rule lint, the
 * generated and hand-written promtool tests, prometheus.yml, alertmanager.yml and a route test for
 * every alert of the catalogue. promtool check config stats the credential files the config names, so
 * it runs on a copy whose secret paths point at throwaway files made here.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import {
  CATALOGUE,
  RECEIVER_BY_SEVERITY,
  RECEIVERS,
  renderAlertmanagerConfig,
  resolveCatalogue,
  validateOverrides,
  type ResolvedAlert,
} from '../../alerts';
import { buildRuleGroups, renderRuleFile } from '../../alerts/render-rules';
import type { ThresholdTestCases } from '../../alerts/fixtures';
import { renderTestFiles } from '../../alerts/render-tests';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const PROM = join(ROOT, 'prometheus');

async function tool(
  bin: string,
  args: string[],
  cwd = ROOT,
): Promise<{ code: number; out: string; stdout: string }> {
  try {
    const { stdout, stderr } = await run(bin, args, { cwd, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      out: `${e.stdout ?? ''}${e.stderr ?? ''}`,
      stdout: e.stdout ?? '',
    };
  }
}

const ymls = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => join(dir, f));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'alerts-ci-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('promtool', () => {
  test('check rules --lint=all passes on every generated rule file (production and staging)', async () => {
    const files = [...ymls(join(PROM, 'rules')), ...ymls(join(PROM, 'environments', 'staging', 'rules'))];
    expect(files.length).toBeGreaterThanOrEqual(10);
    const r = await tool('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', ...files]);
    expect(r.out).not.toMatch(/FAILED|WARNING/);
    expect(r.code).toBe(0);
  });

  test('generated, staging and hand-written unit tests pass', async () => {
    const files = [
      ...ymls(join(PROM, 'tests', 'generated')),
      ...ymls(join(PROM, 'tests')),
      ...ymls(join(PROM, 'environments', 'staging', 'tests')),
    ];
    expect(files.some((f) => f.endsWith('slo-burn-rate.test.yml'))).toBe(true);
    const r = await tool('promtool', ['test', 'rules', ...files]);
    expect(r.out).not.toContain('FAILED');
    expect(r.code).toBe(0);
  }, 120_000);

  test('the generated tests catch a rule whose threshold drifted from the catalogue', async () => {
    // Tests from the catalogue, rules from an environment that moved three thresholds: promtool must fail.
    const drifted = validateOverrides(
      {
        environment: 'drift',
        alerts: {
          HighErrorRate: { threshold: 0.045 },
          FailedLoginsHigh: { threshold: 11 },
          ServiceMemoryHigh: { threshold: 0.86 },
        },
      },
      CATALOGUE,
    );
    const dir = join(tmp, 'drift');
    const rulesDir = join(dir, 'rules');
    const testsDir = join(dir, 'tests', 'generated');
    cpSync(join(PROM, 'rules'), rulesDir, { recursive: true });
    const groups = buildRuleGroups(resolveCatalogue({ overrides: drifted }));
    for (const g of groups) writeFileSync(join(rulesDir, g.fileName), renderRuleFile(g));
    cpSync(join(PROM, 'tests', 'generated'), testsDir, { recursive: true });
    const r = await tool('promtool', ['test', 'rules', join(testsDir, 'platform.test.yml')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('HighErrorRate: just inside the threshold');
    expect(r.out).toContain('FailedLoginsHigh: just past the threshold');
    expect(r.out).toContain('ServiceMemoryHigh: just past the threshold');
  }, 60_000);

  test('every threshold alert with a fixture has the four generated cases, plus its guard and silent cases', () => {
    const alerts = resolveCatalogue();
    const files = renderTestFiles(alerts, buildRuleGroups(alerts), '../../rules');
    const text = files.map((f) => f.content).join('\n');
    for (const a of alerts.filter((x) => x.definition.test)) {
      expect(text).toContain(`${a.id}: just inside the threshold`);
      expect(text).toContain(`${a.id}: just past the threshold`);
      expect(text).toContain(`${a.id}: back inside the threshold, it resolves`);
      expect(text).toContain(`${a.id}: no traffic stays silent`);
      // The pending phase is counted, so `for` is checked to the minute.
      expect(text).toContain(`count_over_time(ALERTS{alertname="${a.name}",alertstate="pending"}`);
      const t = a.definition.test as ThresholdTestCases;
      if (t.minTraffic) {
        expect(text).toContain(`${a.id}: under the minimum traffic`);
        expect(text).toContain(`${a.id}: just over the minimum traffic`);
      }
      for (const c of t.silent?.(a.threshold!.value) ?? []) expect(text).toContain(`${a.id}: ${c.name}`);
    }
  });

  test('check config passes on prometheus.yml with its secret paths pointed at local files', async () => {
    for (const base of ['prometheus', 'prometheus/environments/staging']) {
      const dir = join(tmp, base.replace(/\//g, '_'));
      cpSync(join(ROOT, base, 'rules'), join(dir, 'rules'), { recursive: true });
      const token = join(dir, 'metrics.token');
      writeFileSync(token, 'dev-metrics-token-for-promtool-check\n');
      const config = readFileSync(join(ROOT, base, 'prometheus.yml'), 'utf8');
      expect(config).toContain('credentials_file: /etc/prometheus/secrets/metrics.token');
      writeFileSync(
        join(dir, 'prometheus.yml'),
        config.split('/etc/prometheus/secrets/metrics.token').join(token),
      );
      const r = await tool('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
      expect(r.out).toContain('SUCCESS');
      expect(r.code).toBe(0);
    }
  }, 60_000);

  test('check config fails when a credentials file is missing (the check is real)', async () => {
    const r = await tool('promtool', ['check', 'config', join(PROM, 'prometheus.yml')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('metrics.token');
  });
});

describe('promtool tests fail on rules that drift from their intent (alert review, finding 3)', () => {
  // Each change is applied to one resolved rule; the rule files are rendered from the result and that
  // alert's promtool tests (generated from the unchanged catalogue, or its hand-written file) must fail.
  const alerts = resolveCatalogue();
  const groups = buildRuleGroups(alerts);
  // promtool names the test of a failed alert_rule_test but prints only the expression of a failed
  // promql_expr_test, such as the generated count of the evaluations an alert was pending.
  const pendingCount = (name: string) =>
    `count_over_time(ALERTS{alertname=\\"${name}\\",alertstate=\\"pending\\"}`;
  const guard = / and on \(job\) sum by \(job\) \(rate\([a-z_]+\[5m\]\)\) \* 60 >= [0-9]+/;
  /** A rule's expression with one part replaced (the mutation), the part required to be there. */
  const replaced = (id: string, from: string | RegExp, to: string) => {
    const expr = alerts.find((x) => x.id === id)!.expr;
    if (!(typeof from === 'string' ? expr.includes(from) : from.test(expr)))
      throw new Error(`${id}: ${from} not in ${expr}`);
    return expr.replace(from, to);
  };
  const mutations: Array<{ what: string; id: string; change: Partial<ResolvedAlert>; caughtBy: string }> = [
    ...(
      [
        ['HighErrorRate', 'HighErrorRate: under the minimum traffic'],
        ['HighLatencyP95', 'HighLatencyP95: under the minimum traffic'],
      ] as const
    ).map(([id, caughtBy]) => ({
      what: `${id} without its minimum-traffic guard`,
      id,
      change: { expr: replaced(id, guard, '') },
      caughtBy,
    })),
    {
      what: 'HighErrorRate counting 4xx (and 499) as errors',
      id: 'HighErrorRate',
      change: { expr: replaced('HighErrorRate', 'status_code=~"5.."', 'status_code=~"[45].."') },
      caughtBy: 'HighErrorRate: just inside the threshold',
    },
    ...(
      [
        ['> 0', 'AlertmanagerFailedToSendAlerts: just inside the threshold'],
        ['> 0.04', 'AlertmanagerFailedToSendAlerts: just past the threshold'],
      ] as const
    ).map(([to, caughtBy]) => ({
      what: `AlertmanagerFailedToSendAlerts at ${to} instead of > 0.01`,
      id: 'AlertmanagerFailedToSendAlerts',
      change: { expr: replaced('AlertmanagerFailedToSendAlerts', /> 0\.01$/, to) },
      caughtBy,
    })),
    {
      what: 'CollectorSpoolGrowing paging on the highest backlog of its window, not the lowest',
      id: 'CollectorSpoolGrowing',
      change: { expr: replaced('CollectorSpoolGrowing', 'min_over_time', 'max_over_time') },
      caughtBy: 'CollectorSpoolGrowing: bursts to',
    },
    // `for` one step longer or shorter (or the reviewer's 10m / 1m): generated and hand-written.
    ...(
      [
        ['TelehealthApiDown', ['1m', '3m', '10m'], 'every API instance down'],
        ['TargetDown', ['1m', '4m', '6m'], 'every API instance down'],
        ['TelehealthApiAbsent', ['4m', '6m'], 'the API job disappears'],
        ['CollectorMetricsAbsent', ['1m', '9m', '11m'], 'no collector series anywhere'],
        ['HighErrorRate', ['4m', '6m'], pendingCount('HighErrorRate')],
        ['HighLatencyP95', ['9m', '11m'], pendingCount('HighLatencyP95')],
        ['HostCpuHigh', ['14m', '16m'], pendingCount('HostCpuHigh')],
        ['CollectorSpoolGrowing', ['4m', '6m'], pendingCount('CollectorSpoolGrowing')],
        ['PhiIntegrityFailure', ['1m'], pendingCount('PhiIntegrityFailure')],
      ] as Array<[string, string[], string]>
    ).flatMap(([id, fors, caughtBy]) =>
      fors.map((f) => ({
        what: `${id} with for: ${f} instead of ${alerts.find((x) => x.id === id)!.for}`,
        id,
        change: { for: f },
        caughtBy,
      })),
    ),
  ];

  /** promtool on the tests of alert `id` (generated or hand-written), with `change` made to its rule. */
  async function testsOf(id: string, change: Partial<ResolvedAlert>) {
    const original = alerts.find((a) => a.id === id)!;
    const dir = mkdtempSync(join(tmp, 'mutation-'));
    mkdirSync(join(dir, 'rules'));
    mkdirSync(join(dir, 'tests'));
    for (const g of buildRuleGroups(alerts.map((a) => (a.id === id ? { ...a, ...change } : a)))) {
      writeFileSync(join(dir, 'rules', g.fileName), renderRuleFile(g));
    }
    const testFiles: string[] = [];
    if (original.definition.handWrittenTest) {
      const target = join(dir, 'tests', basename(original.definition.handWrittenTest));
      cpSync(join(ROOT, original.definition.handWrittenTest), target);
      testFiles.push(target);
    } else {
      for (const t of renderTestFiles([original], groups, '../rules')) {
        writeFileSync(join(dir, 'tests', t.fileName), t.content);
        testFiles.push(join(dir, 'tests', t.fileName));
      }
    }
    expect(testFiles).toHaveLength(1);
    return tool('promtool', ['test', 'rules', ...testFiles]);
  }

  test.each([...new Set(mutations.map((m) => m.id))])(
    'unchanged, the tests of %s pass on their own',
    async (id) => {
      const r = await testsOf(id, {});
      expect(r.out).not.toContain('FAILED');
      expect(r.code).toBe(0);
    },
    60_000,
  );

  test.each(mutations.map((m) => [m.what, m] as const))(
    '%s',
    async (_what, m) => {
      const original = alerts.find((a) => a.id === m.id)!;
      const mutated = { ...original, ...m.change };
      expect(mutated.expr !== original.expr || mutated.for !== original.for).toBe(true);
      const r = await testsOf(m.id, m.change);
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(m.caughtBy);
    },
    60_000,
  );
});

describe('amtool', () => {
  test('check-config passes on the production file and on a test variant', async () => {
    const variant = join(tmp, 'alertmanager-test.yml');
    writeFileSync(
      variant,
      renderAlertmanagerConfig(resolveCatalogue(), {
        pagerDutyUrl: 'https://127.0.0.1:18443/v2/enqueue',
        pagerDutyTls: { caFile: join(tmp, 'ca.pem') },
        routingKeyFiles: { high: join(tmp, 'high.key'), low: join(tmp, 'low.key') },
        deadmanUrl: 'http://127.0.0.1:19095/watchdog',
        deadmanCredentialsFile: null,
        timings: { groupWait: '1s', groupInterval: '2s', repeatInterval: '1m' },
      }),
    );
    for (const file of [join(PROM, 'alertmanager.yml'), variant]) {
      const r = await tool('amtool', ['check-config', file]);
      expect(r.out).toContain('SUCCESS');
      expect(r.code).toBe(0);
    }
    expect(readFileSync(variant, 'utf8')).toContain('url: https://127.0.0.1:18443/v2/enqueue');
  });

  test('routes: every alert of the catalogue reaches the receiver of its severity; Watchdog the switch', async () => {
    const config = join(PROM, 'alertmanager.yml');
    const checked: string[] = [];
    for (const a of resolveCatalogue()) {
      const expected = a.name === 'Watchdog' ? RECEIVERS.deadman : RECEIVER_BY_SEVERITY[a.severity];
      const service = a.labels.service!.startsWith('{{') ? 'telehealth-api' : a.labels.service!;
      const labels = [
        `alertname=${a.name}`,
        `severity=${a.severity}`,
        `service=${service}`,
        `family=${a.family}`,
      ];
      const r = await tool('amtool', [
        'config',
        'routes',
        'test',
        `--config.file=${config}`,
        `--verify.receivers=${expected}`,
        ...labels,
      ]);
      expect({ alert: a.id, code: r.code, out: r.stdout.trim() }).toEqual({
        alert: a.id,
        code: 0,
        out: expected,
      });
      checked.push(a.id);
    }
    expect(checked).toHaveLength(CATALOGUE.length);
  }, 120_000);

  test('routes: a wrong expectation fails (the route test is real)', async () => {
    const r = await tool('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${join(PROM, 'alertmanager.yml')}`,
      `--verify.receivers=${RECEIVERS.high}`,
      'alertname=HighLatencyP95',
      'severity=warning',
    ]);
    expect(r.code).not.toBe(0);
  });
});
