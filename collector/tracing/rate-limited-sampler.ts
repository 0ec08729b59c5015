/**
 * Bounds how many new traces a process samples per second, whatever the traffic: the inner sampler
 * (a trace-id ratio) chooses which traces, a token bucket holding one second's worth chooses how many.
 *
 * Why: a sampled request costs about 0.5 ms more CPU than an unsampled one here (spans, attributes,
 * OTLP serialisation; docs/benchmarks/app.md), so a fixed ratio makes tracing's cost grow with load,
 * and most during a traffic spike, when the service can least afford it. With the cap, low traffic
 * is sampled at the full ratio and a busy process exports a steady number of traces, as X-Ray's
 * reservoir and Jaeger's rate-limiting sampler do. Only new traces are limited: a span with a parent
 * (a caller's, or its own trace's) takes no token, so a trace stays whole within and across services.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';

/** Set on a "no" that the cap gave (the inner sampler had said yes), so that it can be counted. */
export const RATE_LIMITED = Symbol('telehealth.rateLimited');
export type RateLimitedResult = SamplingResult & { [RATE_LIMITED]?: true };

export class RateLimitedSampler implements Sampler {
  private readonly capacity: number;
  private tokens: number;
  private last: number;

  /** `perSecond` > 0; `now` in milliseconds (a monotonic clock; tests pass their own). */
  constructor(
    private readonly inner: Sampler,
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) {
      throw new RangeError('RateLimitedSampler: perSecond must be a finite number > 0');
    }
    // A burst of up to one second's worth; at least one, or a limit below 1/s could never sample.
    this.capacity = Math.max(1, perSecond);
    this.tokens = this.capacity;
    this.last = now();
  }

  /** The inner sampler's arguments, passed through unchanged. */
  shouldSample(...args: Parameters<Sampler['shouldSample']>): SamplingResult {
    const result = this.inner.shouldSample(...args);
    // The inner sampler's "no" costs no token (and, at a ratio, is most requests: no clock read).
    if (result.decision === SamplingDecision.NOT_RECORD) return result;
    // Only new traces are limited: a span under a parent (a caller's, or this trace's own spans when
    // the sampler is used without ParentBasedSampler) takes no token, or a trace would lose spans.
    const parent = trace.getSpanContext(args[0]);
    if (parent !== undefined && isSpanContextValid(parent)) return result;
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) {
      const refused: RateLimitedResult = {
        decision: SamplingDecision.NOT_RECORD,
        traceState: result.traceState,
        [RATE_LIMITED]: true,
      };
      return refused;
    }
    this.tokens -= 1;
    return result;
  }

  toString(): string {
    return `RateLimited{${this.perSecond}/s, ${this.inner.toString()}}`;
  }
}
