/**
 * Text exposition helpers shared by the native metrics and the adapter for prom-client's default
 * metrics: the Prometheus 0.0.4 text format and OpenMetrics 1.0 (the only one that carries exemplars).
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

/** Prometheus sends `Accept: application/openmetrics-text;version=1.0.0,...` when it can take OpenMetrics. */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  return accept !== undefined && accept.includes('application/openmetrics-text')
    ? 'openmetrics'
    : 'prometheus';
}

export function contentTypeOf(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/** Label values: backslash, double quote and newline escaped (both formats). */
export function escapeLabelValue(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: the text format escapes backslash and newline; OpenMetrics also the double quote. */
export function escapeHelp(help: string, format: ExpositionFormat): string {
  let out = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  if (format === 'openmetrics') out = out.replace(/"/g, '\\"');
  return out;
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** `a="x",b="y"` for names and already-validated values, in the given order. */
export function formatLabelPairs(names: readonly string[], values: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    out += `${names[i]}="${escapeLabelValue(values[i] as string)}"`;
  }
  return out;
}

/** OpenMetrics names a counter family without its `_total` suffix; its sample keeps it. */
export function counterFamilyName(name: string, format: ExpositionFormat): string {
  return format === 'openmetrics' && name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

export function header(name: string, type: string, help: string, format: ExpositionFormat): string {
  const family = type === 'counter' ? counterFamilyName(name, format) : name;
  return `# HELP ${family} ${escapeHelp(help, format)}\n# TYPE ${family} ${type}\n`;
}

/** The shape prom-client's `metric.get()` resolves to (only the fields the formatter reads). */
export interface PromClientMetricObject {
  name: string;
  help: string;
  type: string;
  values?: Array<{
    value: number;
    labels?: Record<string, string | number>;
    metricName?: string;
  }>;
}

/**
 * Formats one prom-client metric (used for the default process/runtime metrics). prom-client's own
 * registry picks one format per registry and renames counters in place when set to OpenMetrics, so the
 * exporter formats them itself and serves both formats from one registry.
 */
export function formatPromClientMetric(metric: PromClientMetricObject, format: ExpositionFormat): string {
  let type = metric.type;
  // OpenMetrics has no untyped "summary without quantiles" issues here; keep prom-client's types.
  if (type !== 'counter' && type !== 'gauge' && type !== 'histogram' && type !== 'summary') type = 'unknown';
  if (type === 'unknown' && format === 'prometheus') type = 'untyped';
  let out = header(metric.name, type, metric.help, format);
  const isCounter = type === 'counter';
  for (const v of metric.values ?? []) {
    let sampleName = v.metricName ?? metric.name;
    if (isCounter && format === 'openmetrics' && !sampleName.endsWith('_total')) sampleName += '_total';
    const labels = v.labels ?? {};
    const names = Object.keys(labels);
    let labelText = '';
    if (names.length > 0) {
      labelText = '{';
      for (let i = 0; i < names.length; i++) {
        const n = names[i] as string;
        const raw = labels[n];
        const text = typeof raw === 'number' ? formatNumber(raw) : String(raw);
        if (i > 0) labelText += ',';
        labelText += `${n}="${escapeLabelValue(text)}"`;
      }
      labelText += '}';
    }
    out += `${sampleName}${labelText} ${formatNumber(v.value)}\n`;
  }
  return out;
}

/** Inverse of formatLabelPairs (used only by the prom-client compatible `get()` views, not on scrapes). */
export function parseLabelPairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    out[m[1] as string] = (m[2] as string).replace(/\\(n|"|\\)/g, (_all, c: string) =>
      c === 'n' ? '\n' : c,
    );
  }
  return out;
}
