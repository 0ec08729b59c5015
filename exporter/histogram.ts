/** Histogram: cumulative buckets, sum and count per label set, with OpenMetrics exemplars. */
import { errors } from './errors';
import type { ExpositionFormat } from './exposition';
import { escapeLabelValue, formatNumber } from './exposition';
import {
  type LabelValues,
  type MetricContext,
  type MetricDefinition,
  NATIVE_RENDER,
  NativeMetric,
} from './metric-base';

/** OpenMetrics limit on the combined length of an exemplar's label names and values. */
export const EXEMPLAR_MAX_CHARS = 128;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface Exemplar {
  /** `trace_id="…"` ready to print. */
  readonly labelText: string;
  readonly value: number;
  /** Unix time in seconds. */
  readonly timestamp: number;
}

export interface HistogramSeries {
  labelText: string;
  /** Per-bucket (not cumulative) counts; the last slot is the +Inf overflow bucket. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** Latest exemplar per bucket, allocated on the first exemplar. */
  exemplars: Array<Exemplar | undefined> | null;
}

export function newHistogramSeries(labelText: string, bucketCount: number): HistogramSeries {
  return { labelText, counts: new Float64Array(bucketCount + 1), sum: 0, count: 0, exemplars: null };
}

/** Checks a bucket list (sorted, strictly increasing, positive, finite) and returns a frozen copy. */
export function validateBuckets(metric: string, buckets: unknown): readonly number[] {
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new errors.BAD_BUCKETS(metric, 'give a non-empty array of upper bounds');
  }
  if (buckets.length > 64) throw new errors.BAD_BUCKETS(metric, 'more than 64 buckets');
  let previous = 0;
  for (const b of buckets as unknown[]) {
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      throw new errors.BAD_BUCKETS(
        metric,
        `bound ${String(b)} is not a finite number (+Inf is added automatically)`,
      );
    }
    if (b <= 0) throw new errors.BAD_BUCKETS(metric, `bound ${b} is not positive`);
    if (b <= previous) {
      throw new errors.BAD_BUCKETS(
        metric,
        `bound ${b} does not follow ${previous}: bounds must be sorted and distinct`,
      );
    }
    previous = b;
  }
  return Object.freeze([...(buckets as number[])]);
}

/** Builds an exemplar from caller labels, or undefined when they are unusable (never throws: hot path). */
export function makeExemplar(labels: Readonly<Record<string, string>>, value: number): Exemplar | undefined {
  let text = '';
  let chars = 0;
  for (const name in labels) {
    const v = labels[name];
    if (typeof v !== 'string' || !LABEL_NAME.test(name)) return undefined;
    chars += name.length + v.length;
    if (text !== '') text += ',';
    text += `${name}="${escapeLabelValue(v)}"`;
  }
  if (text === '' || chars > EXEMPLAR_MAX_CHARS) return undefined;
  return { labelText: text, value, timestamp: Date.now() / 1000 };
}

/** Records one observation. `bounds` is small (≈13), so a linear scan beats a binary search. */
export function observeInto(
  s: HistogramSeries,
  bounds: readonly number[],
  value: number,
  exemplar: Exemplar | undefined,
): void {
  let i = 0;
  const n = bounds.length;
  while (i < n && value > (bounds[i] as number)) i++;
  s.counts[i] = (s.counts[i] as number) + 1;
  s.sum += value;
  s.count += 1;
  if (exemplar !== undefined) {
    if (s.exemplars === null) s.exemplars = new Array<Exemplar | undefined>(n + 1);
    s.exemplars[i] = exemplar;
  }
}

/** `le="…"` fragments, precomputed once per metric. */
export function leTexts(bounds: readonly number[]): readonly string[] {
  return [...bounds.map((b) => `le="${formatNumber(b)}"`), 'le="+Inf"'];
}

export function renderHistogramSeries(
  name: string,
  s: HistogramSeries,
  les: readonly string[],
  format: ExpositionFormat,
): string {
  const prefix = s.labelText === '' ? `${name}_bucket{` : `${name}_bucket{${s.labelText},`;
  const withExemplars = format === 'openmetrics' && s.exemplars !== null;
  let out = '';
  let cumulative = 0;
  for (let i = 0; i < les.length; i++) {
    cumulative += s.counts[i] as number;
    out += `${prefix}${les[i]}} ${cumulative}`;
    if (withExemplars) {
      const e = (s.exemplars as Array<Exemplar | undefined>)[i];
      if (e !== undefined) out += ` # {${e.labelText}} ${formatNumber(e.value)} ${e.timestamp.toFixed(3)}`;
    }
    out += '\n';
  }
  const labels = s.labelText === '' ? '' : `{${s.labelText}}`;
  out += `${name}_sum${labels} ${formatNumber(s.sum)}\n${name}_count${labels} ${s.count}\n`;
  return out;
}

export interface Histogram<L extends string = never> {
  readonly name: string;
  /** Records `value` (seconds, bytes…); non-finite or negative values are ignored. */
  observe(labels: LabelValues<L>, value: number, exemplar?: Readonly<Record<string, string>>): void;
  observe(value: number): void;
  init(labels?: LabelValues<L>): void;
}

export interface HistogramDefinition<L extends string> extends MetricDefinition<L> {
  buckets: readonly number[];
}

export class HistogramMetric extends NativeMetric<HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];
  private readonly les: readonly string[];

  constructor(ctx: MetricContext, def: HistogramDefinition<string>) {
    super(ctx, def, 'histogram', ['le']);
    this.buckets = validateBuckets(this.name, (def as { buckets?: unknown }).buckets);
    this.les = leTexts(this.buckets);
    this.finishDefinition(ctx, def);
  }

  protected newSeries(labelText: string): HistogramSeries {
    // Called from finishDefinition, after `buckets` is set.
    return newHistogramSeries(labelText, this.buckets.length);
  }

  protected resetSeries(s: HistogramSeries): void {
    s.counts.fill(0);
    s.sum = 0;
    s.count = 0;
    s.exemplars = null;
  }

  observe(
    a: Readonly<Record<string, string>> | number,
    b?: number,
    exemplarLabels?: Readonly<Record<string, string>>,
  ): void {
    const labels = typeof a === 'object' ? a : undefined;
    const value = typeof a === 'number' ? a : b;
    if (typeof value !== 'number' || !(value >= 0) || value === Infinity) return;
    const exemplar = exemplarLabels === undefined ? undefined : makeExemplar(exemplarLabels, value);
    observeInto(this.resolve(labels), this.buckets, value, exemplar);
  }

  sampleCount(): number {
    return this.seriesByKey.size * (this.buckets.length + 3);
  }

  [NATIVE_RENDER](format: ExpositionFormat): string {
    let out = this.renderHeader(format);
    for (const s of this.seriesByKey.values()) out += renderHistogramSeries(this.name, s, this.les, format);
    return out;
  }

  async get() {
    const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
    for (const s of this.seriesByKey.values()) {
      const labels = this.labelsOf(s);
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.buckets.length ? (this.buckets[i] as number) : '+Inf';
        values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: s.sum, labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }
}
