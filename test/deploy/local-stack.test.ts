/**
 * The local stack's configuration (deploy/local-stack): the rule profile changes only durations, and
 * the rendered prometheus.yml and alertmanager.yml are accepted by promtool and amtool themselves.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderRules } from '../../alerts';
import { BINARIES, FAST_PROFILE, parseDuration, rewriteRuleDurations } from '../../deploy/local-stack';
import { writeStackFiles } from '../../deploy/local-stack/stack-config';

type Rules = { groups: Array<{ name: string; interval?: string; rules: Array<Record<string, string>> }> };

describe('parseDuration', () => {
  it('reads Prometheus durations, compound ones included', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('2w')).toBe(1209600);
  });

  it('refuses what is not a duration', () => {
    for (const bad of ['', 'five', '5', '5m ', '1x', 'm5'])
      expect(() => parseDuration(bad)).toThrow(/not a Prometheus duration/);
  });
});

describe('rewriteRuleDurations', () => {
  const shipped = renderRules();
  const profile = { maxFor: '5s', maxKeepFiringFor: '3s' };

  it('caps for and keep_firing_for, and changes nothing else in any rule', () => {
    for (const file of shipped) {
      const before = parse(file.content) as Rules;
      const after = parse(rewriteRuleDurations(file.content, profile, file.fileName)) as Rules;
      expect(after.groups.map((g) => g.name)).toEqual(before.groups.map((g) => g.name));
      before.groups.forEach((g, i) => {
        const rules = after.groups[i]?.rules ?? [];
        expect(rules).toHaveLength(g.rules.length);
        g.rules.forEach((rule, j) => {
          const { for: f, keep_firing_for: k, ...rest } = rule;
          const { for: f2, keep_firing_for: k2, ...rest2 } = rules[j] ?? {};
          expect(rest2).toEqual(rest);
          if (f !== undefined) expect(parseDuration(f2 ?? '')).toBe(Math.min(parseDuration(f), 5));
          if (k !== undefined) expect(parseDuration(k2 ?? '')).toBe(Math.min(parseDuration(k), 3));
        });
      });
    }
  });

  it('refuses a file without rule groups or with a rule without expr', () => {
    expect(() => rewriteRuleDurations('foo: 1\n', profile)).toThrow(/no rule groups/);
    expect(() =>
      rewriteRuleDurations('groups:\n  - name: g\n    rules:\n      - alert: A\n', profile),
    ).toThrow(/without expr/);
  });
});

(existsSync(BINARIES.promtool) && existsSync(BINARIES.amtool) ? describe : describe.skip)(
  'the rendered local-stack configuration',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-stack-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const files = writeStackFiles({
      dir,
      profile: FAST_PROFILE,
      targets: {
        api: ['127.0.0.1:19464'],
        extraApiJobs: { 'telehealth-api-errors': ['127.0.0.1:19465'] },
        deadman: ['127.0.0.1:19466'],
      },
      metricsToken: 'a-token',
      pagerDuty: { url: 'https://127.0.0.1:18443/v2/enqueue' },
      deadmanWebhookUrl: 'http://127.0.0.1:19095/watchdog',
      deadmanToken: 'a-token',
    });
    const ports = { prometheus: 19090, alertmanager: 19093, nodeExporter: 19100 };

    it('prometheus.yml passes promtool check config (rules included) and scrapes the extra job like the shipped one', () => {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, files.prometheusYml(ports));
      const out = execFileSync(BINARIES.promtool, ['check', 'config', file], { encoding: 'utf8' });
      expect(out).toMatch(/SUCCESS/);
      const config = parse(readFileSync(file, 'utf8')) as { scrape_configs: Array<Record<string, unknown>> };
      const api = config.scrape_configs.find((c) => c.job_name === 'telehealth-api');
      const extra = config.scrape_configs.find((c) => c.job_name === 'telehealth-api-errors');
      expect({ ...extra, job_name: 'x', static_configs: [] }).toEqual({
        ...api,
        job_name: 'x',
        static_configs: [],
      });
      expect(api?.authorization).toEqual({
        type: 'Bearer',
        credentials_file: join(dir, 'secrets', 'metrics.token'),
      });
    });

    it('alertmanager.yml passes amtool check-config and points PagerDuty at the given URL', () => {
      const file = join(dir, 'alertmanager.yml');
      writeFileSync(file, files.alertmanagerYml(ports));
      const out = execFileSync(BINARIES.amtool, ['check-config', file], { encoding: 'utf8' });
      expect(out).toMatch(/SUCCESS/);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('https://127.0.0.1:18443/v2/enqueue');
      expect(text).not.toContain('events.pagerduty.com');
      expect(readFileSync(join(dir, 'secrets', 'pagerduty-high-urgency.key'), 'utf8')).toHaveLength(32);
    });
  },
);
