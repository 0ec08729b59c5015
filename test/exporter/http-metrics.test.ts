import { EventEmitter } from 'node:events';
import http from 'node:http';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { createTelemetry, HTTP_DURATION_BUCKETS_SECONDS, type Telemetry } from '../../exporter';
import {
  express,
  listen,
  request,
  type Running,
  sampleLines,
  sampleValue,
  TestContextManager,
} from './helpers';

const REQ = 'telehealth_http_requests_total';
const DUR = 'telehealth_http_request_duration_seconds';

function buildApp(t: Telemetry, withMiddleware = true) {
  const app = express();
  if (withMiddleware) app.use(t.httpMiddleware());
  app.use(t.healthRouter());
  app.get('/metrics', t.metricsHandler());
  const patients = express.Router();
  patients.get('/:id', (_req, res) => {
    res.json({ ok: true });
  });
  const v1 = express.Router();
  v1.use('/patients', patients);
  app.use('/api/v1', v1);
  app.post('/orders', (_req, res) => {
    res.status(201).end();
  });
  app.get('/slow', () => {
    // Never answers: the client gives up first.
  });
  return app;
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
}

// The same behaviour through an Express layer and through the request-listener wrapper.
describe.each(['middleware', 'request listener'] as const)('HTTP metrics as %s', (mode) => {
  let t: Telemetry;
  let server: Running;
  beforeEach(async () => {
    t = createTelemetry({ defaultMetrics: false });
    server = await listen(mode === 'middleware' ? buildApp(t) : t.httpRequestListener(buildApp(t, false)));
  });
  afterEach(async () => {
    await server.close();
  });

  it('reports the full route template of a route mounted under nested routers', async () => {
    await request(server.port, '/api/v1/patients/123');
    await request(server.port, '/api/v1/patients/456?x=1');
    await settle();
    const text = await t.render();
    expect(sampleValue(text, `${REQ}{method="GET",route="/api/v1/patients/:id",status_code="200"}`)).toBe(2);
    expect(text).not.toContain('123');
    expect(
      sampleValue(text, `${DUR}_count{method="GET",route="/api/v1/patients/:id",status_code="200"}`),
    ).toBe(2);
  });

  it('labels unmatched requests __unmatched__ and unknown methods OTHER', async () => {
    await request(server.port, '/no/such/path');
    await request(server.port, '/orders', { method: 'PROPFIND' });
    await request(server.port, '/orders', { method: 'POST' });
    await settle();
    const text = await t.render();
    expect(sampleValue(text, `${REQ}{method="GET",route="__unmatched__",status_code="404"}`)).toBe(1);
    expect(sampleValue(text, `${REQ}{method="OTHER",route="__unmatched__",status_code="404"}`)).toBe(1);
    expect(sampleValue(text, `${REQ}{method="POST",route="/orders",status_code="201"}`)).toBe(1);
    expect(text).not.toContain('/no/such/path');
    expect(text).not.toContain('PROPFIND');
  });

  it('does not count /metrics, /api/health and /api/ready', async () => {
    expect((await request(server.port, '/api/health')).status).toBe(200);
    expect((await request(server.port, '/api/ready')).status).toBe(200);
    expect((await request(server.port, '/metrics')).status).toBe(200);
    await settle();
    expect(t.httpSeriesCount()).toBe(0);
  });

  it('counts a request whose client aborted as 499 with its route', async () => {
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path: '/slow' });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 100);
    });
    for (let i = 0; i < 50 && t.httpSeriesCount() === 0; i++) await settle();
    const text = await t.render();
    expect(sampleValue(text, `${REQ}{method="GET",route="/slow",status_code="499"}`)).toBe(1);
    // Timed until the client went away. How long after arrival that is depends on when a loaded
    // machine delivers the request to the server, so only a positive duration is asserted.
    expect(sampleValue(text, `${DUR}_sum{method="GET",route="/slow",status_code="499"}`)).toBeGreaterThan(0);
  });

  it('puts the 0.2 s and 2 s thresholds on bucket boundaries', async () => {
    await request(server.port, '/orders', { method: 'POST' });
    await settle();
    const text = await t.render();
    for (const le of ['0.2', '2']) {
      expect(text).toContain(`${DUR}_bucket{method="POST",route="/orders",status_code="201",le="${le}"} `);
    }
  });

  it('keeps the HTTP series count at a small constant after 10,000 requests on random paths and methods', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const methods = [
      'GET',
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'HEAD',
      'OPTIONS',
      'PROPFIND',
      'PURGE',
      'MKCOL',
    ];
    const before = await t.seriesCount();
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const one = () => {
      const r = rnd();
      const path =
        r < 0.3
          ? `/api/v1/patients/${Math.floor(rnd() * 1e9)}`
          : `/x${Math.floor(rnd() * 1e9)}/${rnd().toString(36)}`;
      return request(server.port, path, { method: methods[Math.floor(rnd() * methods.length)], agent });
    };
    const N = 10_000;
    let sent = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (sent < N) {
          sent++;
          await one();
        }
      }),
    );
    agent.destroy();
    await settle();
    // __unmatched__ x 8 method labels x 404, plus /api/v1/patients/:id x its methods and statuses.
    expect(t.httpSeriesCount()).toBeLessThanOrEqual(20);
    const text = await t.render();
    const total = sampleLines(text)
      .filter((l) => l.startsWith(`${REQ}{`))
      .reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
    expect(total).toBe(N);
    const after = await t.seriesCount();
    expect(after - before).toBeLessThanOrEqual(20 * 17);
    expect(sampleValue(text, `telehealth_metrics_label_overflow_total{metric="${DUR}"}`)).toBe(0);
  }, 60_000);

  it('records once, at close, with one listener whatever else the response emits', () => {
    const mw = t.httpMiddleware();
    const res = Object.assign(new EventEmitter(), { statusCode: 204, writableFinished: false });
    const req = { method: 'DELETE', baseUrl: '/api', route: { path: '/orders/:id' } };
    let nextCalls = 0;
    mw(req as never, res as never, () => nextCalls++);
    expect(nextCalls).toBe(1);
    expect(res.listenerCount('finish')).toBe(0);
    expect(res.listenerCount('close')).toBe(1);
    res.writableFinished = true;
    res.emit('finish');
    expect(t.httpSeriesCount()).toBe(0);
    res.emit('close');
    res.emit('close');
    expect(t.httpSeriesCount()).toBe(1);
    return t.render().then((text) => {
      expect(sampleValue(text, `${REQ}{method="DELETE",route="/api/orders/:id",status_code="204"}`)).toBe(1);
    });
  });
});

describe('HTTP route labels of error responses sent outside their router', () => {
  // Express restores req.baseUrl as an error leaves a router, before the error handler further out
  // answers: the label must still be the route's full template, or errors of /api/auth/login land
  // under /login and every router's /:id under one label.
  async function drive(paths: Array<[string, string?]>): Promise<string> {
    const t = createTelemetry({ defaultMetrics: false });
    const app = express();
    const inner = express.Router();
    inner.get('/:id', (req, res, next) => {
      if (req.params.id === 'sync') throw Object.assign(new Error('bad'), { status: 400 });
      if (req.params.id === 'next') return next(Object.assign(new Error('bad'), { status: 409 }));
      if (req.params.id === 'async') return Promise.reject(Object.assign(new Error('bad'), { status: 422 }));
      res.status(404).json({ inside: true });
    });
    inner.post('/', () => {
      throw Object.assign(new Error('bad'), { status: 400 });
    });
    inner.get('/:id/notes/:note', () => {
      throw new Error('boom');
    });
    const outer = express.Router();
    outer.use('/things', inner);
    app.use('/api/v1', outer);
    const other = express.Router();
    other.get('/:id', () => {
      throw Object.assign(new Error('bad'), { status: 400 });
    });
    app.use('/api/others', other);
    app.get('/top/:id', () => {
      throw Object.assign(new Error('bad'), { status: 400 });
    });
    app.use((err: { status?: number }, _req: unknown, res: express.Response, _next: unknown) => {
      res.status(err.status ?? 500).json({ error: true });
    });
    const s = await listen(t.httpRequestListener(app));
    try {
      for (const [p, method] of paths) await request(s.port, p, method ? { method } : {});
      await settle();
    } finally {
      await s.close();
    }
    return t.render();
  }

  it('labels a thrown, passed-on or rejected error with the full template, nested routers included', async () => {
    const text = await drive([
      ['/api/v1/things/sync'],
      ['/api/v1/things/next'],
      ['/api/v1/things/async'],
      ['/api/v1/things/inside'],
      ['/API/V1/Things/sync'],
      ['/api/v1/things/', 'POST'],
      ['/api/v1/things/7/notes/9'],
      ['/api/others/3f2a9c1e-0b7d-4c55-9e21-7a0c2b9d4e10'],
      ['/top/5'],
    ]);
    const series = (route: string, status: number, method = 'GET') =>
      sampleValue(text, `${REQ}{method="${method}",route="${route}",status_code="${status}"}`);
    expect(series('/api/v1/things/:id', 400)).toBe(2);
    expect(series('/api/v1/things/:id', 409)).toBe(1);
    expect(series('/api/v1/things/:id', 422)).toBe(1);
    expect(series('/api/v1/things/:id', 404)).toBe(1);
    expect(series('/api/v1/things/', 400, 'POST')).toBe(1);
    expect(series('/api/v1/things/:id/notes/:note', 500)).toBe(1);
    expect(series('/api/others/:id', 400)).toBe(1);
    expect(series('/top/:id', 400)).toBe(1);
    const routes = new Set(
      sampleLines(text)
        .filter((l) => l.startsWith(`${REQ}{`))
        .map((l) => /route="([^"]*)"/.exec(l)?.[1]),
    );
    expect(routes).toEqual(
      new Set([
        '/api/v1/things/:id',
        '/api/v1/things/',
        '/api/v1/things/:id/notes/:note',
        '/api/others/:id',
        '/top/:id',
      ]),
    );
  });
});

describe('HTTP route labels of parameterised mounts', () => {
  async function drive(mount: string, paths: string[], cap = 500): Promise<string> {
    const t = createTelemetry({ defaultMetrics: false, defaultSeriesCap: cap });
    const app = express();
    app.use(t.httpMiddleware());
    const notes = express.Router();
    notes.get('/', (_req, res) => {
      res.end('ok');
    });
    app.use(mount, notes);
    const s = await listen(app);
    try {
      for (const p of paths) await request(s.port, p);
      await new Promise((r) => setTimeout(r, 30));
    } finally {
      await s.close();
    }
    return t.render();
  }
  const routesOf = (text: string) =>
    new Set(
      sampleLines(text)
        .filter((l) => l.startsWith(`${REQ}{`))
        .map((l) => /route="([^"]*)"/.exec(l)?.[1]),
    );

  it('replaces identifier segments of the matched mount path (ids never become label values)', async () => {
    // Express reports the matched mount path (`/p/17/notes`), not its template.
    const ids = ['17', '3f2a9c1e-0b7d-4c55-9e21-7a0c2b9d4e10', 'a1b2c3d4e5f60718293a'];
    const text = await drive(
      '/p/:pid/notes',
      ids.map((id) => `/p/${id}/notes`),
    );
    expect(routesOf(text)).toEqual(new Set(['/p/:param/notes/']));
    expect(text).not.toContain('3f2a9c1e');
    expect(sampleValue(text, `${REQ}{method="GET",route="/p/:param/notes/",status_code="200"}`)).toBe(3);
  });

  it('labels every spelling of a mount path alike (Express matches mounts regardless of case)', async () => {
    const spellings = ['/api/patients', '/API/Patients', '/api/paTients', '/Api/PATIENTS', '/api/patIents'];
    const text = await drive('/api/patients', spellings, 3);
    expect(routesOf(text)).toEqual(new Set(['/api/patients/']));
    expect(sampleValue(text, `${REQ}{method="GET",route="/api/patients/",status_code="200"}`)).toBe(5);
    expect(sampleValue(text, `telehealth_metrics_label_overflow_total{metric="${DUR}"}`)).toBe(0);
  });

  it('caps distinct route labels that still vary (slugs in a mount path)', async () => {
    const text = await drive(
      '/p/:slug/notes',
      Array.from({ length: 20 }, (_, i) => `/p/clinic-${String.fromCharCode(97 + i)}/notes`),
      3,
    );
    const routes = routesOf(text);
    expect(routes.size).toBe(4);
    expect(routes.has('other')).toBe(true);
    expect(sampleValue(text, `${REQ}{method="GET",route="other",status_code="200"}`)).toBe(17);
    expect(sampleValue(text, `telehealth_metrics_label_overflow_total{metric="${DUR}"}`)).toBe(17);
  });
});

describe('exemplars', () => {
  const manager = new TestContextManager();
  beforeAll(() => context.setGlobalContextManager(manager.enable()));
  afterAll(() => {
    manager.disable();
    context.disable();
  });

  it('attaches the active trace id to the duration histogram, in OpenMetrics only', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const app = express();
    // Stands in for the OpenTelemetry HTTP instrumentation, which makes the server span active.
    app.use((_req, _res, next) => {
      const span = trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.SAMPLED });
      context.with(trace.setSpan(context.active(), span), next);
    });
    app.use(t.httpMiddleware());
    app.get('/traced', (_req, res) => {
      res.end('ok');
    });
    const s = await listen(app);
    await request(s.port, '/traced');
    await settle();
    await s.close();
    const om = await t.render('openmetrics');
    const lines = om.split('\n').filter((l) => l.includes('# {trace_id='));
    expect(lines).toHaveLength(1);
    const m = new RegExp(
      `^${DUR}_bucket\\{method="GET",route="/traced",status_code="200",le="([^"]+)"\\} 1 # \\{trace_id="${traceId}",span_id="${spanId}"\\} ([0-9.e-]+) ([0-9]+\\.[0-9]{3})$`,
    ).exec(lines[0] as string);
    expect(m).not.toBeNull();
    const [, le, value, ts] = m as unknown as [string, string, string, string];
    // The exemplar sits on the first bucket whose bound holds the observed duration.
    const bounds = [0, ...HTTP_DURATION_BUCKETS_SECONDS];
    const i = bounds.indexOf(Number(le));
    expect(i).toBeGreaterThan(0);
    expect(Number(value)).toBeLessThanOrEqual(Number(le));
    expect(Number(value)).toBeGreaterThan(bounds[i - 1] as number);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
    expect(await t.render('prometheus')).not.toContain(traceId);
  });

  it('attaches no exemplar for an unsampled span', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    const app = express();
    app.use((_req, _res, next) => {
      const span = trace.wrapSpanContext({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: TraceFlags.NONE,
      });
      context.with(trace.setSpan(context.active(), span), next);
    });
    app.use(t.httpMiddleware());
    app.get('/traced', (_req, res) => {
      res.end('ok');
    });
    const s = await listen(app);
    await request(s.port, '/traced');
    await settle();
    await s.close();
    expect(await t.render('openmetrics')).not.toContain('# {');
  });
});
