/**
 * The propagators named by OTEL_PROPAGATORS (default `tracecontext,baggage`, as the SDK's own),
 * wrapped so that unsampled requests still propagate their trace context (request-sampler.ts).
 * b3 is not bundled: a name we do not have is reported, like an invalid sampler.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { UnsampledAwarePropagator } from './request-sampler';

const FACTORIES: Record<string, () => TextMapPropagator> = {
  tracecontext: () => new W3CTraceContextPropagator(),
  baggage: () => new W3CBaggagePropagator(),
};

export interface PropagatorChoice {
  /** Empty when OTEL_PROPAGATORS=none. */
  propagators: TextMapPropagator[];
  warning?: string;
}

export function propagatorsFromEnv(env: NodeJS.ProcessEnv = process.env): PropagatorChoice {
  const names = (env.OTEL_PROPAGATORS ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n.length > 0);
  const wanted = names.length > 0 ? [...new Set(names)] : ['tracecontext', 'baggage'];
  if (wanted.includes('none')) return { propagators: [] };
  const unknown = wanted.filter((n) => FACTORIES[n] === undefined);
  const known = wanted
    .filter((n) => FACTORIES[n] !== undefined)
    .map((n) => (FACTORIES[n] as () => TextMapPropagator)());
  const warning =
    unknown.length > 0
      ? `OTEL_PROPAGATORS: unsupported ${unknown.join(', ')} (supported: tracecontext, baggage)`
      : undefined;
  if (known.length === 0) return { propagators: [], warning };
  const inner =
    known.length === 1 ? (known[0] as TextMapPropagator) : new CompositePropagator({ propagators: known });
  return { propagators: [new UnsampledAwarePropagator(inner)], warning };
}
