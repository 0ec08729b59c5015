import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exporterMetricNames, NODE_EXPORTER_METRICS } from '../../exporter/metric-names';
import { collectorMetricNames } from '../../collector/metric-names';
import {
  buildAlertmanagerConfig,
  buildPrometheusConfig,
  CATALOGUE,
  environments,
  generatedFiles,
  loadEnvironmentOverrides,
  loadOverridesFile,
  resolveCatalogue,
  validateCatalogue,
  validateOverrides,
  type AlertDefinition,
} from '../../alerts';
import type { ThresholdTestCases } from '../../alerts/fixtures';
import { THIRD_PARTY_METRICS } from '../../alerts/metric-names';
import { buildRuleGroups } from '../../alerts/render-rules';
import { expandTemplate, goG4 } from '../../alerts/render-tests';
import { sloRecordingRules } from '../../alerts/slo';

const ROOT = join(__dirname, '..', '..');

describe('the six platform thresholds of the infrastructure guide', () => {
  const t = (id: string) => CATALOGUE.find((a) => a.id === id)!;
  test.each([
    ['HighErrorRate', 0.05, 'ratio', 'critical'],
    ['HighLatencyP95', 2, 'seconds', 'warning'],
    ['HostCpuHigh', 0.8, 'ratio', 'warning'],
    ['ServiceCpuHigh', 0.8, 'ratio', 'warning'],
    ['HostMemoryHigh', 0.85, 'ratio', 'warning'],
    ['ServiceMemoryHigh', 0.85, 'ratio', 'warning'],
    ['FailedLoginsHigh', 10, 'perMinute', 'warning'],
    ['PhiAccessDeniedHigh', 5, 'perMinute', 'critical'],
  ])('%s > %s %s is %s', (id, value, unit, severity) => {
    expect(t(id)).toMatchObject({ severity, threshold: { value, unit, comparison: '>' } });
  });

  test('service CPU and memory are measured against the configured limits; host ones from node_exporter', () => {
    expect(t('ServiceCpuHigh').expr).toContain('telehealth_process_cpu_limit_cores');
    expect(t('ServiceMemoryHigh').expr).toContain('telehealth_process_memory_limit_bytes');
    expect(t('HostCpuHigh').expr).toContain('node_cpu_seconds_total{mode="idle"}');
    expect(t('HostMemoryHigh').expr).toContain('node_memory_MemAvailable_bytes');
  });

  test('security rates count the collector events per minute over several scrape intervals', () => {
    expect(t('FailedLoginsHigh').expr).toBe(
      'sum(rate(telehealth_events_total{event_type="authn_login_fail"}[2m])) * 60',
    );
    expect(t('PhiAccessDeniedHigh').expr).toBe(
      'sum(rate(telehealth_events_total{event_type="authz_fail"}[2m])) * 60',
    );
  });
});

describe('every expression reads only contract metric names', () => {
  const known = new Set<string>([
    ...Object.values(exporterMetricNames()),
    ...Object.values(collectorMetricNames()),
    ...Object.values(NODE_EXPORTER_METRICS),
    ...Object.values(THIRD_PARTY_METRICS),
    ...sloRecordingRules().map((r) => r.record),
  ]);
  for (const n of [...known]) for (const s of ['_bucket', '_count', '_sum']) known.add(`${n}${s}`);
  const promql = new Set(
    'sum avg max min count rate increase deriv min_over_time max_over_time histogram_quantile clamp_min label_replace vector absent time and or unless by on without bool'.split(
      ' ',
    ),
  );
  function metricsOf(expr: string): string[] {
    const stripped = expr
      .replace(/"[^"]*"/g, '""')
      .replace(/\{[^}]*\}/g, '')
      .replace(/\b(by|on|without|ignoring)\s*\([^)]*\)/g, '')
      .replace(/\[[^\]]*\]/g, '')
      .replace(/\boffset\s+[0-9]+[a-z]+/g, '');
    return (stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter(
      (t) => !promql.has(t) && !/^\d/.test(t) && t !== 'e',
    );
  }
  const rules = buildRuleGroups(resolveCatalogue()).flatMap((g) => g.groups.flatMap((x) => x.rules));
  test.each(rules.map((r) => [r.alert ?? r.record, r.expr]))('%s', (_name, expr) => {
    const unknown = metricsOf(expr!).filter((m) => !known.has(m));
    expect(unknown).toEqual([]);
  });

  test('the extractor does see an unknown name (the check can fail)', () => {
    expect(
      metricsOf('rate(telehealth_typo_total[5m]) / on (job) telehealth_events_total offset 10m'),
    ).toEqual(['telehealth_typo_total', 'telehealth_events_total']);
  });
});

describe('catalogue validation', () => {
  const good = CATALOGUE.find((a) => a.id === 'HighErrorRate')!;
  const watchdog = CATALOGUE.find((a) => a.id === 'Watchdog')!;
  const check = (patch: Partial<AlertDefinition>) => () =>
    validateCatalogue([{ ...good, ...patch }, watchdog]);

  test('accepts the catalogue and every summary fits PagerDuty once filled', () => {
    expect(() => validateCatalogue(CATALOGUE)).not.toThrow();
    for (const a of resolveCatalogue()) expect(a.annotations.summary!.length).toBeLessThanOrEqual(1024);
  });
  test.each([
    [{ name: 'high_error_rate' }, 'CamelCase'],
    [{ for: '5 minutes' }, 'duration'],
    [{ severity: 'page' as 'critical' }, 'severity'],
    [{ summary: 'x'.repeat(901) }, 'summary'],
    [{ summary: '{{ $value | humanize }}' }, 'not supported'],
    [{ labels: { severity: 'info' } }, 'labels may not set'],
    [{ test: undefined }, 'needs a generated test fixture'],
    [{ expr: 'a and b' }, 'parentheses'],
    // HighErrorRate's `for:` is 5m: its pending time is written [[for]], which overrides change.
    [{ description: 'Errors above [[threshold]] for 5 minutes.' }, 'write "for [[for]]"'],
  ])('rejects %j', (patch, message) => {
    expect(check(patch as Partial<AlertDefinition>)).toThrow(message);
  });
  test('rejects duplicates and a catalogue without the Watchdog', () => {
    expect(() => validateCatalogue([good, good, watchdog])).toThrow('duplicate id');
    expect(() => validateCatalogue([good])).toThrow('Watchdog');
  });
  test('every hand-written test named by the catalogue exists and covers its alert', () => {
    for (const a of CATALOGUE.filter((x) => x.handWrittenTest)) {
      const path = join(ROOT, a.handWrittenTest!);
      expect(existsSync(path)).toBe(true);
      expect(readFileSync(path, 'utf8')).toContain(a.name);
    }
  });
});

describe('minimum-traffic guards', () => {
  const GUARD = /and on \(job\) sum by \(job\) \(rate\([^)]*\)\) \* 60 >= ([0-9.]+)\)$/;
  test('an alert with a guard has generated cases around it, at the number its expression compares', () => {
    const guarded: string[] = [];
    for (const a of CATALOGUE.filter((x) => x.test)) {
      const match = GUARD.exec(a.expr);
      const t = a.test as ThresholdTestCases;
      expect({ id: a.id, perMinute: t.minTraffic?.perMinute }).toEqual({
        id: a.id,
        perMinute: match ? Number(match[1]) : undefined,
      });
      if (match) guarded.push(a.id);
    }
    expect(guarded).toEqual(['HighErrorRate', 'HighLatencyP95']);
  });
});

describe('template expansion used by the generated tests', () => {
  test('Go %.4g as humanizePercentage prints it', () => {
    expect(goG4(5.1)).toBe('5.1');
    expect(goG4(84)).toBe('84');
    expect(goG4(0.0001234)).toBe('0.0001234');
    expect(goG4(12345.6)).toBe('1.235e+04');
    expect(goG4(100)).toBe('100');
    expect(goG4(1.02)).toBe('1.02');
  });
  test('labels, percentages and printf', () => {
    expect(
      expandTemplate(
        '{{ $labels.job }}: {{ $value | humanizePercentage }} / {{ printf "%.1f" $value }}',
        { job: 'api' },
        0.0625,
      ),
    ).toBe('api: 6.25% / 0.1');
    expect(() => expandTemplate('{{ $value | humanize }}', {}, 1)).toThrow('unsupported');
  });
});

describe('per-environment overrides', () => {
  const staging = environments().find((e) => e.name === 'staging')!;
  test('the staging example changes thresholds, for and labels without touching production', () => {
    const alerts = resolveCatalogue({ overrides: staging.overrides });
    const cpu = alerts.find((a) => a.id === 'ServiceCpuHigh')!;
    expect(cpu.threshold!.value).toBe(0.9);
    expect(cpu.for).toBe('30m');
    expect(cpu.expr.endsWith('> 0.9')).toBe(true);
    expect(cpu.annotations.summary).toContain('(threshold 90%)');
    // The texts say the environment's `for:`, not production's.
    expect(cpu.annotations.description).toContain('for 30 minutes.');
    const logins = alerts.find((a) => a.id === 'FailedLoginsHigh')!;
    expect(logins.annotations.description).toContain('above 30/min for 5 minutes,');
    expect(logins.definition.runbook.meaning).toContain('for 5 minutes.');
    expect(resolveCatalogue().find((a) => a.id === 'FailedLoginsHigh')!.annotations.description).toContain(
      'for 2 minutes,',
    );
    for (const a of [...alerts, ...resolveCatalogue()]) {
      expect(JSON.stringify([a.annotations, a.definition.runbook.meaning])).not.toContain('[[');
    }
    expect(alerts.every((a) => a.labels.environment === 'staging')).toBe(true);
    expect(alerts.find((a) => a.id === 'HighErrorRate')!.labels).toMatchObject({
      team: 'platform',
      severity: 'critical',
    });
    expect(resolveCatalogue().find((a) => a.id === 'ServiceCpuHigh')!.threshold!.value).toBe(0.8);
  });
  test('a rule-id override beats the alert-name one', () => {
    const o = validateOverrides(
      {
        environment: 'x',
        alerts: {
          AvailabilityErrorBudgetBurn: { for: '5m' },
          AvailabilityErrorBudgetBurn_1h_5m: { for: '1m', threshold: 20 },
        },
      },
      CATALOGUE,
    );
    const alerts = resolveCatalogue({ overrides: o }).filter((a) => a.name === 'AvailabilityErrorBudgetBurn');
    expect(alerts.map((a) => a.for)).toEqual(['1m', '5m', '5m', '5m']);
    expect(alerts[0]!.expr).toContain('> 0.02 and');
  });
  test.each([
    [{ environment: 'x', alerts: { NoSuchAlert: { for: '5m' } } }, 'alerts.NoSuchAlert: no alert'],
    [{ environment: 'x', alerts: { HighErrorRate: { for: 'soon' } } }, 'alerts.HighErrorRate.for'],
    [{ environment: 'x', alerts: { HighErrorRate: { severity: 'info' } } }, 'severity'],
    [{ environment: 'x', labels: { severity: 'info' } }, 'may not set'],
    [{ environment: 'x', alerts: { TargetDown: { threshold: 1 } } }, 'has no threshold'],
    [{ environment: 'Prod!' }, 'environment'],
  ])('rejects %j', (input, message) => {
    expect(() => validateOverrides(input, CATALOGUE, 'f.yml')).toThrow(message);
  });
  test('environments are named (alerts/overrides/<env>.yml) or given as a path; production has none', () => {
    expect(loadEnvironmentOverrides('staging')!.environment).toBe('staging');
    expect(loadEnvironmentOverrides(join(ROOT, 'alerts', 'overrides', 'staging.yml'))!.labels).toEqual({
      environment: 'staging',
    });
    expect(loadEnvironmentOverrides('production')).toBeUndefined();
    expect(() => loadEnvironmentOverrides('qa')).toThrow(/overrides\/qa\.yml/);
  });
  test('a missing file is a clear error', () => {
    expect(() => loadOverridesFile('/nonexistent/overrides.yml', CATALOGUE)).toThrow(
      'Cannot read alert overrides /nonexistent/overrides.yml',
    );
  });
});

describe('configuration builders', () => {
  test('Alertmanager: severities to receivers, inhibition on service+family, keys from files, test URL', () => {
    const cfg = buildAlertmanagerConfig(resolveCatalogue(), {
      pagerDutyUrl: 'https://127.0.0.1:1/v2/enqueue',
      pagerDutyTls: { insecureSkipVerify: true },
    }) as {
      route: { group_by: string[]; routes: Array<{ receiver: string; matchers: string[] }> };
      inhibit_rules: Array<{ equal: string[] }>;
      receivers: Array<{ name: string; pagerduty_configs?: Array<Record<string, unknown>> }>;
    };
    expect(cfg.route.group_by).toEqual(['alertname', 'service']);
    expect(cfg.route.routes[0]).toMatchObject({ receiver: 'deadman', matchers: ['alertname="Watchdog"'] });
    expect(cfg.inhibit_rules[0]!.equal).toEqual(['service', 'family']);
    const pd = cfg.receivers.filter((r) => r.pagerduty_configs);
    expect(pd.map((r) => r.pagerduty_configs![0]!.routing_key_file)).toEqual([
      '/etc/alertmanager/secrets/pagerduty-high-urgency.key',
      '/etc/alertmanager/secrets/pagerduty-low-urgency.key',
    ]);
    expect(pd.every((r) => r.pagerduty_configs![0]!.url === 'https://127.0.0.1:1/v2/enqueue')).toBe(true);
    expect(pd[0]!.pagerduty_configs![0]!.http_config).toEqual({ tls_config: { insecure_skip_verify: true } });
    expect(cfg.receivers.find((r) => r.name === 'null')).toEqual({ name: 'null' });
  });
  test('Prometheus: every job limited, our /metrics with bearer auth, jobs without targets left out', () => {
    const cfg = buildPrometheusConfig({ targets: { deadman: [] }, scrapeInterval: '1s' }) as {
      global: { scrape_interval: string };
      scrape_configs: Array<Record<string, unknown>>;
    };
    expect(cfg.global.scrape_interval).toBe('1s');
    expect(cfg.scrape_configs.map((s) => s.job_name)).toEqual([
      'telehealth-api',
      'telehealth-collector',
      'node',
      'alertmanager',
      'prometheus',
    ]);
    for (const s of cfg.scrape_configs) {
      expect(s).toMatchObject({
        sample_limit: expect.any(Number),
        label_limit: 30,
        label_value_length_limit: 512,
        body_size_limit: '16MB',
      });
    }
    const authed = cfg.scrape_configs.filter((s) => s.authorization).map((s) => s.job_name);
    expect(authed).toEqual(['telehealth-api', 'telehealth-collector']);
  });
});

describe('generated files', () => {
  const files = generatedFiles();
  test('each begins with the do-not-edit header and is on disk as generated (drift check)', () => {
    for (const f of files) {
      expect(f.content.slice(0, 200)).toContain('GENERATED FILE - DO NOT EDIT.');
      const onDisk = existsSync(join(ROOT, f.path)) ? readFileSync(join(ROOT, f.path), 'utf8') : undefined;
      expect({ path: f.path, same: onDisk === f.content }).toEqual({ path: f.path, same: true });
    }
  });
  test('rules, tests, runbooks, thresholds and both configs are among them', () => {
    const paths = files.map((f) => f.path);
    for (const p of [
      'prometheus/rules/platform.yml',
      'prometheus/rules/slo.yml',
      'prometheus/tests/generated/platform.test.yml',
      'prometheus/prometheus.yml',
      'prometheus/alertmanager.yml',
      'alerts/thresholds.ts',
      'alerts/runbooks/HighErrorRate.md',
      'prometheus/environments/staging/rules/platform.yml',
    ]) {
      expect(paths).toContain(p);
    }
    const names = new Set(CATALOGUE.map((a) => a.name));
    for (const n of names) expect(paths).toContain(`alerts/runbooks/${n}.md`);
  });
  test("a runbook holds meaning, impact, the guide's steps and PromQL", () => {
    const rb = files.find((f) => f.path === 'alerts/runbooks/PhiAccessDeniedHigh.md')!.content;
    for (const s of [
      '## Meaning',
      '## Impact',
      '## Steps',
      '## Investigate',
      'IMMEDIATE',
      'HIPAA',
      '```promql',
    ])
      expect(rb).toContain(s);
    expect(rb).not.toMatch(/eonpro/i);
  });
});
