/** Gauge: a current value per label set. */
import type { ExpositionFormat } from './exposition';
import { formatNumber } from './exposition';
import {
  type LabelValues,
  type MetricContext,
  type MetricDefinition,
  NATIVE_RENDER,
  NativeMetric,
} from './metric-base';

interface GaugeSeries {
  labelText: string;
  value: number;
}

export interface Gauge<L extends string = never> {
  readonly name: string;
  set(labels: LabelValues<L>, value: number): void;
  set(value: number): void;
  inc(labels: LabelValues<L>, value?: number): void;
  inc(value?: number): void;
  dec(labels: LabelValues<L>, value?: number): void;
  dec(value?: number): void;
  init(labels?: LabelValues<L>): void;
}

type LabelsOrValue = Readonly<Record<string, string>> | number | undefined;

export class GaugeMetric extends NativeMetric<GaugeSeries> {
  readonly type = 'gauge' as const;

  constructor(ctx: MetricContext, def: MetricDefinition<string>) {
    super(ctx, def, 'gauge', []);
    this.finishDefinition(ctx, def);
  }

  protected newSeries(labelText: string): GaugeSeries {
    return { labelText, value: 0 };
  }

  protected resetSeries(s: GaugeSeries): void {
    s.value = 0;
  }

  /** Non-numeric values are ignored (NaN would poison every rule reading the gauge). */
  set(a: LabelsOrValue, b?: number): void {
    const labels = typeof a === 'object' ? a : undefined;
    const value = typeof a === 'number' ? a : b;
    if (typeof value !== 'number' || Number.isNaN(value)) return;
    this.resolve(labels).value = value;
  }

  inc(a?: LabelsOrValue, b?: number): void {
    const labels = typeof a === 'object' ? a : undefined;
    const value = typeof a === 'number' ? a : (b ?? 1);
    if (!Number.isFinite(value)) return;
    this.resolve(labels).value += value;
  }

  dec(a?: LabelsOrValue, b?: number): void {
    const labels = typeof a === 'object' ? a : undefined;
    const value = typeof a === 'number' ? a : (b ?? 1);
    if (!Number.isFinite(value)) return;
    this.resolve(labels).value -= value;
  }

  sampleCount(): number {
    return this.seriesByKey.size;
  }

  [NATIVE_RENDER](format: ExpositionFormat): string {
    let out = this.renderHeader(format);
    for (const s of this.seriesByKey.values()) {
      out += s.labelText === '' ? `${this.name} ` : `${this.name}{${s.labelText}} `;
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
