/**
 * The shape of one catalogue entry and the validation pass every entry goes through before anything
 * is generated from it. Validation is strict on purpose: a bad entry must fail `npm run generate`,
 * not produce a rule Prometheus rejects at 3 a.m.
 */
import { z } from 'zod';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const COMPARISONS = ['>', '>=', '<', '<=', '=='] as const;
export type Comparison = (typeof COMPARISONS)[number];

/** Units of a threshold, with the Grafana unit the dashboards draw it in. */
export const UNITS = {
  ratio: 'percentunit',
  seconds: 's',
  perMinute: 'short',
  bytes: 'bytes',
  count: 'short',
  boolean: 'bool',
  burnRate: 'short',
  perSecond: 'reqps',
  bytesPerSecond: 'Bps',
} as const;
export type Unit = keyof typeof UNITS;

export const DASHBOARD_UIDS = {
  appOverview: 'telehealth-app-overview',
  infrastructure: 'telehealth-infrastructure',
  security: 'telehealth-security',
  business: 'telehealth-business',
} as const;
export type DashboardKey = keyof typeof DASHBOARD_UIDS;

/** Rule files under prometheus/rules/: one per group. */
export const RULE_GROUPS = ['platform', 'slo', 'availability', 'collector', 'alerting'] as const;
export type RuleGroup = (typeof RULE_GROUPS)[number];

/** Prometheus duration, restricted to the forms we use (`30s`, `5m`, `1h`, `3d`). */
export const DURATION = /^(0|0m|[1-9][0-9]*(ms|s|m|h|d|w))$/;
export const ALERT_NAME = /^[A-Z][a-z0-9]+([A-Z][a-z0-9]*)*$/;
const LABEL_NAME = /^[a-z_][a-z0-9_]*$/;
/** Template expressions the annotation templates may use: the generated tests expand exactly these. */
export const TEMPLATE_EXPRESSIONS = [
  /^\$labels\.[a-z_][a-z0-9_]*$/,
  /^\$value \| humanizePercentage$/,
  /^printf "%\.[0-9]f" \$value$/,
] as const;
/** Labels no override or entry may set: Prometheus and the routing own them. */
export const RESERVED_LABELS = ['alertname', 'severity', 'family', 'service', '__name__'] as const;

/** Input of one generated promtool test: counters and gauges that make `expr` evaluate to `value`. */
export interface Fixture {
  /** promtool input_series (series selector + values notation); series must not contain spaces. */
  readonly series: ReadonlyArray<{ readonly series: string; readonly values: string }>;
  /** The labels the alert's expression outputs for these series (before the static labels). */
  readonly outputLabels: Readonly<Record<string, string>>;
}

export interface ThresholdTest {
  /** Builds input series (one sample a minute) whose expression value is `value` at every step. */
  fixture(value: number): Fixture;
  /** Input with no traffic at all (zero-initialised counters): the alert must stay silent. */
  idle(): Fixture;
  /** The value the expression takes for `fixture(value)`: exact, or the nearest value the data allows. */
  justBelow(threshold: number): number;
  justAbove(threshold: number): number;
}

export interface Threshold {
  readonly value: number;
  readonly comparison: Comparison;
  readonly unit: Unit;
  /** Why this number: reviewers read it, the runbook prints it. */
  readonly why: string;
}

export interface Runbook {
  /** What the alert means, one paragraph. */
  readonly meaning: string;
  /** Who or what is hurt while it fires. */
  readonly impact: string;
  /** Numbered steps, adapted from the infrastructure guide's operational runbooks. */
  readonly steps: readonly string[];
  /** PromQL to investigate, each with what it shows. */
  readonly investigate: ReadonlyArray<{ readonly title: string; readonly query: string }>;
}

export interface AlertDefinition {
  /** Unique key of the rule: the alert name, or name plus variant for multi-window rules. */
  readonly id: string;
  readonly name: string;
  readonly severity: Severity;
  /** Alerts of one family and service: a critical one inhibits the warnings. */
  readonly family: string;
  /** The `service` label: a job name, or `{{ $labels.job }}` when the expression keeps `job`. */
  readonly service: string;
  readonly group: RuleGroup;
  /**
   * With a threshold: the value expression that is compared (dashboards draw it). Without: the full
   * alert expression.
   */
  readonly expr: string;
  readonly threshold?: Threshold;
  /**
   * The alert expression when it is not simply `(expr) <comparison> <threshold>` (multi-window SLO
   * rules compare two windows); receives the possibly overridden threshold.
   */
  readonly alertExpr?: (threshold: number) => string;
  readonly for: string;
  readonly keepFiringFor?: string;
  /** Extra static labels (e.g. the SLO window); never the reserved ones. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly summary: string;
  readonly description: string;
  readonly runbook: Runbook;
  readonly dashboard: DashboardKey;
  /** Threshold alerts without a generated test must say why (hand-written test instead). */
  readonly test?: ThresholdTest;
  readonly handWrittenTest?: string;
}

const durationSchema = z.string().regex(DURATION, 'a Prometheus duration such as 30s, 5m, 1h');

/** A `for:` as the texts say it: `2m` is "2 minutes", `1h` "1 hour" (what `[[for]]` becomes). */
export function humanDuration(duration: string): string {
  const m = /^(\d+)(s|m|h|d)$/.exec(duration);
  if (!m) return duration;
  const n = Number(m[1]);
  const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[m[2] as 's' | 'm' | 'h' | 'd'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

const templateSchema = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((text, ctx) => {
      for (const match of text.matchAll(/\{\{\s*(.*?)\s*\}\}/g)) {
        const inner = match[1] ?? '';
        if (!TEMPLATE_EXPRESSIONS.some((re) => re.test(inner))) {
          ctx.addIssue({ code: 'custom', message: `template expression {{ ${inner} }} is not supported` });
        }
      }
    });

const entrySchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_]+$/),
    name: z.string().regex(ALERT_NAME, 'CamelCase alert name'),
    severity: z.enum(SEVERITIES),
    family: z.string().regex(/^[a-z][a-z0-9-]*$/),
    service: z.string().min(1),
    group: z.enum(RULE_GROUPS),
    expr: z.string().min(1),
    threshold: z
      .object({
        value: z.number().finite(),
        comparison: z.enum(COMPARISONS),
        unit: z.enum(Object.keys(UNITS) as [Unit, ...Unit[]]),
        why: z.string().min(10),
      })
      .optional(),
    alertExpr: z.function().optional(),
    for: durationSchema,
    keepFiringFor: durationSchema.optional(),
    labels: z
      .record(z.string().regex(LABEL_NAME), z.string())
      .refine((l) => !Object.keys(l).some((k) => (RESERVED_LABELS as readonly string[]).includes(k)), {
        message: `labels may not set ${RESERVED_LABELS.join(', ')}`,
      })
      .optional(),
    // PagerDuty truncates at 1024; the rendered summary must fit, so the template leaves room.
    summary: templateSchema(900),
    description: templateSchema(4000),
    runbook: z.object({
      meaning: z.string().min(20),
      impact: z.string().min(10),
      steps: z.array(z.string().min(5)).min(2),
      investigate: z.array(z.object({ title: z.string().min(3), query: z.string().min(3) })).min(1),
    }),
    dashboard: z.enum(Object.keys(DASHBOARD_UIDS) as [DashboardKey, ...DashboardKey[]]),
    test: z.any().optional(),
    handWrittenTest: z.string().optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.service !== '{{ $labels.job }}' && !/^[a-z][a-z0-9-]*$/.test(entry.service)) {
      ctx.addIssue({ code: 'custom', path: ['service'], message: 'a job name or {{ $labels.job }}' });
    }
    if (entry.threshold && !entry.test && !entry.handWrittenTest) {
      ctx.addIssue({
        code: 'custom',
        path: ['test'],
        message: 'a threshold alert needs a generated test fixture or a named hand-written test',
      });
    }
    // An environment's override changes `for:`, so the texts say it through [[for]], never literally
    // (staging once read "for 2 minutes" over a `for: 5m`).
    const literalFor = `for ${humanDuration(entry.for)}`;
    for (const [path, text] of [
      [['summary'], entry.summary],
      [['description'], entry.description],
      [['runbook', 'meaning'], entry.runbook.meaning],
    ] as const) {
      if (entry.for !== '0m' && text.includes(literalFor)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path],
          message: `write "for [[for]]", not "${literalFor}"`,
        });
      }
    }
    if (/\s(and|or|unless)\s/.test(entry.expr) && entry.threshold && !entry.expr.startsWith('(')) {
      ctx.addIssue({ code: 'custom', path: ['expr'], message: 'wrap a set expression in parentheses' });
    }
  });

/** Validates every entry and the catalogue as a whole; throws one error listing every problem. */
export function validateCatalogue(entries: readonly AlertDefinition[]): readonly AlertDefinition[] {
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    const result = entrySchema.safeParse(entry);
    if (!result.success) {
      for (const issue of result.error.issues) {
        problems.push(`${entry.id ?? `#${index}`}.${issue.path.join('.')}: ${issue.message}`);
      }
    }
  });
  const ids = new Set<string>();
  for (const entry of entries) {
    if (ids.has(entry.id)) problems.push(`${entry.id}: duplicate id`);
    ids.add(entry.id);
  }
  // One alert name = one family and one runbook, whatever its variants.
  const byName = new Map<string, AlertDefinition>();
  for (const entry of entries) {
    const first = byName.get(entry.name);
    if (first && (first.family !== entry.family || first.group !== entry.group)) {
      problems.push(`${entry.id}: variants of ${entry.name} must share family and group`);
    }
    if (!first) byName.set(entry.name, entry);
  }
  if (!entries.some((e) => e.name === 'Watchdog')) problems.push('the catalogue needs the Watchdog alert');
  if (problems.length > 0) throw new Error(`Invalid alert catalogue:\n  ${problems.join('\n  ')}`);
  return entries;
}
