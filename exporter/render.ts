/**
 * Renders a whole registry in either format. Native metrics render themselves from precomputed label
 * text; prom-client's default metrics are read through their `get()` and formatted here (prom-client's
 * own Registry fixes one format per registry and renames counters in place for OpenMetrics).
 */
import type { Registry } from 'prom-client';
import { type ExpositionFormat, formatPromClientMetric, type PromClientMetricObject } from './exposition';
import { isNativeRenderable, NATIVE_RENDER } from './metric-base';

export async function renderRegistry(registry: Registry, format: ExpositionFormat): Promise<string> {
  const metrics = registry.getMetricsAsArray() as unknown[];
  // Collect callbacks and prom-client getters may be async: start them all, then format in order.
  const pending = metrics.map((m) => {
    if (isNativeRenderable(m)) return m.collect === undefined ? undefined : Promise.resolve(m.collect());
    return (m as { get(): Promise<PromClientMetricObject> }).get();
  });
  const resolved = await Promise.all(pending.map((p) => (p === undefined ? undefined : p.catch(() => null))));
  let out = '';
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i];
    if (isNativeRenderable(m)) {
      out += m[NATIVE_RENDER](format);
    } else {
      const obj = resolved[i] as PromClientMetricObject | null;
      // A default metric whose getter failed is left out of this scrape rather than failing it.
      if (obj !== null && obj !== undefined) out += formatPromClientMetric(obj, format);
    }
  }
  if (format === 'openmetrics') out += '# EOF\n';
  return out;
}

/** Samples (exposition lines other than comments) the registry renders: what Prometheus counts as series. */
export async function countSamples(registry: Registry): Promise<number> {
  const text = await renderRegistry(registry, 'prometheus');
  let n = 0;
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) n++;
  return n;
}
