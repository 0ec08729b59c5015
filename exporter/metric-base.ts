/**
 * The one definition path every metric type goes through (prom-client lib/metric.js style): name,
 * namespace, help, duplicates, label names and label value sets are checked here once, so a
 * counter, a gauge and a histogram cannot disagree about what is valid.
 *
 * Series are keyed by precomputed label keys and render straight to text: prom-client's generic
 * metrics rebuild label objects on every observation and every scrape, which is what made them the
 * bottleneck in the overhead benchmark.
 */
import type { Registry } from 'prom-client';
import { errors } from './errors';
import {
  type ExpositionFormat,
  formatLabelPairs,
  header,
  parseLabelPairs,
  type PromClientMetricObject,
} from './exposition';
import { LABEL_OVERFLOW_VALUE } from './metric-names';
import {
  assertLabelName,
  compileLabel,
  type CompiledLabel,
  type LabelSpec,
  MAX_LABEL_VALUE_LENGTH,
} from './label-guard';

const METRIC_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const KEY_SEPARATOR = '\u001f';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition<L extends string> {
  /** Name without the namespace (a name that already starts with `<namespace>_` is accepted as is). */
  name: string;
  help: string;
  labels?: Record<L, LabelSpec>;
  /** Start every combination of the (closed) label sets at 0, so the first event is visible to increase(). */
  zeroInit?: boolean;
  /** Most series this metric may hold before open labels collapse to `other` (default: the telemetry's cap). */
  seriesCap?: number;
  /** Called before each scrape renders the metric (for gauges read from elsewhere). */
  collect?: () => void | Promise<void>;
}

/** What a metric needs from the telemetry it belongs to. */
export interface MetricContext {
  readonly namespace: string;
  readonly registry: Registry;
  readonly defaultSeriesCap: number;
  /** Counts one overflow of `metric` (a value that became `other`). */
  onOverflow(metric: string): void;
}

/** Marks the metrics that render themselves (the exporter's renderer checks for it). */
export const NATIVE_RENDER = Symbol('telemetry.nativeRender');

export interface NativeRenderable {
  readonly name: string;
  [NATIVE_RENDER](format: ExpositionFormat): string;
  collect?: () => void | Promise<void>;
  /** Number of samples (exposition lines) this metric currently renders. */
  sampleCount(): number;
}

export function isNativeRenderable(m: unknown): m is NativeRenderable {
  return typeof m === 'object' && m !== null && NATIVE_RENDER in m;
}

/** Applies the namespace exactly once and checks the result. */
export function fullMetricName(namespace: string, rawName: unknown, type: MetricType): string {
  if (typeof rawName !== 'string' || rawName.length === 0) {
    throw new errors.BAD_METRIC_NAME(String(rawName), 'a metric needs a name');
  }
  const name = rawName.startsWith(`${namespace}_`) ? rawName : `${namespace}_${rawName}`;
  if (!METRIC_NAME.test(name)) {
    throw new errors.BAD_METRIC_NAME(name, 'use lowercase snake_case (letters, digits, single underscores)');
  }
  if (name.length > 200) throw new errors.BAD_METRIC_NAME(name, 'longer than 200 characters');
  if (type === 'counter' && !name.endsWith('_total')) {
    throw new errors.BAD_METRIC_NAME(name, 'a counter name ends with "_total"');
  }
  if (type !== 'counter' && name.endsWith('_total')) {
    throw new errors.BAD_METRIC_NAME(name, `"_total" is reserved for counters, not a ${type}`);
  }
  if (type === 'histogram' && /_(bucket|count|sum)$/.test(name)) {
    throw new errors.BAD_METRIC_NAME(name, 'a histogram name cannot end in _bucket, _count or _sum');
  }
  return name;
}

export type LabelValues<L extends string> = Readonly<Record<L, string>>;

/**
 * Base of the native metric types. `S` is the per-series state (a number box, histogram buckets…).
 */
export abstract class NativeMetric<S extends { labelText: string }> implements NativeRenderable {
  readonly name: string;
  readonly help: string;
  abstract readonly type: MetricType;
  readonly labelNames: readonly string[];
  readonly collect?: () => void | Promise<void>;
  protected readonly labels: readonly CompiledLabel[];
  protected readonly seriesByKey = new Map<string, S>();
  private readonly seen: Array<Set<string> | null>;
  private readonly seriesCap: number;
  private readonly allClosed: boolean;
  private readonly onOverflow: (metric: string) => void;
  /** The only series of a metric without labels (no lookup on that path). */
  private single: S | undefined;

  protected constructor(
    ctx: MetricContext,
    def: MetricDefinition<string>,
    type: MetricType,
    reserved: string[],
  ) {
    if (def === null || typeof def !== 'object') {
      throw new errors.BAD_METRIC_NAME(String(def), 'a metric definition must be an object');
    }
    this.name = fullMetricName(ctx.namespace, def.name, type);
    if (typeof def.help !== 'string' || def.help.trim().length === 0)
      throw new errors.MISSING_HELP(this.name);
    this.help = def.help;
    if (ctx.registry.getSingleMetric(this.name) !== undefined) throw new errors.DUPLICATE_METRIC(this.name);
    const seriesCap = def.seriesCap ?? ctx.defaultSeriesCap;
    if (!Number.isInteger(seriesCap) || seriesCap < 1) {
      throw new errors.BAD_LABEL_SET(this.name, '*', 'seriesCap must be a positive integer');
    }
    this.seriesCap = seriesCap;
    const specs = (def.labels ?? {}) as Record<string, LabelSpec>;
    if (typeof specs !== 'object' || specs === null || Array.isArray(specs)) {
      throw new errors.BAD_LABEL_SET(this.name, '*', 'labels must be an object of label name to value set');
    }
    const compiled: CompiledLabel[] = [];
    for (const labelName of Object.keys(specs)) {
      assertLabelName(this.name, labelName, reserved);
      compiled.push(compileLabel(this.name, labelName, specs[labelName] as LabelSpec, seriesCap));
    }
    this.labels = Object.freeze(compiled);
    this.labelNames = Object.freeze(compiled.map((l) => l.name));
    this.seen = compiled.map((l) => (l.closed === null ? new Set<string>() : null));
    this.allClosed = compiled.every((l) => l.closed !== null);
    this.onOverflow = ctx.onOverflow;
    if (def.collect !== undefined && typeof def.collect !== 'function') {
      throw new errors.BAD_LABEL_SET(this.name, '*', 'collect must be a function');
    }
    this.collect = def.collect;
    if (def.zeroInit === true) {
      for (const l of compiled) {
        if (l.closed === null) throw new errors.ZERO_INIT_NEEDS_CLOSED_SETS(this.name, l.name);
      }
    }
  }

  /** Called by the subclass once its own fields exist: registers the metric and zero-initialises it. */
  protected finishDefinition(ctx: MetricContext, def: MetricDefinition<string>): void {
    // prom-client's Registry only stores and calls get(); the native render path is used by our server.
    ctx.registry.registerMetric(this as never);
    if (this.labels.length === 0) {
      this.single = this.createSeries([]);
      this.seriesByKey.set('', this.single);
    } else if (def.zeroInit === true) {
      this.forEachClosedCombination((values) => this.seriesFor(values));
    }
  }

  protected abstract newSeries(labelText: string): S;

  private createSeries(values: readonly string[]): S {
    return this.newSeries(formatLabelPairs(this.labelNames, values));
  }

  private forEachClosedCombination(fn: (values: string[]) => void): void {
    const sets = this.labels.map((l) => l.closedValues as readonly string[]);
    const values: string[] = new Array<string>(sets.length);
    const walk = (i: number): void => {
      if (i === sets.length) {
        fn([...values]);
        return;
      }
      for (const v of sets[i] as readonly string[]) {
        values[i] = v;
        walk(i + 1);
      }
    };
    walk(0);
  }

  private seriesFor(values: string[]): S {
    const key = values.join(KEY_SEPARATOR);
    let s = this.seriesByKey.get(key);
    if (s === undefined) {
      s = this.createSeries(values);
      this.seriesByKey.set(key, s);
    }
    return s;
  }

  /** Initialises one label combination at zero (for label sets that are not a plain cartesian product). */
  init(labels?: Readonly<Record<string, string>>): void {
    this.resolve(labels);
  }

  /**
   * The series for a label set, after the cardinality guard: a value outside a closed set, past an
   * open label's cap, or past the metric's series cap becomes `other` and is counted as overflow.
   * Never throws: this runs on request paths.
   */
  protected resolve(labels: Readonly<Record<string, string>> | undefined): S {
    if (this.single !== undefined) return this.single;
    const n = this.labels.length;
    const values = new Array<string>(n);
    let overflowed = false;
    for (let i = 0; i < n; i++) {
      const label = this.labels[i] as CompiledLabel;
      const raw: unknown = labels === undefined ? undefined : (labels as Record<string, unknown>)[label.name];
      const value = typeof raw === 'string' ? raw : typeof raw === 'number' ? String(raw) : undefined;
      if (label.closed !== null) {
        if (value !== undefined && label.closed.has(value)) {
          values[i] = value;
        } else {
          values[i] = LABEL_OVERFLOW_VALUE;
          overflowed = true;
        }
        continue;
      }
      const seen = this.seen[i] as Set<string>;
      if (value !== undefined && seen.has(value)) {
        values[i] = value;
      } else if (
        value !== undefined &&
        value.length > 0 &&
        value.length <= MAX_LABEL_VALUE_LENGTH &&
        seen.size < label.cap &&
        value !== LABEL_OVERFLOW_VALUE
      ) {
        seen.add(value);
        values[i] = value;
      } else {
        values[i] = LABEL_OVERFLOW_VALUE;
        if (value !== LABEL_OVERFLOW_VALUE) overflowed = true;
      }
    }
    let key = values.join(KEY_SEPARATOR);
    let s = this.seriesByKey.get(key);
    if (s === undefined) {
      if (!this.allClosed && this.seriesByKey.size >= this.seriesCap) {
        // Past the series cap: open labels collapse to `other`, closed ones keep their (bounded) values.
        for (let i = 0; i < n; i++) {
          if ((this.labels[i] as CompiledLabel).closed === null) values[i] = LABEL_OVERFLOW_VALUE;
        }
        overflowed = true;
        key = values.join(KEY_SEPARATOR);
        s = this.seriesByKey.get(key);
      }
      if (s === undefined) {
        s = this.createSeries(values);
        this.seriesByKey.set(key, s);
      }
    }
    if (overflowed) this.onOverflow(this.name);
    return s;
  }

  /** Number of label sets. */
  seriesCount(): number {
    return this.seriesByKey.size;
  }

  abstract sampleCount(): number;

  protected renderHeader(format: ExpositionFormat): string {
    return header(this.name, this.type, this.help, format);
  }

  abstract [NATIVE_RENDER](format: ExpositionFormat): string;

  /** prom-client compatible view, so `registry.metrics()` and `getMetricsAsJSON()` keep working. */
  abstract get(): Promise<PromClientMetricObject & { aggregator: string }>;

  /** Clears all series (then re-creates the zero-initialised ones is the caller's business). */
  reset(): void {
    for (const s of this.seriesByKey.values()) this.resetSeries(s);
  }

  protected abstract resetSeries(s: S): void;

  /** Label object of a series, for get(). */
  protected labelsOf(s: S): Record<string, string> {
    return parseLabelPairs(s.labelText);
  }
}
