/**
 * Input-series builders for the generated promtool tests: each returns series whose alert expression
 * evaluates to exactly the requested value, one sample a minute. Counters are described by their
 * increase per minute, gauges by their value, so a test can chain phases (idle -> breach -> recovery).
 */
import type { Fixture, ThresholdTest } from './catalogue-schema';

export interface SeriesSpec {
  /** Full series selector, e.g. `metric{job="x"}`. */
  readonly series: string;
  readonly kind: 'counter' | 'gauge';
  /** Counter: increase per minute. Gauge: value. */
  readonly step: number;
}

export interface PhasedFixture extends Fixture {
  readonly specs: readonly SeriesSpec[];
}

export function selector(metric: string, labels: Readonly<Record<string, string>>): string {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${metric}{${inner}}`;
}

export function fixture(specs: readonly SeriesSpec[], outputLabels: Record<string, string>): PhasedFixture {
  return { specs, outputLabels, series: specs.map((s) => ({ series: s.series, values: '' })) };
}

/** Rounds away binary noise (0.1 * 3) so that the series notation stays readable and exact enough. */
export function num(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/**
 * Promtool values notation for consecutive phases of `minutes` samples each. A counter continues
 * from where the previous phase ended; a gauge takes the phase's value.
 */
export function phasedValues(
  phases: ReadonlyArray<{ readonly step: number; readonly minutes: number }>,
  kind: 'counter' | 'gauge',
): string {
  const parts: string[] = [];
  let current = 0;
  let first = true;
  for (const phase of phases) {
    if (phase.minutes <= 0) continue;
    if (kind === 'gauge') {
      parts.push(`${num(phase.step)}x${first ? phase.minutes : phase.minutes - 1}`);
      first = false;
      continue;
    }
    if (first) {
      // Sample 0 is the counter's starting value; then `minutes` increments.
      parts.push(`${num(current)}+${num(phase.step)}x${phase.minutes}`);
      current += phase.step * phase.minutes;
      first = false;
    } else {
      const start = current + phase.step;
      parts.push(`${num(start)}+${num(phase.step)}x${phase.minutes - 1}`);
      current += phase.step * phase.minutes;
    }
  }
  return parts.join(' ');
}

/**
 * The minimum-traffic guard of an alert (`… and on (job) sum by (job) (rate(<requests>[5m])) * 60 >= N`):
 * below N requests a minute it stays silent whatever its value.
 */
export interface MinTraffic {
  /** N, the requests a minute the guard requires (the number in the expression). */
  readonly perMinute: number;
  /** Input whose value expression is `value` while the job serves `perMinute` requests a minute. */
  fixture(value: number, perMinute: number): Fixture;
}

/** One phase of an input: a fixture of the alert's test held for `minutes` samples. */
export interface Phase {
  readonly fixture: Fixture;
  readonly minutes: number;
}

/** An input that must not page: its phases, in order, repeated to fill the test's hour. */
export interface SilentCase {
  /** Printed after `<rule id>: ` as the promtool test's name. */
  readonly name: string;
  readonly phases: readonly Phase[];
}

/**
 * A threshold test with the cases beyond the four every threshold alert gets. Declared here, not in
 * the catalogue schema, so that a plain ThresholdTest stays valid; the renderer reads these when present.
 */
export interface ThresholdTestCases extends ThresholdTest {
  /** Alerts with a minimum-traffic guard: silent just under it, firing just over it. */
  readonly minTraffic?: MinTraffic;
  /** Inputs that must stay silent, built for the (possibly overridden) threshold. */
  readonly silent?: (threshold: number) => readonly SilentCase[];
}

/** The phases repeated in order until they cover `minutes` (the last one cut short). */
export function repeatPhases(phases: readonly Phase[], minutes: number): Phase[] {
  if (phases.length === 0 || phases.some((p) => p.minutes < 1)) {
    throw new Error('a repeated input needs phases of at least one minute each');
  }
  const out: Phase[] = [];
  let total = 0;
  for (let i = 0; total < minutes; i = (i + 1) % phases.length) {
    const p = phases[i]!;
    const m = Math.min(p.minutes, minutes - total);
    out.push({ fixture: p.fixture, minutes: m });
    total += m;
  }
  return out;
}
