/**
 * npm run bench:overhead
 *
 * 1. Throughput: the same Express 5 endpoint, bare and with the exporter's HTTP metrics, served by a
 *    child process pinned to its own CPU (so autocannon in this process does not share its event loop or
 *    core), alternating rounds. BENCH_INTEGRATION picks how the metrics are attached: `listener` (default,
 *    `http.createServer(telemetry.httpRequestListener(app))`, as the service does), `middleware`
 *    (`app.use(telemetry.httpMiddleware())`), or `none` (an A/A run: how far apart two identical
 *    servers measure on this machine).
 * 2. /metrics render time (median) at a service-like registry and at 10k series, against prom-client's own
 *    Registry with prom-client metrics holding the same series (baseline in the same run).
 * 3. Cardinality attack: the whole exposition's sample count before and after 20,000 requests on random
 *    paths and methods.
 */

import { EventEmitter } from 'node:events';
import http, { IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import express from 'express';
import { Counter as PcCounter, Histogram as PcHistogram, Registry as PcRegistry } from 'prom-client';
import { describePinning, pinning, spawnServer } from './pinning';
import { median } from './stats';
import { ACTOR_ROLES, EVENT_TYPES, type EventType } from '../collector/metric-names';
import { createTelemetry, HTTP_DURATION_BUCKETS_SECONDS, HTTP_METHODS, type Telemetry } from '../exporter';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 2);
const CONNECTIONS = 50;
const INTEGRATION_NAMES: Record<string, string> = {
  middleware: 'Express middleware',
  listener: 'request-listener wrapper',
  none: 'A/A: both servers bare',
};

// ---------- child: the two servers ----------
async function serve(): Promise<void> {
  const telemetry = createTelemetry({ version: 'bench' });
  const handler = (req: express.Request, res: express.Response) => {
    res.json({ id: req.params.id, ok: true });
  };
  const bare = express();
  bare.get('/api/v1/items/:id', handler);
  const integration = process.env.BENCH_INTEGRATION ?? 'listener';
  const asListener = integration === 'listener';
  const instrumented = express();
  if (integration === 'middleware') instrumented.use(telemetry.httpMiddleware());
  instrumented.get('/api/v1/items/:id', handler);
  const listen = (app: http.RequestListener) =>
    new Promise<number>((resolve) => {
      const s = http
        .createServer(app)
        .listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port));
    });
  const metrics = await telemetry.startMetricsServer({ port: 0, host: '127.0.0.1' });
  // Reports this process's CPU time, so the parent can compute CPU per request, which the load of other
  // processes on the machine disturbs far less than requests per second.
  const control = express();
  control.get('/cpu', (_req, res) => {
    res.json(process.cpuUsage());
  });
  const ports = {
    bare: await listen(bare),
    instrumented: await listen(asListener ? telemetry.httpRequestListener(instrumented) : instrumented),
    metrics: metrics.port,
    control: await listen(control),
  };
  process.stdout.write(`${JSON.stringify(ports)}\n`);
}

// ---------- parent ----------
interface Figures {
  rps: number;
  p99: number;
  /** Server CPU time (user + system) per request, microseconds. */
  cpuUs: number;
}

let controlPort = 0;

async function serverCpuUs(): Promise<number> {
  const u = JSON.parse(await get(controlPort, '/cpu')) as { user: number; system: number };
  return u.user + u.system;
}

async function load(port: number, seconds: number): Promise<Figures> {
  const cpu0 = await serverCpuUs();
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/api/v1/items/42`,
    connections: CONNECTIONS,
    duration: seconds,
  });
  const cpu1 = await serverCpuUs();
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    cpuUs: (cpu1 - cpu0) / Math.max(1, r.requests.total),
  };
}

async function timeRender(
  render: () => Promise<string>,
  runs: number,
): Promise<{ ms: number; bytes: number }> {
  let bytes = 0;
  for (let i = 0; i < 10; i++) bytes = Buffer.byteLength(await render()); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    // byteLength flattens the string, as the server does before writing it.
    Buffer.byteLength(await render());
    times.push(performance.now() - t0);
  }
  return { ms: median(times), bytes };
}

const ROUTES = Array.from({ length: 25 }, (_, i) => `/api/v1/resource${i}/:id`);
const STATUSES = [200, 201, 400, 404, 500];

/** A registry shaped like the service's: default metrics, the collector's counters, HTTP traffic. */
function serviceLike(): { telemetry: Telemetry; promClient: PcRegistry } {
  const telemetry = createTelemetry({ version: 'bench' });
  const events = telemetry.counter({
    name: 'events_total',
    help: 'Events.',
    labels: {
      event_type: Object.keys(EVENT_TYPES) as EventType[],
      outcome: ['success', 'failure'],
      actor_role: ACTOR_ROLES,
      reason: [...new Set(Object.values(EVENT_TYPES).flatMap((e) => e.reasons as readonly string[]))],
    },
  });
  for (const [type, def] of Object.entries(EVENT_TYPES)) {
    for (const role of ACTOR_ROLES) {
      for (const reason of def.reasons)
        events.init({ event_type: type, outcome: def.outcome, actor_role: role, reason });
    }
  }
  telemetry.instrumentPgPool(() => ({ total: 10, idle: 7, waiting: 0 }));
  return { telemetry, promClient: new PcRegistry() };
}

/** HTTP label sets: routes x 7 methods x 5 statuses, each recorded 3 times through the real middleware. */
function fillHttp(
  telemetry: Telemetry,
  pc: { c: PcCounter<string>; h: PcHistogram<string> } | null,
  sets: number,
) {
  let n = 0;
  outer: for (let r = 0; ; r++) {
    for (const method of HTTP_METHODS) {
      for (const status of STATUSES) {
        if (n++ >= sets) break outer;
        const route = r < ROUTES.length ? (ROUTES[r] as string) : `/api/v1/generated${r}/:id`;
        for (let k = 0; k < 3; k++) {
          fakeRequest(telemetry, method, route, status);
          if (pc) {
            const labels = { method, route, status_code: String(status) };
            pc.c.inc(labels);
            pc.h.observe(labels, 0.001 * (k + 1) * (r + 1));
          }
        }
      }
    }
  }
}

/** Drives the real middleware with a minimal request/response pair (no socket in between). */
function fakeRequest(t: Telemetry, method: string, route: string, status: number): void {
  const res = Object.assign(new EventEmitter(), { statusCode: status, writableFinished: true });
  const req = {
    method,
    baseUrl: '',
    route: FAKE_ROUTES.get(route) ?? FAKE_ROUTES.set(route, { path: route }).get(route),
  };
  middlewareOf(t)(req as never, res as never, () => undefined);
  res.emit('finish');
  res.emit('close');
}

/** Express keeps one Route object per route definition; so do the fake requests. */
const FAKE_ROUTES = new Map<string, { path: string }>();

const middlewares = new WeakMap<Telemetry, express.RequestHandler>();
function middlewareOf(t: Telemetry): express.RequestHandler {
  let mw = middlewares.get(t);
  if (mw === undefined) {
    mw = t.httpMiddleware();
    middlewares.set(t, mw);
  }
  return mw;
}

function promClientTwin(): { registry: PcRegistry; c: PcCounter<string>; h: PcHistogram<string> } {
  const registry = new PcRegistry();
  const labelNames = ['method', 'route', 'status_code'];
  const c = new PcCounter({
    name: 'telehealth_http_requests_total',
    help: 'h',
    labelNames,
    registers: [registry],
  });
  const h = new PcHistogram({
    name: 'telehealth_http_request_duration_seconds',
    help: 'h',
    labelNames,
    buckets: [...HTTP_DURATION_BUCKETS_SECONDS],
    registers: [registry],
  });
  return { registry, c, h };
}

function countSamples(text: string): Map<string, number> {
  const byFamily = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = (line.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/) as RegExpMatchArray)[0].replace(
      /_(bucket|sum|count)$/,
      '',
    );
    byFamily.set(name, (byFamily.get(name) ?? 0) + 1);
  }
  return byFamily;
}

function get(port: number, path: string, method = 'GET', agent?: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

async function attack(port: number, n: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const methods = [
    'GET',
    'POST',
    'PUT',
    'DELETE',
    'PATCH',
    'OPTIONS',
    'HEAD',
    'PROPFIND',
    'PURGE',
    'MKCOL',
    'LOCK',
  ];
  let sent = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (sent < n) {
        sent++;
        const path =
          sent % 3 === 0
            ? `/api/v1/items/${Math.random().toString(36).slice(2)}`
            : `/${Math.random().toString(36).slice(2)}/${sent}?q=${sent}`;
        await get(port, path, methods[sent % methods.length], agent);
      }
    }),
  );
  agent.destroy();
}

async function main(): Promise<void> {
  pinning();
  const child = spawnServer([...process.execArgv, __filename, '--serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ports = await new Promise<{ bare: number; instrumented: number; metrics: number; control: number }>(
    (resolve) => {
      let buf = '';
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0] as string));
      });
    },
  );
  controlPort = ports.control;
  try {
    console.log(
      `# exporter overhead benchmark (node ${process.version}, ${CONNECTIONS} connections, loopback, ${describePinning()}, ${INTEGRATION_NAMES[process.env.BENCH_INTEGRATION ?? 'listener'] ?? 'unknown integration'})`,
    );
    console.log(
      `\n## 1. throughput: ${ROUNDS} alternating rounds of ${ROUND_SECONDS}s each (after a 2s warm-up each)`,
    );
    await load(ports.bare, 2);
    await load(ports.instrumented, 2);
    const bare: Figures[] = [];
    const inst: Figures[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate the order too, so drift (thermal, GC) does not favour one side.
      const order = i % 2 === 0 ? (['bare', 'inst'] as const) : (['inst', 'bare'] as const);
      for (const which of order) {
        const f = await load(which === 'bare' ? ports.bare : ports.instrumented, ROUND_SECONDS);
        (which === 'bare' ? bare : inst).push(f);
        console.log(
          `round ${String(i + 1).padStart(2)} ${which.padEnd(4)} ${f.rps.toFixed(0).padStart(7)} req/s  p99 ${String(f.p99).padStart(4)} ms  server CPU ${f.cpuUs.toFixed(0)} us/req`,
        );
      }
    }
    const bRps = median(bare.map((f) => f.rps));
    const iRps = median(inst.map((f) => f.rps));
    console.log(
      `bare         median ${bRps.toFixed(0)} req/s, p99 median ${median(bare.map((f) => f.p99))} ms`,
    );
    console.log(
      `instrumented median ${iRps.toFixed(0)} req/s, p99 median ${median(inst.map((f) => f.p99))} ms`,
    );
    const ratios = bare.map((b, i) => (inst[i] as Figures).rps / b.rps);
    console.log(
      `ratio instrumented/bare: ${(iRps / bRps).toFixed(3)} of medians; median of per-round ratios ${median(ratios).toFixed(3)} (per round: ${ratios.map((r) => r.toFixed(3)).join(', ')}; goal >= 0.95)`,
    );
    const bCpu = median(bare.map((f) => f.cpuUs));
    const iCpu = median(inst.map((f) => f.cpuUs));
    console.log(
      `server CPU per request: bare ${bCpu.toFixed(1)} us, instrumented ${iCpu.toFixed(1)} us -> CPU-bound throughput ratio ${(bCpu / iCpu).toFixed(3)} (goal >= 0.95)`,
    );
    {
      // The middleware's own cost on real IncomingMessage/ServerResponse objects, without sockets:
      // alternating batches with and without it, so machine load hits both sides alike.
      const t = createTelemetry({ version: 'bench' });
      const mw = t.httpMiddleware();
      const route = { path: '/items/:id' };
      const socket = new Socket();
      const one = (instrumented: boolean) => {
        const req = Object.assign(new IncomingMessage(socket), { method: 'GET', baseUrl: '/api/v1', route });
        const res = new ServerResponse(req);
        if (instrumented) mw(req as never, res as never, () => undefined);
        res.emit('finish');
        res.emit('close');
      };
      const batch = (instrumented: boolean, n: number) => {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) one(instrumented);
        return ((performance.now() - t0) * 1000) / n;
      };
      for (let i = 0; i < 3; i++) {
        batch(false, 20_000);
        batch(true, 20_000);
      }
      const without: number[] = [];
      const withMw: number[] = [];
      for (let i = 0; i < 15; i++) {
        without.push(batch(false, 40_000));
        withMw.push(batch(true, 40_000));
      }
      const deltaUs = median(withMw) - median(without);
      console.log(
        `middleware cost on real req/res objects: ${deltaUs.toFixed(2)} us/request (median of 15 alternating batches of 40k)`,
      );
      console.log(
        `  = ${((deltaUs / bCpu) * 100).toFixed(2)} % of the bare server's CPU per request (${bCpu.toFixed(0)} us) -> implied ratio ${(bCpu / (bCpu + deltaUs)).toFixed(3)}`,
      );
    }

    console.log('\n## 2. /metrics render time (median of 200 renders, in-process)');
    {
      const { telemetry } = serviceLike();
      fillHttp(telemetry, null, 60);
      const samples = [...countSamples(await telemetry.render()).values()].reduce((a, b) => a + b, 0);
      const r = await timeRender(() => telemetry.render(), 200);
      const om = await timeRender(() => telemetry.render('openmetrics'), 200);
      console.log(
        `service-like registry (${samples} samples, ${r.bytes} bytes): text ${r.ms.toFixed(2)} ms, openmetrics ${om.ms.toFixed(2)} ms (goal <= 15 ms)`,
      );
    }
    {
      const { telemetry } = serviceLike();
      const twin = promClientTwin();
      fillHttp(telemetry, twin, 600);
      const samples = [...countSamples(await telemetry.render()).values()].reduce((a, b) => a + b, 0);
      const r = await timeRender(() => telemetry.render(), 200);
      const base = await timeRender(() => twin.registry.metrics(), 50);
      console.log(
        `10k series (${samples} samples: 600 HTTP label sets + the above): exporter ${r.ms.toFixed(2)} ms; prom-client with the same HTTP series ${base.ms.toFixed(2)} ms (goal <= 25 ms)`,
      );
    }
    {
      const t = createTelemetry({ defaultMetrics: false, defaultSeriesCap: 20_000 });
      const c = t.counter({ name: 'series_total', help: 'h', labels: { k: {} } });
      const pc = new PcRegistry();
      const pcc = new PcCounter({
        name: 'telehealth_series_total',
        help: 'h',
        labelNames: ['k'],
        registers: [pc],
      });
      for (let i = 0; i < 10_000; i++) {
        c.inc({ k: `v${i}` });
        pcc.inc({ k: `v${i}` });
      }
      const r = await timeRender(() => t.render(), 200);
      const base = await timeRender(() => pc.metrics(), 50);
      console.log(
        `10k counter label sets: exporter ${r.ms.toFixed(2)} ms; prom-client ${base.ms.toFixed(2)} ms (goal <= 25 ms)`,
      );
    }

    console.log(
      '\n## 3. cardinality attack (20,000 requests, random paths and methods, on the instrumented server)',
    );
    // Warm-up: the legitimate route and the __unmatched__ series of each method label exist before the attack.
    await attack(ports.instrumented, 200);
    const before = countSamples(await get(ports.metrics, '/metrics'));
    await attack(ports.instrumented, 20_000);
    const after = countSamples(await get(ports.metrics, '/metrics'));
    const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    console.log(`samples before ${total(before)}, after ${total(after)}`);
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      const b = before.get(name) ?? 0;
      const a = after.get(name) ?? 0;
      if (a !== b) console.log(`  changed: ${name} ${b} -> ${a}`);
    }
    const http = ['telehealth_http_requests_total', 'telehealth_http_request_duration_seconds'];
    const httpChanged = http.some((n) => before.get(n) !== after.get(n));
    console.log(`HTTP series unchanged: ${!httpChanged}`);
  } finally {
    child.kill();
  }
}

if (process.argv.includes('--serve')) {
  void serve();
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
