/**
 * Generated promtool unit tests, four per threshold alert: just inside the threshold (silent), just past
 * it (silent before `for`, pending for exactly `for`, then firing with its exact labels and annotations),
 * recovery (resolves, after keep_firing_for when set) and no traffic (silent). A fixture may add more
 * (`ThresholdTestCases`): an alert with a minimum-traffic guard gets "just under the minimum, past the
 * threshold: silent" and "just over it: fires"; named silent inputs (4xx, a brief spike) must never
 * make the alert even pending.
 */
import { stringify } from 'yaml';
import type { Fixture } from './catalogue-schema';
import { durationMinutes } from './expressions';
import {
  num,
  phasedValues,
  repeatPhases,
  type PhasedFixture,
  type Phase,
  type ThresholdTestCases,
} from './fixtures';
import { yamlHeader } from './generated-header';
import type { ResolvedAlert } from './resolve';
import type { RuleGroupFile } from './render-rules';

/** Go's %.4g, as Prometheus' humanizePercentage prints. */
export function goG4(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(4)))));
  if (exp < -4 || exp >= 4) {
    const [m, e] = x.toExponential(3).split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = x.toPrecision(4);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** Expands the template subset the catalogue schema allows, as Prometheus would for this sample. */
export function expandTemplate(
  text: string,
  labels: Readonly<Record<string, string>>,
  value: number,
): string {
  return text.replace(/\{\{\s*(.*?)\s*\}\}/g, (_m, inner: string) => {
    const label = /^\$labels\.([a-z_][a-z0-9_]*)$/.exec(inner);
    if (label) return labels[label[1]!] ?? '';
    if (inner === '$value | humanizePercentage') return `${goG4(value * 100)}%`;
    const printf = /^printf "%\.([0-9])f" \$value$/.exec(inner);
    if (printf) return value.toFixed(Number(printf[1]));
    throw new Error(`unsupported template {{ ${inner} }}`);
  });
}

function maxRangeMinutes(expr: string): number {
  let max = 0;
  for (const m of expr.matchAll(/\[([0-9]+[smhd])\]/g)) max = Math.max(max, durationMinutes(m[1]!));
  return Math.ceil(max);
}

/** Minutes of input of the cases that run on one input throughout. */
const HOUR = 60;
/** Below / above a minimum-traffic guard: 10 % either side. */
const UNDER_MIN_TRAFFIC = 0.9;
const OVER_MIN_TRAFFIC = 1.1;

function inputSeries(phases: readonly Phase[]): Array<{ series: string; values: string }> {
  const first = phases[0]!.fixture as PhasedFixture;
  for (const p of phases) {
    const specs = (p.fixture as PhasedFixture).specs;
    if (specs.length !== first.specs.length || specs.some((s, i) => s.series !== first.specs[i]!.series)) {
      throw new Error(`the phases of one input must have the same series (${first.specs[0]?.series})`);
    }
  }
  return first.specs.map((spec, i) => ({
    series: spec.series,
    values: phasedValues(
      phases.map((p) => ({ step: (p.fixture as PhasedFixture).specs[i]!.step, minutes: p.minutes })),
      spec.kind,
    ),
  }));
}

function seriesText(metric: string, labels: Record<string, string>): string {
  const inner = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(', ');
  return `${metric}{${inner}}`;
}

interface PromtoolTest {
  promql_expr_test?: Array<{
    expr: string;
    eval_time: string;
    exp_samples: Array<{ labels: string; value: number }>;
  }>;
  name?: string;
  interval: string;
  input_series: Array<{ series: string; values: string }>;
  alert_rule_test: Array<{
    eval_time: string;
    alertname: string;
    exp_alerts: Array<{ exp_labels: Record<string, string>; exp_annotations: Record<string, string> }>;
  }>;
}

function expected(alert: ResolvedAlert, fx: Fixture, value: number) {
  const out = fx.outputLabels;
  const labels: Record<string, string> = { ...out, alertname: alert.name };
  for (const [k, v] of Object.entries(alert.labels)) labels[k] = expandTemplate(v, out, value);
  const annotations: Record<string, string> = { runbook_url: alert.runbookUrl };
  for (const [k, v] of Object.entries(alert.annotations)) annotations[k] = expandTemplate(v, out, value);
  delete labels.alertname;
  return { exp_labels: labels, exp_annotations: annotations };
}

/** An alert_rule_test entry per minute in `minutes`: the alert is not firing there. */
function silentAt(name: string, minutes: readonly number[]) {
  return minutes.map((m) => ({ eval_time: `${m}m`, alertname: name, exp_alerts: [] }));
}

/** The generated tests of one threshold alert (none when it has no generated fixture). */
export function testsFor(alert: ResolvedAlert): PromtoolTest[] {
  const t = alert.definition.test as ThresholdTestCases | undefined;
  if (!t || !alert.threshold) return [];
  const th = alert.threshold.value;
  const safeValue = t.justBelow(th);
  const breachValue = t.justAbove(th);
  const idle = t.idle();
  const safe = t.fixture(safeValue);
  const breach = t.fixture(breachValue);
  const w = Math.max(1, maxRangeMinutes(alert.expr));
  const f = durationMinutes(alert.for);
  const k = alert.keepFiringFor ? durationMinutes(alert.keepFiringFor) : 0;
  const start = 10;
  const firingAt = start + w + f + 2;
  const recoverAt = firingAt;
  const resolvedAt = recoverAt + w + k + 3;
  const firing = [expected(alert, breach, breachValue)];
  const at = (m: number) => `${m}m`;
  const name = alert.name;
  // Evaluations (one a minute) the alert spends pending between the breach's start and firingAt:
  // exactly `for`, wherever in the ramp-up of its window the expression became true, so a longer
  // or a shorter `for` fails. (Counted from the breach on: a counter that starts at 0 can make a rate
  // expression true for a moment in the idle phase's first minutes.)
  const pendingEvaluations = Math.ceil(f);
  const tests: PromtoolTest[] = [
    {
      name: `${alert.id}: just inside the threshold (${num(safeValue)}) stays silent`,
      interval: '1m',
      input_series: inputSeries([{ fixture: safe, minutes: HOUR }]),
      alert_rule_test: silentAt(name, [15, 30, 60]),
    },
    {
      name: `${alert.id}: just past the threshold (${num(breachValue)}) ${f > 0 ? `is pending for exactly for=${alert.for}, then fires` : `fires without pending (for=${alert.for})`}`,
      interval: '1m',
      input_series: inputSeries([
        { fixture: idle, minutes: start },
        { fixture: breach, minutes: firingAt + 10 - start },
      ]),
      alert_rule_test: [
        ...(f >= 1 ? silentAt(name, [start + f - 1]) : []),
        { eval_time: at(firingAt), alertname: name, exp_alerts: firing },
        { eval_time: at(firingAt + 10), alertname: name, exp_alerts: firing },
      ],
      promql_expr_test: [
        {
          expr: `count_over_time(ALERTS{alertname="${name}",alertstate="pending"}[${firingAt - start}m])`,
          eval_time: at(firingAt),
          exp_samples:
            pendingEvaluations >= 1
              ? [
                  {
                    labels: seriesText('', {
                      ...firing[0]!.exp_labels,
                      alertname: name,
                      alertstate: 'pending',
                    }),
                    value: pendingEvaluations,
                  },
                ]
              : [],
        },
      ],
    },
    {
      name: `${alert.id}: back inside the threshold, it resolves${k ? ` after keep_firing_for=${alert.keepFiringFor}` : ''}`,
      interval: '1m',
      input_series: inputSeries([
        { fixture: idle, minutes: start },
        { fixture: breach, minutes: recoverAt - start },
        { fixture: safe, minutes: resolvedAt + 5 - recoverAt },
      ]),
      alert_rule_test: [
        { eval_time: at(recoverAt), alertname: name, exp_alerts: firing },
        { eval_time: at(resolvedAt), alertname: name, exp_alerts: [] },
      ],
      // Still firing within keep_firing_for after the value went back (annotations then carry the
      // last value, so this reads the ALERTS series instead).
      ...(k >= 1
        ? {
            promql_expr_test: [
              {
                expr: `ALERTS{alertname="${name}",alertstate="firing"}`,
                eval_time: at(recoverAt + k),
                exp_samples: [
                  {
                    labels: seriesText('ALERTS', {
                      ...firing[0]!.exp_labels,
                      alertname: name,
                      alertstate: 'firing',
                    }),
                    value: 1,
                  },
                ],
              },
            ],
          }
        : {}),
    },
    {
      name: `${alert.id}: no traffic stays silent`,
      interval: '1m',
      input_series: inputSeries([{ fixture: idle, minutes: HOUR }]),
      alert_rule_test: silentAt(name, [15, 30, 60]),
    },
  ];
  // Never pending nor firing over the whole input: what a silent case asserts beyond the checkpoints.
  const neverActive = {
    expr: `count_over_time(ALERTS{alertname="${name}"}[${HOUR}m])`,
    eval_time: at(HOUR),
    exp_samples: [],
  };
  const mt = t.minTraffic;
  if (mt) {
    const under = mt.perMinute * UNDER_MIN_TRAFFIC;
    const over = mt.perMinute * OVER_MIN_TRAFFIC;
    const busy = mt.fixture(breachValue, over);
    tests.push(
      {
        name: `${alert.id}: under the minimum traffic (${num(under)} requests/min, guard ${num(mt.perMinute)}), past the threshold (${num(breachValue)}), stays silent`,
        interval: '1m',
        input_series: inputSeries([{ fixture: mt.fixture(breachValue, under), minutes: HOUR }]),
        alert_rule_test: silentAt(name, [15, 30, 60]),
        promql_expr_test: [neverActive],
      },
      {
        name: `${alert.id}: just over the minimum traffic (${num(over)} requests/min), past the threshold (${num(breachValue)}), fires`,
        interval: '1m',
        input_series: inputSeries([{ fixture: busy, minutes: HOUR }]),
        alert_rule_test: [w + f + 2, HOUR].map((m) => ({
          eval_time: at(m),
          alertname: name,
          exp_alerts: [expected(alert, busy, breachValue)],
        })),
      },
    );
  }
  for (const c of t.silent?.(th) ?? []) {
    tests.push({
      name: `${alert.id}: ${c.name}`,
      interval: '1m',
      input_series: inputSeries(repeatPhases(c.phases, HOUR)),
      alert_rule_test: silentAt(name, [15, 30, 45, 60]),
      promql_expr_test: [neverActive],
    });
  }
  return tests;
}

/** One test file per rule group that has threshold alerts, reading that group's rule file. */
export function renderTestFiles(
  alerts: readonly ResolvedAlert[],
  ruleFiles: readonly RuleGroupFile[],
  ruleDirFromTests: string,
): Array<{ fileName: string; content: string }> {
  const out: Array<{ fileName: string; content: string }> = [];
  for (const file of ruleFiles) {
    const tests = alerts.filter((a) => a.group === file.group).flatMap(testsFor);
    if (tests.length === 0) continue;
    const doc = {
      rule_files: [`${ruleDirFromTests}/${file.fileName}`],
      evaluation_interval: '1m',
      tests,
    };
    out.push({
      fileName: `${file.group}.test.yml`,
      content: yamlHeader() + stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false }),
    });
  }
  return out;
}
