import { Registry } from 'prom-client';
import { createTelemetry, exporterMetricNames, isTelemetryError } from '../../exporter';
import { sampleLines, sampleValue } from './helpers';

const bare = () => createTelemetry({ defaultMetrics: false, version: '1.0.0' });

describe('createTelemetry', () => {
  it('uses a private registry with the namespace, build info and resource limits', async () => {
    const t = createTelemetry({ version: '2.3.4', limits: { cpuCores: 1.5, memoryBytes: 512 * 1024 ** 2 } });
    expect(t.registry).toBeInstanceOf(Registry);
    const { register } = await import('prom-client');
    expect(t.registry).not.toBe(register);
    const text = await t.render();
    expect(sampleValue(text, 'telehealth_build_info{version="2.3.4"}')).toBe(1);
    expect(sampleValue(text, 'telehealth_process_cpu_limit_cores')).toBe(1.5);
    expect(sampleValue(text, 'telehealth_process_memory_limit_bytes')).toBe(536870912);
    // The global registry stays empty: nothing leaks into it.
    expect(await register.metrics()).not.toContain('telehealth_');
  });

  it('exports every default-metric name of the contract, prefixed', async () => {
    const t = createTelemetry({ namespace: 'svc' });
    const text = await t.render();
    const names = exporterMetricNames('svc');
    for (const key of [
      'processCpuSecondsTotal',
      'processResidentMemoryBytes',
      'processStartTimeSeconds',
      'nodejsHeapSizeUsedBytes',
      'nodejsHeapSizeTotalBytes',
      'nodejsEventloopLagP99Seconds',
      'nodejsGcDurationSeconds',
      'buildInfo',
      'processCpuLimitCores',
      'processMemoryLimitBytes',
      'httpRequestsTotal',
      'httpRequestDurationSeconds',
      'labelOverflowTotal',
      'dependencyUp',
    ] as const) {
      expect(text).toContain(`# TYPE ${names[key]} `);
    }
    // Nothing unprefixed.
    for (const line of sampleLines(text)) expect(line.startsWith('svc_')).toBe(true);
  });

  it.each([
    [{ namespace: 'bad-ns' }, 'TELEMETRY_BAD_NAMESPACE', 'bad-ns'],
    [{ namespace: 'a__b' }, 'TELEMETRY_BAD_NAMESPACE', 'a__b'],
    [{ namespace: '9lives' }, 'TELEMETRY_BAD_NAMESPACE', '9lives'],
    [{ defaultSeriesCap: 0 }, 'TELEMETRY_BAD_OPTION', 'defaultSeriesCap'],
    [{ version: 'v 1\n' }, 'TELEMETRY_BAD_OPTION', 'version'],
    [{ limits: { cpuCores: -1 } }, 'TELEMETRY_BAD_OPTION', 'limits.cpuCores'],
  ])('refuses %j at start-up with %s naming the value', (opts, code, named) => {
    let caught: unknown;
    try {
      createTelemetry(opts as never);
    } catch (err) {
      caught = err;
    }
    expect(isTelemetryError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe(code);
    expect((caught as Error).message).toContain(named);
  });

  it('freezes the validated configuration and the telemetry object', () => {
    const t = bare();
    expect(Object.isFrozen(t.config)).toBe(true);
    expect(Object.isFrozen(t.config.limits)).toBe(true);
    expect(Object.isFrozen(t)).toBe(true);
    expect(() => {
      (t.config as { namespace: string }).namespace = 'x';
    }).toThrow(TypeError);
  });
});

describe('metric definition path', () => {
  it('applies the namespace exactly once', async () => {
    const t = bare();
    expect(t.counter({ name: 'a_total', help: 'h' }).name).toBe('telehealth_a_total');
    expect(t.counter({ name: 'telehealth_b_total', help: 'h' }).name).toBe('telehealth_b_total');
  });

  it.each([
    ['counter', 'logins', /end[s]? with "_total"/],
    ['gauge', 'queue_total', /reserved for counters/],
    ['counter', 'Bad-Name_total', /snake_case/],
    ['counter', '', /needs a name/],
    ['histogram', 'x_bucket', /_bucket/],
  ])('refuses a %s named %j', (type, name, why) => {
    const t = bare();
    const def = { name, help: 'h', buckets: [1] };
    const define = () =>
      type === 'counter' ? t.counter(def) : type === 'gauge' ? t.gauge(def) : t.histogram(def);
    expect(define).toThrow(why);
    expect(define).toThrow(expect.objectContaining({ code: 'TELEMETRY_BAD_METRIC_NAME' }));
  });

  it('refuses a duplicate across types and a missing help', () => {
    const t = bare();
    t.counter({ name: 'dup_total', help: 'h' });
    expect(() => t.counter({ name: 'dup_total', help: 'h' })).toThrow(
      expect.objectContaining({
        code: 'TELEMETRY_DUPLICATE_METRIC',
        message: expect.stringContaining('telehealth_dup_total'),
      }),
    );
    expect(() => t.gauge({ name: 'http_request_duration_seconds', help: 'h' })).toThrow(/already defined/);
    expect(() => t.gauge({ name: 'g', help: ' ' })).toThrow(
      expect.objectContaining({ code: 'TELEMETRY_MISSING_HELP' }),
    );
  });

  it('refuses a forbidden label at definition time, naming metric and label', () => {
    const t = bare();
    expect(() => t.counter({ name: 'views_total', help: 'h', labels: { patient_id: { cap: 10 } } })).toThrow(
      /telehealth_views_total.*patient_id/,
    );
    expect(() => t.histogram({ name: 'x_seconds', help: 'h', labels: { le: ['a'] }, buckets: [1] })).toThrow(
      /reserved/,
    );
  });

  it.each([
    [[], /non-empty/],
    [[0.1, 0.05], /sorted/],
    [[0.1, 0.1], /sorted and distinct/],
    [[-1, 1], /not positive/],
    [[0, 1], /not positive/],
    [[1, Infinity], /not a finite number/],
    [[1, NaN], /not a finite number/],
    [['1'], /not a finite number/],
  ])('refuses buckets %j', (buckets, why) => {
    const t = bare();
    expect(() => t.histogram({ name: 'h_seconds', help: 'h', buckets: buckets as number[] })).toThrow(why);
    expect(() => t.histogram({ name: 'h_seconds', help: 'h', buckets: buckets as number[] })).toThrow(
      expect.objectContaining({
        code: 'TELEMETRY_BAD_BUCKETS',
        message: expect.stringContaining('telehealth_h_seconds'),
      }),
    );
  });

  it('zero-initialises every combination of closed label sets', async () => {
    const t = bare();
    t.counter({
      name: 'logins_total',
      help: 'h',
      labels: { outcome: ['success', 'failure'], role: ['admin', 'staff', 'provider'] },
      zeroInit: true,
    });
    const lines = sampleLines(await t.render()).filter((l) => l.startsWith('telehealth_logins_total{'));
    expect(lines).toHaveLength(6);
    expect(lines.every((l) => l.endsWith(' 0'))).toBe(true);
    expect(() =>
      t.counter({ name: 'open_total', help: 'h', labels: { job: { cap: 5 } }, zeroInit: true }),
    ).toThrow(expect.objectContaining({ code: 'TELEMETRY_ZERO_INIT_NEEDS_CLOSED_SETS' }));
  });

  it('init() creates a single valid combination at 0', async () => {
    const t = bare();
    const c = t.counter({ name: 'e_total', help: 'h', labels: { type: ['a', 'b'], reason: ['x', 'y'] } });
    c.init({ type: 'a', reason: 'y' });
    const text = await t.render();
    expect(sampleValue(text, 'telehealth_e_total{type="a",reason="y"}')).toBe(0);
    expect(sampleValue(text, 'telehealth_e_total{type="b",reason="x"}')).toBeUndefined();
  });

  it('maps values outside a closed set to "other" and counts the overflow', async () => {
    const t = bare();
    const c = t.counter({ name: 'logins_total', help: 'h', labels: { outcome: ['success', 'failure'] } });
    c.inc({ outcome: 'success' });
    c.inc({ outcome: 'alice@example.org' as 'success' });
    c.inc({} as never, 2);
    const text = await t.render();
    expect(sampleValue(text, 'telehealth_logins_total{outcome="success"}')).toBe(1);
    expect(sampleValue(text, 'telehealth_logins_total{outcome="other"}')).toBe(3);
    expect(text).not.toContain('alice');
    expect(
      sampleValue(text, 'telehealth_metrics_label_overflow_total{metric="telehealth_logins_total"}'),
    ).toBe(2);
  });

  it('caps an open label and the series of a metric; the overflow counter starts at 0', async () => {
    const t = createTelemetry({ defaultMetrics: false, defaultSeriesCap: 3 });
    const g = t.gauge({ name: 'queue_depth', help: 'h', labels: { queue: {} } });
    expect(
      sampleValue(
        await t.render(),
        'telehealth_metrics_label_overflow_total{metric="telehealth_queue_depth"}',
      ),
    ).toBe(0);
    for (let i = 0; i < 1000; i++) g.set({ queue: `q${i}` }, i);
    const text = await t.render();
    const series = sampleLines(text).filter((l) => l.startsWith('telehealth_queue_depth{'));
    expect(series.map((l) => l.split(' ')[0])).toEqual([
      'telehealth_queue_depth{queue="q0"}',
      'telehealth_queue_depth{queue="q1"}',
      'telehealth_queue_depth{queue="q2"}',
      'telehealth_queue_depth{queue="other"}',
    ]);
    expect(sampleValue(text, 'telehealth_queue_depth{queue="other"}')).toBe(999);
    expect(
      sampleValue(text, 'telehealth_metrics_label_overflow_total{metric="telehealth_queue_depth"}'),
    ).toBe(997);
    // Known values keep working after the cap is reached.
    g.set({ queue: 'q1' }, 42);
    expect(sampleValue(await t.render(), 'telehealth_queue_depth{queue="q1"}')).toBe(42);
  });

  it('applies the series cap across labels: a closed label keeps its value, open ones become other', async () => {
    const t = bare();
    const c = t.counter({
      name: 'jobs_total',
      help: 'h',
      labels: { job: { cap: 100 }, outcome: ['success', 'failure'] },
      seriesCap: 4,
    });
    for (let i = 0; i < 50; i++) c.inc({ job: `j${i}`, outcome: i % 2 ? 'success' : 'failure' });
    const lines = sampleLines(await t.render()).filter((l) => l.startsWith('telehealth_jobs_total{'));
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(lines).toContain('telehealth_jobs_total{job="other",outcome="success"} 23');
    expect(lines).toContain('telehealth_jobs_total{job="other",outcome="failure"} 23');
  });

  it('treats oversized label values as overflow and escapes the rest', async () => {
    const t = bare();
    const g = t.gauge({ name: 'g', help: 'line1\nline2 "q" \\', labels: { k: {} } });
    g.set({ k: 'x'.repeat(500) }, 1);
    g.set({ k: 'a"b\\c\nd' }, 2);
    const text = await t.render();
    expect(sampleValue(text, 'telehealth_g{k="other"}')).toBe(1);
    expect(sampleValue(text, 'telehealth_g{k="a\\"b\\\\c\\nd"}')).toBe(2);
    expect(text).toContain('# HELP telehealth_g line1\\nline2 "q" \\\\');
  });

  it('ignores invalid values instead of throwing on the request path', async () => {
    const t = bare();
    const c = t.counter({ name: 'c_total', help: 'h' });
    const g = t.gauge({ name: 'g', help: 'h' });
    const h = t.histogram({ name: 'h_seconds', help: 'h', buckets: [1] });
    c.inc(-5);
    c.inc(NaN);
    c.inc(2);
    g.set(NaN);
    g.set(7);
    g.dec(2);
    h.observe(-1);
    h.observe(Infinity);
    h.observe(0.5);
    const text = await t.render();
    expect(sampleValue(text, 'telehealth_c_total')).toBe(2);
    expect(sampleValue(text, 'telehealth_g')).toBe(5);
    expect(sampleValue(text, 'telehealth_h_seconds_count')).toBe(1);
  });

  it('histograms render cumulative buckets, +Inf, sum and count; metrics stay readable through prom-client', async () => {
    const t = bare();
    const h = t.histogram({ name: 'job_seconds', help: 'h', labels: { job: ['a'] }, buckets: [0.1, 1] });
    h.observe({ job: 'a' }, 0.05);
    h.observe({ job: 'a' }, 0.5);
    h.observe({ job: 'a' }, 5);
    const text = await t.render();
    expect(sampleValue(text, 'telehealth_job_seconds_bucket{job="a",le="0.1"}')).toBe(1);
    expect(sampleValue(text, 'telehealth_job_seconds_bucket{job="a",le="1"}')).toBe(2);
    expect(sampleValue(text, 'telehealth_job_seconds_bucket{job="a",le="+Inf"}')).toBe(3);
    expect(sampleValue(text, 'telehealth_job_seconds_sum{job="a"}')).toBeCloseTo(5.55);
    expect(sampleValue(text, 'telehealth_job_seconds_count{job="a"}')).toBe(3);
    // prom-client's own formatter sees the same numbers (other code may call registry.metrics()).
    const viaPromClient = await t.registry.metrics();
    expect(sampleValue(viaPromClient, 'telehealth_job_seconds_bucket{job="a",le="1"}')).toBe(2);
    expect(sampleValue(viaPromClient, 'telehealth_job_seconds_count{job="a"}')).toBe(3);
  });

  it('reads gauges through collect() at scrape time and instruments a pg pool', async () => {
    const t = bare();
    let depth = 3;
    t.gauge({
      name: 'queue_events',
      help: 'h',
      collect() {
        g.set(depth);
      },
    });
    const g = t.gauge({ name: 'other_gauge', help: 'h' });
    let stats = { total: 10, idle: 4, waiting: 2 };
    t.instrumentPgPool(() => stats);
    let text = await t.render();
    expect(sampleValue(text, 'telehealth_db_pool_connections{state="total"}')).toBe(10);
    expect(sampleValue(text, 'telehealth_db_pool_connections{state="waiting"}')).toBe(2);
    expect(sampleValue(text, 'telehealth_other_gauge')).toBe(3);
    stats = { total: 5, idle: 5, waiting: 0 };
    depth = 9;
    text = await t.render();
    expect(sampleValue(text, 'telehealth_db_pool_connections{state="idle"}')).toBe(5);
    expect(sampleValue(text, 'telehealth_other_gauge')).toBe(9);
  });
});
