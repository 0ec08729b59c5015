import { ParentBasedSampler, TraceIdRatioBasedSampler, AlwaysOffSampler } from '@opentelemetry/sdk-trace';
import {
  DEFAULT_TRACE_MAX_PER_SECOND,
  DEFAULT_TRACE_SAMPLE_RATIO,
  samplerFromEnv,
} from '../../../collector/tracing';

describe('samplerFromEnv', () => {
  test('defaults to parent-based trace-id ratio at the documented ratio and cap', () => {
    const choice = samplerFromEnv({});
    expect(choice.name).toBe('parentbased_traceidratio');
    expect(choice.ratio).toBe(DEFAULT_TRACE_SAMPLE_RATIO);
    expect(choice.maxPerSecond).toBe(DEFAULT_TRACE_MAX_PER_SECOND);
    expect(choice.sampler).toBeInstanceOf(ParentBasedSampler);
    expect(choice.sampler.toString()).toContain(
      `RateLimited{${DEFAULT_TRACE_MAX_PER_SECOND}/s, TraceIdRatioBased{${DEFAULT_TRACE_SAMPLE_RATIO}}}`,
    );
    expect(choice.warning).toBeUndefined();
  });

  test('reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG', () => {
    const choice = samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    expect(choice.sampler.toString()).toBe('RateLimited{10/s, TraceIdRatioBased{0.25}}');
    expect(choice.ratio).toBe(0.25);
    const uncapped = samplerFromEnv({
      OTEL_TRACES_SAMPLER: 'traceidratio',
      TRACE_SAMPLING_MAX_PER_SECOND: '0',
    });
    expect(uncapped.sampler).toBeInstanceOf(TraceIdRatioBasedSampler);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).sampler).toBeInstanceOf(AlwaysOffSampler);
  });

  test('invalid values fall back to the default and say which variable and why', () => {
    const choice = samplerFromEnv({
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_TRACES_SAMPLER_ARG: '7',
      TRACE_SAMPLING_MAX_PER_SECOND: 'lots',
    });
    expect(choice.name).toBe('parentbased_traceidratio');
    expect(choice.ratio).toBe(DEFAULT_TRACE_SAMPLE_RATIO);
    expect(choice.maxPerSecond).toBe(DEFAULT_TRACE_MAX_PER_SECOND);
    expect(choice.warning).toMatch(/TRACE_SAMPLING_MAX_PER_SECOND: must be a number >= 0/);
    expect(choice.warning).toMatch(/OTEL_TRACES_SAMPLER: unsupported value/);
    expect(choice.warning).toMatch(/OTEL_TRACES_SAMPLER_ARG: must be a number in \[0, 1\]/);
  });
});
