import { ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { RateLimitedSampler, samplerFromEnv } from '../../../collector/tracing';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const sampled = (s: Sampler, ctx: Context = ROOT_CONTEXT): boolean =>
  s.shouldSample(ctx, TRACE, 'GET', SpanKind.SERVER, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED;
const count = (s: Sampler, n: number, ctx?: Context): number =>
  Array.from({ length: n }).filter(() => sampled(s, ctx)).length;

describe('RateLimitedSampler', () => {
  test('samples at most one second of traces at once, then refills at the rate', () => {
    let now = 1_000;
    const s = new RateLimitedSampler(new AlwaysOnSampler(), 10, () => now);
    expect(count(s, 25)).toBe(10);
    now += 100; // a tenth of a second: one more token
    expect(count(s, 5)).toBe(1);
    now += 60_000; // idle for a minute: still one second's worth, not sixty
    expect(count(s, 100)).toBe(10);
  });

  test("the inner sampler's no costs no token", () => {
    let now = 0;
    const never = new RateLimitedSampler(new TraceIdRatioBasedSampler(0), 3, () => now);
    expect(count(never, 50)).toBe(0);
    // A sampler that says yes only to some traces: its "no"s leave the bucket full for its "yes"es.
    const inner: Sampler = {
      shouldSample: (_c, traceId) => ({
        decision: traceId.endsWith('1') ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD,
      }),
      toString: () => 'EndsWith1',
    };
    const s = new RateLimitedSampler(inner, 3, () => now);
    const decide = (id: string) => s.shouldSample(ROOT_CONTEXT, id, 'GET', SpanKind.SERVER, {}, []).decision;
    for (let i = 0; i < 20; i += 1) expect(decide(`${'0'.repeat(31)}0`)).toBe(SamplingDecision.NOT_RECORD);
    expect([1, 2, 3, 4].map(() => decide(`${'0'.repeat(31)}1`))).toEqual([
      SamplingDecision.RECORD_AND_SAMPLED,
      SamplingDecision.RECORD_AND_SAMPLED,
      SamplingDecision.RECORD_AND_SAMPLED,
      SamplingDecision.NOT_RECORD,
    ]);
    now += 1000;
    expect(decide(`${'0'.repeat(31)}1`)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  test('a limit below one a second still samples (a bucket of at least one)', () => {
    let now = 0;
    const s = new RateLimitedSampler(new AlwaysOnSampler(), 0.5, () => now);
    expect(count(s, 3)).toBe(1);
    now += 1000;
    expect(count(s, 3)).toBe(0);
    now += 1000;
    expect(count(s, 3)).toBe(1);
  });

  test("spans with a parent take no token: without ParentBasedSampler a trace's own spans are not cut", () => {
    const s = new RateLimitedSampler(new AlwaysOnSampler(), 1, () => 0);
    expect(sampled(s)).toBe(true); // the root takes the only token
    const child = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE,
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    });
    expect(count(s, 10, child)).toBe(10);
    expect(sampled(s)).toBe(false); // the next root finds the bucket empty
  });

  test('refuses a limit that is not a positive number', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RateLimitedSampler(new AlwaysOnSampler(), bad)).toThrow(/perSecond/);
    }
  });
});

describe('the cap as configured from the environment', () => {
  const parent = (flags: TraceFlags): Context =>
    trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE,
      spanId: '00f067aa0ba902b7',
      traceFlags: flags,
      isRemote: true,
    });

  test('caps new traces only: a caller that sampled its trace is honoured past the cap', () => {
    const { sampler, maxPerSecond } = samplerFromEnv({
      OTEL_TRACES_SAMPLER_ARG: '1',
      TRACE_SAMPLING_MAX_PER_SECOND: '2',
    });
    expect(maxPerSecond).toBe(2);
    // The real clock: two tokens, plus one more only if this took half a second (a loaded host).
    const roots = count(sampler, 20);
    expect(roots).toBeGreaterThanOrEqual(2);
    expect(roots).toBeLessThanOrEqual(3);
    expect(count(sampler, 20, parent(TraceFlags.SAMPLED))).toBe(20);
    expect(count(sampler, 20, parent(TraceFlags.NONE))).toBe(0);
  });

  test('0 turns the cap off; always_on is never capped', () => {
    const off = samplerFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1', TRACE_SAMPLING_MAX_PER_SECOND: '0' });
    expect(off.maxPerSecond).toBeUndefined();
    expect(count(off.sampler, 500)).toBe(500);
    expect(count(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_on' }).sampler, 500)).toBe(500);
  });
});
