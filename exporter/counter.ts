/** Counter: a monotonic total per label set. */
import type { ExpositionFormat } from './exposition';
import { formatNumber } from './exposition';
import {
  type LabelValues,
  type MetricContext,
  type MetricDefinition,
  NATIVE_RENDER,
  NativeMetric,
} from './metric-base';

interface CounterSeries {
  labelText: string;
  value: number;
}

export interface Counter<L extends string = never> {
  readonly name: string;
  /** Adds `value` (default 1). Negative or non-finite values are ignored: a counter never goes down. */
  inc(labels: LabelValues<L>, value?: number): void;
  inc(value?: number): void;
  /** Creates the series at 0 (for valid combinations that are not a plain cartesian product). */
  init(labels?: LabelValues<L>): void;
}

export class CounterMetric extends NativeMetric<CounterSeries> {
  readonly type = 'counter' as const;

  constructor(ctx: MetricContext, def: MetricDefinition<string>) {
    super(ctx, def, 'counter', []);
    this.finishDefinition(ctx, def);
  }

  protected newSeries(labelText: string): CounterSeries {
    return { labelText, value: 0 };
  }

  protected resetSeries(s: CounterSeries): void {
    s.value = 0;
  }

  inc(a?: Readonly<Record<string, string>> | number, b?: number): void {
    const labels = typeof a === 'object' ? a : undefined;
    const value = typeof a === 'number' ? a : (b ?? 1);
    if (!(value >= 0) || value === Infinity) return;
    this.resolve(labels).value += value;
  }

  sampleCount(): number {
    return this.seriesByKey.size;
  }

  [NATIVE_RENDER](format: ExpositionFormat): string {
    let out = this.renderHeader(format);
    // Counter names always end in `_total`: the sample name in both formats (the OpenMetrics family drops it).
    const sample = this.name;
    for (const s of this.seriesByKey.values()) {
      out += s.labelText === '' ? `${sample} ` : `${sample}{${s.labelText}} `;
      out += `${formatNumber(s.value)}\n`;
    }
    return out;
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: 'sum',
      values: [...this.seriesByKey.values()].map((s) => ({ value: s.value, labels: this.labelsOf(s) })),
    };
  }
}
