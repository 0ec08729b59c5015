/**
 * npm run bench:stack: the cost of the full instrumentation (RED metrics, one access-log line per
 * request, OpenTelemetry tracing at the default sampling with spans exported over OTLP to a local
 * sink) against the same service with all of it off, measured in one run on:
 *   - hello world: GET /api/ping (no database, no auth)
 *   - realistic:   GET /api/patients/:id as the patient (JWT + session touch + PHI decrypt + event)
 * Method: both services run side by side as built processes (dist/, as `npm start` runs), each on a
 * database of its own. Capacity is measured closed-loop (autocannon, fixed connections), alternating
 * in short rounds (B/A, then A/B) and judged on the median of the per-round ratios; then p99 at half of
 * the uninstrumented capacity (open loop, same rate for
 * both). Prints figures and ratios; goals: hello >= 0.5, realistic >= 0.85, p99 <= baseline + 10 ms.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync, existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { describePinning, pinning, spawnServer } from './pinning';
import { ALL_PARTS, envFrom, partsFrom, type Part } from './knobs';
import { median, medianInterval } from './stats';
import { createTestDatabase, isPostgresAvailable, type TestDatabase } from '../test/support/postgres';

const ROOT = resolve(__dirname, '..');
// The script runs from bench/ (tsx) or dist/bench (node): the built files are under ROOT/dist or ROOT.
const DIST =
  existsSync(join(ROOT, 'dist', 'bench', 'stack-server.js')) ||
  !existsSync(join(ROOT, 'bench', 'stack-server.js'))
    ? join(ROOT, 'dist')
    : ROOT;

const CAPACITY_SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const LATENCY_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 6);
// Many short alternating rounds rather than a few long ones: the machine's speed drifts by tens of
// per cent over a minute, and a ratio per round (B and A back to back) cancels most of that drift.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
// Pins this process to the load generator's CPU before anything runs.
pinning();

// Knobs for investigations (bench/knobs.ts): which parts each side has, extra environment for one
// side, which routes run. With a baseline that has parts, the run compares two configurations: the
// same rounds and figures, no goal judged.
const INSTRUMENTED_PARTS = partsFrom('BENCH_PARTS', process.env.BENCH_PARTS, ALL_PARTS);
const BASELINE_PARTS = partsFrom('BENCH_BASELINE_PARTS', process.env.BENCH_BASELINE_PARTS, []);
const SIDE_ENV = {
  instrumented: envFrom('BENCH_ENV_INSTRUMENTED', process.env.BENCH_ENV_INSTRUMENTED),
  baseline: envFrom('BENCH_ENV_BASELINE', process.env.BENCH_ENV_BASELINE),
};
const JUDGED =
  BASELINE_PARTS.length === 0 &&
  Object.keys(SIDE_ENV.instrumented).length === 0 &&
  Object.keys(SIDE_ENV.baseline).length === 0;
const ROUTES = (process.env.BENCH_ROUTES ?? 'hello,phi').split(',');

interface Target {
  name: string;
  child: ChildProcess;
  apiUrl: string;
  metricsUrl: string | null;
  token: string;
  patientId: string;
  logFile: string;
  db?: TestDatabase;
}

function build(): void {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  // Type errors elsewhere in a work tree still emit JavaScript; only missing output is fatal.
  if (!existsSync(join(DIST, 'bench', 'stack-server.js'))) throw new Error(`build failed (${r.status})`);
}

function startOtlpSink(): Promise<{ server: Server; url: string; spans: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      // An empty ExportTraceServiceResponse in the encoding of the request (protobuf: zero bytes).
      if (req.headers['content-type'] === 'application/json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      }
    });
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        spans: () => requests,
      }),
    ),
  );
}

async function startTarget(
  name: string,
  parts: Part[],
  dataDir: string,
  otlpUrl: string,
  sideEnv: Record<string, string> = {},
): Promise<Target> {
  const tracing = parts.includes('tracing');
  const db = (await isPostgresAvailable())
    ? await createTestDatabase(`bench_${name.replace(/\W/g, '_')}`)
    : undefined;
  const logFile = join(dataDir, `${name}.log`);
  const out = openSync(logFile, 'a');
  // BENCH_NODE_ARGS: node options for both services alike (investigations, e.g. GC settings).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const args = tracing
    ? [
        ...nodeArgs,
        '--require',
        join(DIST, 'collector', 'tracing-preload.js'),
        join(DIST, 'bench', 'stack-server.js'),
      ]
    : [...nodeArgs, join(DIST, 'bench', 'stack-server.js')];
  const child = spawnServer(args, {
    cwd: ROOT,
    stdio: ['ignore', out, 'inherit', 'ipc'],
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'development',
      BENCH_PARTS: parts.join(','),
      DATA_DIR: join(dataDir, name),
      ...(db ? { DATABASE_URL: db.url } : {}),
      LOG_LEVEL: 'info',
      ...(tracing
        ? {
            // The service's default protocol (http/protobuf); OTEL_* set for the bench (a sampler,
            // a protocol) reach the traced service.
            OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
            ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('OTEL_'))),
          }
        : { OTEL_SDK_DISABLED: 'true' }),
      ...sideEnv,
    },
  });
  closeSync(out);
  type Info = { apiUrl: string; metricsUrl: string | null; token: string; patientId: string };
  const info = await new Promise<Info>((ok, fail) => {
    child.once('message', (m) => ok(m as Info));
    child.once('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
  });
  return { name, child, logFile, db, ...info };
}

async function stopTarget(t: Target): Promise<void> {
  const exited = new Promise((r) => t.child.once('exit', r));
  t.child.kill('SIGTERM');
  await exited;
  await t.db?.drop();
}

interface Run {
  rps: number;
  /** CPU seconds the server process used during the run (all its threads), per request. */
  cpuPerRequest: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** CPU time of a process, all threads (Linux /proc; NaN elsewhere). Ticks are 10 ms. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

async function load(t: Target, path: string, opts: { seconds: number; rate?: number }): Promise<Run> {
  const cpu0 = cpuSeconds(t.child.pid);
  const r = await autocannon({
    url: t.apiUrl + path.replace(':patientId', t.patientId),
    connections: opts.rate ? Math.max(8, Math.min(CONNECTIONS, Math.ceil(opts.rate / 100))) : CONNECTIONS,
    duration: opts.seconds,
    headers: { authorization: `Bearer ${t.token}` },
    ...(opts.rate ? { overallRate: Math.round(opts.rate) } : {}),
  });
  return {
    rps: r.requests.average,
    cpuPerRequest: (cpuSeconds(t.child.pid) - cpu0) / Math.max(1, r.requests.total),
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

const fmt = (n: number, d = 0) => n.toFixed(d).padStart(8);

/**
 * Where the goal lies against a ~90 % interval for the true median of the per-round ratios (order
 * statistics, independent rounds assumed): a goal inside it is not decided by this run's round-to-round
 * noise. Run-to-run drift of the host comes on top (docs/benchmarks/app.md, A/A).
 */
function describeInterval(ratios: readonly number[], goal: number): string {
  const i = medianInterval(ratios);
  if (i === undefined) return `median interval: too few rounds (${ratios.length}) for 90 %`;
  const where =
    goal < i.low
      ? "the goal is below it: met beyond this run's round-to-round noise"
      : goal > i.high
        ? "the goal is above it: missed beyond this run's round-to-round noise"
        : "the goal is inside it: this run's rounds do not decide it";
  return `interval for the median ${i.low.toFixed(2)}-${i.high.toFixed(2)} (${(i.coverage * 100).toFixed(0)} %, values ${i.ranks[0]} and ${i.ranks[1]} of ${ratios.length}); ${where}`;
}

async function main(): Promise<void> {
  build();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-stack-'));
  const sink = await startOtlpSink();
  const targets: Target[] = [];
  try {
    const inst = await startTarget(
      'instrumented',
      INSTRUMENTED_PARTS,
      dataDir,
      sink.url,
      SIDE_ENV.instrumented,
    );
    targets.push(inst);
    const base = await startTarget('baseline', BASELINE_PARTS, dataDir, sink.url, SIDE_ENV.baseline);
    targets.push(base);
    const routes = [
      { key: 'hello', name: 'hello world   GET /api/ping', path: '/api/ping', goal: 0.5 },
      {
        key: 'phi',
        name: 'realistic     GET /api/patients/:id',
        path: '/api/patients/:patientId',
        goal: 0.85,
      },
    ].filter((r) => ROUTES.includes(r.key));
    console.log(
      `bench:stack  ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}, db ${base.db ? 'postgres' : 'pglite'}, ` +
        `${CONNECTIONS} connections, ${CAPACITY_SECONDS}s capacity runs (${ROUNDS} alternating rounds), ${LATENCY_ROUNDS} x ${LATENCY_SECONDS}s latency runs per side, ` +
        describePinning(),
    );
    if (!JUDGED) {
      const describe = (parts: Part[], env: Record<string, string>) =>
        `${parts.length > 0 ? parts.join('+') : 'no parts'}${Object.keys(env).length > 0 ? ' ' + JSON.stringify(env) : ''}`;
      console.log(
        `comparison, goals not judged: "baseline" = ${describe(BASELINE_PARTS, SIDE_ENV.baseline)}, ` +
          `"instrumented" = ${describe(INSTRUMENTED_PARTS, SIDE_ENV.instrumented)}`,
      );
    }
    const results: string[] = [];
    let failed = 0;
    for (const route of routes) {
      // Warm-up: JIT, pools, first spans, young-generation sizing. 2 s was short: the first round
      // after it was often the run's lowest (0.48-0.74 against 0.8-0.9 later, docs/benchmarks/app.md).
      await load(inst, route.path, { seconds: WARMUP_SECONDS });
      await load(base, route.path, { seconds: WARMUP_SECONDS });
      const cap = { instrumented: [] as Run[], baseline: [] as Run[] };
      const perRound: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // B/A, then A/B: neither side always runs first (warmer caches, drift within a round).
        const order =
          round % 2 === 0 ? (['baseline', 'instrumented'] as const) : (['instrumented', 'baseline'] as const);
        for (const which of order) {
          cap[which].push(
            await load(which === 'baseline' ? base : inst, route.path, { seconds: CAPACITY_SECONDS }),
          );
        }
        perRound.push((cap.instrumented.at(-1) as Run).rps / (cap.baseline.at(-1) as Run).rps);
      }
      const mean = (runs: Run[]) => runs.reduce((s, r) => s + r.rps, 0) / runs.length;
      const baseRps = mean(cap.baseline);
      const instRps = mean(cap.instrumented);
      const roundRatio = median(perRound);
      const half = baseRps / 2;
      // Latency in alternating rounds too (one 10 s run each gave baseline p99s of 20 to 96 ms from
      // run to run): the median of each side's p99s.
      const lat = { baseline: [] as Run[], instrumented: [] as Run[] };
      for (let round = 0; round < LATENCY_ROUNDS; round++) {
        const order =
          round % 2 === 0 ? (['baseline', 'instrumented'] as const) : (['instrumented', 'baseline'] as const);
        for (const which of order) {
          lat[which].push(
            await load(which === 'baseline' ? base : inst, route.path, {
              seconds: LATENCY_SECONDS,
              rate: half,
            }),
          );
        }
      }
      const lb = { p50: median(lat.baseline.map((r) => r.p50)), p99: median(lat.baseline.map((r) => r.p99)) };
      const li = {
        p50: median(lat.instrumented.map((r) => r.p50)),
        p99: median(lat.instrumented.map((r) => r.p99)),
      };
      const bad = [...cap.baseline, ...cap.instrumented, ...lat.baseline, ...lat.instrumented].reduce(
        (s, r) => s + r.non2xx + r.errors,
        0,
      );
      // The goal is judged on the median of the per-round ratios; the ratio of means is printed too.
      const ratio = roundRatio;
      const p99ok = li.p99 <= lb.p99 + 10;
      const ok = ratio >= route.goal && p99ok && bad === 0;
      // CPU per request at capacity, each process's own (its threads included): what the ratio of
      // throughputs estimates, without the share of CPU 0 that PostgreSQL or the other process took.
      const cpuOf = (runs: Run[]) =>
        runs.reduce((a, r) => a + r.cpuPerRequest * r.requests, 0) / runs.reduce((a, r) => a + r.requests, 0);
      const cpuBase = cpuOf(cap.baseline);
      const cpuInst = cpuOf(cap.instrumented);
      if (!ok && JUDGED) failed += 1;
      results.push(
        [
          `${route.name}`,
          `  capacity req/s   baseline ${fmt(baseRps)}   instrumented ${fmt(instRps)}   ratio of means ${(instRps / baseRps).toFixed(2)}`,
          `  ratio per round  ${perRound.map((r) => r.toFixed(2)).join(' ')}   median ${ratio.toFixed(3)} (goal >= ${route.goal})`,
          `  ${describeInterval(perRound, route.goal)}`,
          `  CPU per request  baseline ${fmt(cpuBase * 1e6)} us   instrumented ${fmt(cpuInst * 1e6)} us   ratio ${(cpuBase / cpuInst).toFixed(2)} (over all capacity rounds; not judged)`,
          `  at ${half.toFixed(0)} req/s (median of ${LATENCY_ROUNDS} rounds)   p50 baseline ${fmt(lb.p50, 1)} ms  instrumented ${fmt(li.p50, 1)} ms`,
          `                  p99 baseline ${fmt(lb.p99, 1)} ms  instrumented ${fmt(li.p99, 1)} ms   (goal <= baseline + 10 ms: ${p99ok ? 'met' : 'NOT met'})`,
          `  non-2xx/errors ${bad}   ${JUDGED ? (ok ? 'GOALS MET' : 'GOALS NOT MET') : 'not judged (a comparison)'}`,
        ].join('\n'),
      );
      console.log(results.at(-1));
    }
    // Evidence that the instrumentation was really on: one access line per request, spans exported.
    await new Promise((r) => setTimeout(r, 6000));
    const accessLines = readFileSync(inst.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"http_request"')).length;
    const baseLines = readFileSync(base.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0).length;
    const scrape = inst.metricsUrl ? await fetch(inst.metricsUrl).then((r) => r.text()) : '';
    const counted = scrape
      .split('\n')
      .filter((l) => l.startsWith('telehealth_http_requests_total{'))
      .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    // How many requests were traced: the sampled share is what tracing's cost varies with.
    const decisions = scrape
      .split('\n')
      .filter((l) => l.startsWith('telehealth_trace_sampling_decisions_total{'))
      .map((l) => `${/decision="(\w+)"/.exec(l)?.[1]} ${l.split(' ').at(-1)}`)
      .join(', ');
    console.log(
      `instrumented: ${accessLines} access-log lines for ${counted} requests counted in /metrics, ${sink.spans()} OTLP export requests` +
        `${decisions ? ` (trace sampling decisions: ${decisions})` : ''}; baseline: ${baseLines} log lines`,
    );
    if (process.argv.includes('--breakdown')) {
      // Which part costs what on the hello-world route: each part alone against the baseline.
      console.log('breakdown (hello world capacity, each part alone):');
      for (const part of ALL_PARTS) {
        const one = await startTarget(part, [part], dataDir, sink.url);
        targets.push(one);
        await load(one, '/api/ping', { seconds: 2 });
        // Four alternating rounds, median ratio: one round each said anything from 0.76 to 1.2.
        const ratios: number[] = [];
        for (let round = 0; round < 4; round++) {
          const first = round % 2 === 0 ? base : one;
          const a = await load(first, '/api/ping', { seconds: CAPACITY_SECONDS });
          const b = await load(first === base ? one : base, '/api/ping', { seconds: CAPACITY_SECONDS });
          ratios.push(first === base ? b.rps / a.rps : a.rps / b.rps);
        }
        console.log(
          `  ${part.padEnd(8)} ratio per round ${ratios.map((r) => r.toFixed(2)).join(' ')}   median ${median(ratios).toFixed(2)}`,
        );
      }
    }
    process.exitCode = failed > 0 ? 1 : 0;
  } finally {
    for (const t of targets) await stopTarget(t).catch(() => undefined);
    sink.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
