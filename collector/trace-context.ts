/**
 * The trace context of the current request, sampled or not. A sampled request has a span. An
 * unsampled one (nine in ten at the default ratio) has no span object at all: only its SpanContext,
 * under UNSAMPLED_SPAN_CONTEXT_KEY. The express and pg instrumentations look for a span and skip
 * their work when there is none, while log lines still get `trace.id`/`span.id` from here and
 * outgoing calls still carry the not-sampled decision downstream (tracing/request-sampler).
 * Depends on @opentelemetry/api only, so logging can use it without loading the SDK.
 */
import {
  context,
  createContextKey,
  isSpanContextValid,
  trace,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';

export const UNSAMPLED_SPAN_CONTEXT_KEY = createContextKey('telehealth.unsampledSpanContext');

/** The span context of the active span, else of the active unsampled request, else undefined. */
export function activeSpanContext(ctx: Context = context.active()): SpanContext | undefined {
  const span = trace.getSpan(ctx);
  if (span !== undefined) {
    const sc = span.spanContext();
    if (isSpanContextValid(sc)) return sc;
  }
  return ctx.getValue(UNSAMPLED_SPAN_CONTEXT_KEY) as SpanContext | undefined;
}
