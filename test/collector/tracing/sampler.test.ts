import { ParentBasedSampler, TraceIdRatioBasedSampler, AlwaysOffSampler } from '@opentelemetry/sdk-trace';
import { DEFAULT_TRACE_SAMPLE_RATIO, samplerFromEnv } from '../../../collector/tracing';

describe('samplerFromEnv', () => {
  test('defaults to parent-based trace-id ratio at the documented ratio', () => {
    const choice = samplerFromEnv({});
    expect(choice.name).toBe('parentbased_traceidratio');
    expect(choice.ratio).toBe(DEFAULT_TRACE_SAMPLE_RATIO);
    expect(choice.sampler).toBeInstanceOf(ParentBasedSampler);
    expect(choice.sampler.toString()).toContain(`TraceIdRatioBased{${DEFAULT_TRACE_SAMPLE_RATIO}}`);
    expect(choice.warning).toBeUndefined();
  });

  test('reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG', () => {
    const choice = samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    expect(choice.sampler).toBeInstanceOf(TraceIdRatioBasedSampler);
    expect(choice.ratio).toBe(0.25);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).sampler).toBeInstanceOf(AlwaysOffSampler);
  });

  test('invalid values fall back to the default and say which variable and why', () => {
    const choice = samplerFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes', OTEL_TRACES_SAMPLER_ARG: '7' });
    expect(choice.name).toBe('parentbased_traceidratio');
    expect(choice.ratio).toBe(DEFAULT_TRACE_SAMPLE_RATIO);
    expect(choice.warning).toMatch(/OTEL_TRACES_SAMPLER: unsupported value/);
    expect(choice.warning).toMatch(/OTEL_TRACES_SAMPLER_ARG: must be a number in \[0, 1\]/);
  });
});
