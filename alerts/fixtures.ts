/**
 * Input-series builders for the generated promtool tests: each returns series whose alert expression
 * evaluates to exactly the requested value, one sample a minute. Counters are described by their
 * increase per minute, gauges by their value, so a test can chain phases (idle -> breach -> recovery).
 */
import type { Fixture } from './catalogue-schema';

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
