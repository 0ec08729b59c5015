/** Public API of collector/tracing. Load tracing-preload before express, http and pg. */
export { currentTraceIds, shutdownTracing, startTracing } from './tracing';
export type { StartTracingOptions, TraceIds, TracingState } from './tracing';
export {
  DEFAULT_TRACE_MAX_PER_SECOND,
  DEFAULT_TRACE_SAMPLE_RATIO,
  DEFAULT_TRACE_SAMPLER,
  SAMPLER_NAMES,
  samplerFromEnv,
} from './sampler';
export { RateLimitedSampler } from './rate-limited-sampler';
export { registerTraceSamplingMetrics } from './sampling-metrics';
export type { SamplerChoice, SamplerName } from './sampler';
export { createInstrumentations, DEFAULT_UNTRACED_PATHS } from './instrumentations';
export type { InstrumentationOptions } from './instrumentations';
export {
  RequestSampler,
  traceRequestListener,
  traceServer,
  UnsampledAwarePropagator,
} from './request-sampler';
export type { TraceSamplingCounts, TraceSamplingDecision } from './request-sampler';
export { propagatorsFromEnv } from './propagators';
export type { PropagatorChoice } from './propagators';
