/**
 * The real consumer: Prometheus 2.42 (exemplar storage on) scrapes the metrics server with a bearer
 * token from a credentials file, negotiates OpenMetrics, and stores the HTTP exemplar's trace id.
 * A second job with a wrong token must be refused (401).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { createTelemetry, type MetricsServer } from '../../exporter';
import { express, listen, request, TestContextManager } from './helpers';

const PROMETHEUS = '/usr/bin/prometheus';
const TOKEN = 'scrape-token-0123456789abcdefghij';
const TRACE_ID = '5b8efff798038103d269b633813fc60c';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function poll<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting for Prometheus');
    await new Promise((r) => setTimeout(r, 250));
  }
}

const maybe = existsSync(PROMETHEUS) ? describe : describe.skip;

maybe('scraped by a real Prometheus', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'exporter-prom-'));
  const manager = new TestContextManager();
  let prom: ChildProcess | undefined;
  let metrics: MetricsServer | undefined;
  let promPort = 0;

  beforeAll(async () => {
    context.setGlobalContextManager(manager.enable());
    const t = createTelemetry({ version: '9.9.9' });
    const app = express();
    app.use((_req, _res, next) => {
      const span = trace.wrapSpanContext({
        traceId: TRACE_ID,
        spanId: '00f067aa0ba902b7',
        traceFlags: TraceFlags.SAMPLED,
      });
      context.with(trace.setSpan(context.active(), span), next);
    });
    app.use(t.httpMiddleware());
    app.get('/api/v1/visits/:id', (_req, res) => {
      res.json({});
    });
    const api = await listen(app);
    await request(api.port, '/api/v1/visits/7');
    await api.close();

    const tokenFile = path.join(dir, 'token');
    const wrongFile = path.join(dir, 'wrong');
    writeFileSync(tokenFile, TOKEN);
    writeFileSync(wrongFile, `${TOKEN.slice(0, -1)}X`);
    metrics = await t.startMetricsServer({ port: 0, host: '127.0.0.1', bearerTokenFile: tokenFile });
    promPort = await freePort();
    const target = `127.0.0.1:${metrics.port}`;
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        `  - job_name: app`,
        `    authorization: { credentials_file: ${tokenFile} }`,
        `    static_configs: [{ targets: ['${target}'] }]`,
        `  - job_name: wrong_token`,
        `    authorization: { credentials_file: ${wrongFile} }`,
        `    static_configs: [{ targets: ['${target}'] }]`,
        '',
      ].join('\n'),
    );
    prom = spawn(
      PROMETHEUS,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--enable-feature=exemplar-storage',
      ],
      { stdio: 'ignore' },
    );
  }, 30_000);

  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    await metrics?.close();
    manager.disable();
    context.disable();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const api = async (p: string) => {
    const r = await request(promPort, p);
    return JSON.parse(r.body) as { status: string; data: unknown };
  };

  it('scrapes with the token, refuses the wrong one, and stores the trace id exemplar', async () => {
    const targets = await poll(async () => {
      const r = (await api('/api/v1/targets')) as {
        data: { activeTargets: Array<{ labels: { job: string }; health: string; lastError: string }> };
      };
      const t = r.data.activeTargets;
      return t.length === 2 && t.every((x) => x.health !== 'unknown') ? t : undefined;
    }, 20_000);
    const byJob = Object.fromEntries(targets.map((x) => [x.labels.job, x]));
    expect(byJob.app).toMatchObject({ health: 'up', lastError: '' });
    expect(byJob.wrong_token?.health).toBe('down');
    expect(byJob.wrong_token?.lastError).toMatch(/401/);

    const q = encodeURIComponent('telehealth_http_requests_total{job="app",route="/api/v1/visits/:id"}');
    const value = await poll(async () => {
      const r = (await api(`/api/v1/query?query=${q}`)) as {
        data: { result: Array<{ value: [number, string] }> };
      };
      return r.data.result[0]?.value[1];
    }, 10_000);
    expect(value).toBe('1');

    const now = Math.floor(Date.now() / 1000);
    const eq = encodeURIComponent('telehealth_http_request_duration_seconds_bucket{job="app"}');
    const exemplars = await poll(async () => {
      const r = (await api(`/api/v1/query_exemplars?query=${eq}&start=${now - 600}&end=${now + 600}`)) as {
        data: Array<{ exemplars: Array<{ labels: Record<string, string> }> }>;
      };
      const all = r.data.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
      return all.length > 0 ? all : undefined;
    }, 10_000);
    expect(exemplars).toContain(TRACE_ID);
  }, 40_000);
});
