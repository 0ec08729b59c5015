/** OTEL_PROPAGATORS as the SDK reads it, with every propagator wrapped for unsampled requests. */
import { ROOT_CONTEXT, trace, TraceFlags, defaultTextMapSetter } from '@opentelemetry/api';
import { propagatorsFromEnv, UnsampledAwarePropagator } from '../../../collector/tracing';
import { UNSAMPLED_SPAN_CONTEXT_KEY } from '../../../collector/trace-context';

const UNSAMPLED = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.NONE,
};

describe('propagatorsFromEnv', () => {
  it('defaults to tracecontext and baggage, wrapped', () => {
    const { propagators, warning } = propagatorsFromEnv({});
    expect(warning).toBeUndefined();
    expect(propagators).toHaveLength(1);
    expect(propagators[0]).toBeInstanceOf(UnsampledAwarePropagator);
    expect(propagators[0]!.fields()).toEqual(
      expect.arrayContaining(['traceparent', 'tracestate', 'baggage']),
    );
  });

  it('none turns propagation off', () => {
    expect(propagatorsFromEnv({ OTEL_PROPAGATORS: 'none' }).propagators).toEqual([]);
  });

  it('names a propagator it does not have instead of ignoring it silently', () => {
    const { propagators, warning } = propagatorsFromEnv({ OTEL_PROPAGATORS: 'tracecontext, b3' });
    expect(propagators[0]!.fields()).toEqual(['traceparent', 'tracestate']);
    expect(warning).toMatch(/unsupported b3/);
  });

  it("injects an unsampled request's context where no span is active, and a span's otherwise", () => {
    const [propagator] = propagatorsFromEnv({ OTEL_PROPAGATORS: 'tracecontext' }).propagators;
    const carrier: Record<string, string> = {};
    propagator!.inject(
      ROOT_CONTEXT.setValue(UNSAMPLED_SPAN_CONTEXT_KEY, UNSAMPLED),
      carrier,
      defaultTextMapSetter,
    );
    expect(carrier.traceparent).toBe(`00-${UNSAMPLED.traceId}-${UNSAMPLED.spanId}-00`);

    const sampled = {
      traceId: '5bf92f3577b34da6a3ce929d0e0e4737',
      spanId: '10f067aa0ba902b7',
      traceFlags: 1,
    };
    const both = trace.setSpanContext(ROOT_CONTEXT.setValue(UNSAMPLED_SPAN_CONTEXT_KEY, UNSAMPLED), sampled);
    const carrier2: Record<string, string> = {};
    propagator!.inject(both, carrier2, defaultTextMapSetter);
    expect(carrier2.traceparent).toBe(`00-${sampled.traceId}-${sampled.spanId}-01`);

    const carrier3: Record<string, string> = {};
    propagator!.inject(ROOT_CONTEXT, carrier3, defaultTextMapSetter);
    expect(carrier3.traceparent).toBeUndefined();
  });
});
