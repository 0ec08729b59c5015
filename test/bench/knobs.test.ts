import { envFrom, KnobError, partsFrom } from '../../bench/knobs';

describe('partsFrom', () => {
  it('falls back when unset, and reads none from an empty value', () => {
    expect(partsFrom('BENCH_PARTS', undefined, ['metrics', 'log', 'tracing'])).toEqual([
      'metrics',
      'log',
      'tracing',
    ]);
    expect(partsFrom('BENCH_BASELINE_PARTS', '', [])).toEqual([]);
  });

  it('reads the named parts once each, spaces allowed', () => {
    expect(partsFrom('BENCH_PARTS', ' metrics, log ,metrics', [])).toEqual(['metrics', 'log']);
  });

  it('names the variable and the unknown part instead of dropping it', () => {
    expect(() => partsFrom('BENCH_BASELINE_PARTS', 'metrics,tracng', [])).toThrow(
      new KnobError('BENCH_BASELINE_PARTS: unknown part tracng (known: metrics, log, tracing)'),
    );
  });
});

describe('envFrom', () => {
  it('reads a JSON object of strings; unset or blank is nothing', () => {
    expect(
      envFrom('BENCH_ENV_BASELINE', '{"OTEL_TRACES_SAMPLER_ARG":"0","TRACE_SAMPLING_MAX_PER_SECOND":"1"}'),
    ).toEqual({ OTEL_TRACES_SAMPLER_ARG: '0', TRACE_SAMPLING_MAX_PER_SECOND: '1' });
    expect(envFrom('BENCH_ENV_BASELINE', undefined)).toEqual({});
    expect(envFrom('BENCH_ENV_BASELINE', '  ')).toEqual({});
  });

  it.each([
    ['OTEL_TRACES_SAMPLER_ARG=0', 'BENCH_ENV_INSTRUMENTED: not JSON'],
    ['["A"]', 'BENCH_ENV_INSTRUMENTED: expected a JSON object of strings'],
    ['null', 'BENCH_ENV_INSTRUMENTED: expected a JSON object of strings'],
    [
      '{"OTEL_TRACES_SAMPLER_ARG":0}',
      'BENCH_ENV_INSTRUMENTED: the value of OTEL_TRACES_SAMPLER_ARG must be a string',
    ],
    ['{"a b":"1"}', 'BENCH_ENV_INSTRUMENTED: "a b" is not a variable name'],
  ])('rejects %s with a message naming the variable', (value, message) => {
    expect(() => envFrom('BENCH_ENV_INSTRUMENTED', value)).toThrow(message);
  });
});
