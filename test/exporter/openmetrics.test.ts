/**
 * OpenMetrics exposition checked by a strict parser written from the OpenMetrics 1.0 text format
 * (promtool 2.42 only lints the Prometheus text format), and then by a real Prometheus scraping it.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { createTelemetry } from '../../exporter';
import { express, listen, request, TestContextManager } from './helpers';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABELS = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*")*)?\\}`;
const NUMBER =
  '(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\\.[0-9]+(?:[eE][+-]?[0-9]+)?)|[+-]?Inf|NaN)';
const SAMPLE = new RegExp(
  `^(${NAME})(${LABELS})? (${NUMBER})(?: (${NUMBER}))?(?: # (${LABELS}) (${NUMBER})(?: (${NUMBER}))?)?$`,
);
const SUFFIXES: Record<string, string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  summary: ['', '_count', '_sum', '_created'],
  unknown: [''],
  info: ['_info'],
};

/** Returns the problems found; an empty list means the exposition is valid. */
function checkOpenMetrics(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('# EOF\n')) problems.push('does not end with "# EOF\\n"');
  const lines = text.slice(0, -'# EOF\n'.length).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const seen = new Set<string>();
  let family = '';
  let type = '';
  let buckets: { labels: string; last: number; inf?: number }[] = [];
  const counts = new Map<string, number>();
  const closeHistogram = () => {
    for (const b of buckets) {
      if (b.inf === undefined) problems.push(`${family}{${b.labels}} has no +Inf bucket`);
      else if (counts.get(b.labels) !== b.inf)
        problems.push(`${family}{${b.labels}} _count differs from +Inf`);
    }
    buckets = [];
    counts.clear();
  };
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (line.startsWith('# ')) {
      const m = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
      if (!m) return problems.push(`${at}: bad comment ${line}`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string | undefined];
      if (name !== family) {
        if (type === 'histogram') closeHistogram();
        if (seen.has(name)) problems.push(`${at}: family ${name} appears twice`);
        seen.add(name);
        family = name;
        type = 'unknown';
      }
      if (kind === 'TYPE') {
        if (!(rest! in SUFFIXES) && rest !== 'stateset' && rest !== 'gaugehistogram')
          problems.push(`${at}: type ${rest}`);
        type = rest as string;
      }
      if (kind === 'HELP' && rest !== undefined && /(?<!\\)"/.test(rest.replace(/\\\\/g, ''))) {
        problems.push(`${at}: unescaped quote in HELP`);
      }
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) return problems.push(`${at}: not a sample: ${line}`);
    const [, name, labels = '', value, , exemplar] = m as unknown as (string | undefined)[];
    const suffix = (SUFFIXES[type] ?? ['']).find((s) => name === family + s);
    if (suffix === undefined)
      return problems.push(`${at}: ${name} does not belong to family ${family} (${type})`);
    if (type === 'counter' && Number(value) < 0) problems.push(`${at}: negative counter`);
    if (exemplar !== undefined) {
      if (!(type === 'histogram' && suffix === '_bucket') && !(type === 'counter' && suffix === '_total')) {
        problems.push(`${at}: exemplar on ${name}`);
      }
      const chars = [...exemplar.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].reduce(
        (n, x) => n + (x[1] as string).length + (x[2] as string).length,
        0,
      );
      if (chars > 128) problems.push(`${at}: exemplar labels longer than 128 characters`);
    }
    if (type === 'histogram') {
      const le = /le="([^"]*)"/.exec(labels)?.[1];
      let rest = labels.replace(/,?le="[^"]*"/, '').replace(/^\{,?/, '{');
      if (rest === '{}') rest = '';
      if (suffix === '_bucket') {
        if (le === undefined) return problems.push(`${at}: bucket without le`);
        let b = buckets.find((x) => x.labels === rest);
        if (!b) buckets.push((b = { labels: rest, last: -Infinity }));
        const bound = le === '+Inf' ? Infinity : Number(le);
        if (!(bound > b.last)) problems.push(`${at}: le not increasing`);
        b.last = bound;
        if (le === '+Inf') b.inf = Number(value);
      } else if (suffix === '_count') {
        counts.set(rest, Number(value));
      }
    }
    return undefined;
  });
  if (type === 'histogram') closeHistogram();
  return problems;
}

describe('OpenMetrics exposition', () => {
  const manager = new TestContextManager();
  beforeAll(() => context.setGlobalContextManager(manager.enable()));
  afterAll(() => {
    manager.disable();
    context.disable();
  });

  it('the strict checker finds real problems', () => {
    expect(checkOpenMetrics('# TYPE a counter\na_total 1\n')).toContain('does not end with "# EOF\\n"');
    expect(checkOpenMetrics('# TYPE a gauge\na_total 1\n# EOF\n')[0]).toMatch(/does not belong/);
    expect(checkOpenMetrics('# TYPE a gauge\na 1 # {trace_id="x"} 1\n# EOF\n')[0]).toMatch(/exemplar on a/);
    expect(
      checkOpenMetrics(
        `# TYPE h histogram\nh_bucket{le="1"} 1 # {trace_id="${'x'.repeat(130)}"} 1\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n# EOF\n`,
      ),
    ).toEqual(['line 2: exemplar labels longer than 128 characters']);
    expect(
      checkOpenMetrics('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n# EOF\n')[0],
    ).toMatch(/appears twice/);
  });

  it('is valid OpenMetrics with exemplars after real traffic, default metrics included', async () => {
    const t = createTelemetry({ version: '1.0.0' });
    t.counter({
      name: 'events_total',
      help: 'Events with "quotes" and \\ backslash.',
      labels: { type: ['a'] },
      zeroInit: true,
    });
    t.histogram({ name: 'job_seconds', help: 'h', buckets: [0.5] }).observe({} as never, 0.2, {
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
    });
    const app = express();
    app.use((_req, _res, next) => {
      const span = trace.wrapSpanContext({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: TraceFlags.SAMPLED,
      });
      context.with(trace.setSpan(context.active(), span), next);
    });
    app.use(t.httpMiddleware());
    app.get('/a/:id', (_req, res) => {
      res.end('ok');
    });
    const s = await listen(app);
    await request(s.port, '/a/1');
    await request(s.port, '/nope', { method: 'POST' });
    await s.close();
    const m = await t.startMetricsServer({ port: 0, host: '127.0.0.1' });
    try {
      const body = (
        await request(m.port, '/metrics', { headers: { accept: 'application/openmetrics-text' } })
      ).body;
      expect(checkOpenMetrics(body)).toEqual([]);
      expect(body).toMatch(/# \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\}/);
      expect(body).toMatch(
        /job_seconds_bucket\{le="0.5"\} 1 # \{trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"\} 0.2 /,
      );
    } finally {
      await m.close();
    }
  });

  it('drops an exemplar whose labels exceed the OpenMetrics limit instead of emitting an invalid line', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    t.histogram({ name: 'job_seconds', help: 'h', buckets: [0.5] }).observe({} as never, 0.2, {
      trace_id: 'x'.repeat(200),
    });
    const body = await t.render('openmetrics');
    expect(body).not.toContain('# {');
    expect(checkOpenMetrics(body)).toEqual([]);
  });
});
