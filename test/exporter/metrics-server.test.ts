import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTelemetry, type Telemetry } from '../../exporter';
import { resolveBearerToken } from '../../exporter/metrics-auth';
import { express, listen, request } from './helpers';

const TOKEN = 'dev-metrics-token-0123456789abcdef';
const PROMTOOL = '/usr/bin/promtool';

function busyTelemetry(): Telemetry {
  const t = createTelemetry({ version: '1.0.0' });
  const c = t.counter({
    name: 'events_total',
    help: 'Events "quoted" \\ help',
    labels: { type: ['a', 'b'] },
    zeroInit: true,
  });
  c.inc({ type: 'a' }, 3);
  t.histogram({ name: 'job_seconds', help: 'Jobs.', labels: { job: { cap: 5 } }, buckets: [0.1, 1] }).observe(
    { job: 'nightly' },
    0.4,
    { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
  );
  t.gauge({ name: 'queue_events', help: 'Queue.' }).set(4);
  t.instrumentPgPool(() => ({ total: 2, idle: 1, waiting: 0 }));
  t.readiness.register('database', async () => undefined);
  return t;
}

describe('metrics server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'exporter-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the Prometheus text format on its own port and nothing else', async () => {
    const t = busyTelemetry();
    const m = await t.startMetricsServer({ port: 0, host: '127.0.0.1' });
    try {
      expect(m.url).toBe(`http://127.0.0.1:${m.port}/metrics`);
      const r = await request(m.port, '/metrics');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(r.body).toContain('telehealth_events_total{type="a"} 3');
      expect(r.body).not.toContain('# EOF');
      expect((await request(m.port, '/')).status).toBe(404);
      expect((await request(m.port, '/metrics', { method: 'POST' })).status).toBe(405);
      const head = await request(m.port, '/metrics', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
    } finally {
      await m.close();
    }
  });

  it('serves OpenMetrics with exemplars when the scraper asks for it', async () => {
    const t = busyTelemetry();
    const m = await t.startMetricsServer({ port: 0, host: '127.0.0.1' });
    try {
      const r = await request(m.port, '/metrics', {
        headers: {
          accept:
            'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
        },
      });
      expect(r.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(r.body.endsWith('# EOF\n')).toBe(true);
      expect(r.body).toContain('# TYPE telehealth_events counter\n');
      expect(r.body).toContain('telehealth_events_total{type="a"} 3\n');
      expect(r.body).toMatch(
        /telehealth_job_seconds_bucket\{job="nightly",le="1"\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} 0\.4 \d+\.\d{3}\n/,
      );
    } finally {
      await m.close();
    }
  });

  it('is not mounted on the API app; metricsHandler() mounts it only when asked', async () => {
    const t = busyTelemetry();
    const app = express();
    app.use(t.healthRouter());
    const api = await listen(app);
    expect((await request(api.port, '/metrics')).status).toBe(404);
    await api.close();
    const app2 = express();
    app2.get('/metrics', t.metricsHandler({ bearerToken: TOKEN }));
    const api2 = await listen(app2);
    expect((await request(api2.port, '/metrics')).status).toBe(401);
    const ok = await request(api2.port, '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('telehealth_build_info{version="1.0.0"} 1');
    await api2.close();
  });

  it.each([
    ['missing', undefined],
    ['wrong', `Bearer ${'x'.repeat(TOKEN.length)}`],
    ['wrong length', `Bearer ${TOKEN}x`],
    ['prefix only', `Bearer ${TOKEN.slice(0, 10)}`],
    ['empty', 'Bearer '],
    ['other scheme', `Basic ${Buffer.from(`a:${TOKEN}`).toString('base64')}`],
  ])('answers 401 with WWW-Authenticate to a %s token', async (_what, header) => {
    const t = busyTelemetry();
    const m = await t.startMetricsServer({ port: 0, host: '127.0.0.1', bearerToken: TOKEN });
    try {
      const r = await request(m.port, '/metrics', {
        headers: header === undefined ? {} : { authorization: header },
      });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(r.body).not.toContain('telehealth_');
      const good = await request(m.port, '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(good.status).toBe(200);
    } finally {
      await m.close();
    }
  });

  it('reads the token from a file, from METRICS_BEARER_TOKEN_FILE and from METRICS_BEARER_TOKEN', async () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    expect(resolveBearerToken({ bearerTokenFile: file }, {})).toBe(TOKEN);
    expect(resolveBearerToken({}, { METRICS_BEARER_TOKEN_FILE: file })).toBe(TOKEN);
    expect(resolveBearerToken({}, { METRICS_BEARER_TOKEN: TOKEN })).toBe(TOKEN);
    expect(resolveBearerToken({}, {})).toBeUndefined();
    const t = busyTelemetry();
    const m = await t.startMetricsServer({ port: 0, host: '127.0.0.1', bearerTokenFile: file });
    try {
      expect((await request(m.port, '/metrics')).status).toBe(401);
      expect(
        (await request(m.port, '/metrics', { headers: { authorization: `bearer ${TOKEN}` } })).status,
      ).toBe(200);
    } finally {
      await m.close();
    }
  });

  it('fails at start-up on an unreadable or empty token file, naming the file', async () => {
    const t = busyTelemetry();
    const missing = path.join(dir, 'nope');
    await expect(t.startMetricsServer({ port: 0, bearerTokenFile: missing })).rejects.toMatchObject({
      code: 'TELEMETRY_TOKEN_FILE_UNREADABLE',
      message: expect.stringContaining(missing),
    });
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n');
    await expect(t.startMetricsServer({ port: 0, bearerTokenFile: empty })).rejects.toThrow(/empty/);
    expect(() => resolveBearerToken({ bearerToken: 'short' })).toThrow(/shorter than 16/);
    expect(() => resolveBearerToken({ bearerToken: TOKEN, bearerTokenFile: missing })).toThrow(/not both/);
  });

  const promtool = existsSync(PROMTOOL) ? it : it.skip;
  promtool('passes promtool check metrics after real traffic', async () => {
    const t = busyTelemetry();
    const app = express();
    app.use(t.httpMiddleware());
    app.get('/api/v1/items/:id', (_req, res) => {
      res.json({});
    });
    const api = await listen(app);
    await request(api.port, '/api/v1/items/1');
    await request(api.port, '/missing', { method: 'DELETE' });
    await api.close();
    const m = await t.startMetricsServer({ port: 0, host: '127.0.0.1' });
    try {
      const body = (await request(m.port, '/metrics')).body;
      expect(body).toContain(
        'telehealth_http_requests_total{method="GET",route="/api/v1/items/:id",status_code="200"} 1',
      );
      const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
      expect(run.stdout + run.stderr).toBe('');
      expect(run.status).toBe(0);
      // The check can fail: a gauge named like a counter is reported.
      const bad = spawnSync(PROMTOOL, ['check', 'metrics'], {
        input: '# HELP x_total h\n# TYPE x_total gauge\nx_total 1\n',
        encoding: 'utf8',
      });
      expect(bad.status).not.toBe(0);
    } finally {
      await m.close();
    }
  });
});
