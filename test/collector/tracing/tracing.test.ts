/**
 * Tracing end to end in real child processes (jest's module loader bypasses the require hooks
 * OpenTelemetry patches through): the preload with the standard OTEL_* variables exporting OTLP
 * JSON to a local receiver, the in-memory exporter, and the off switches.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURE = path.join(__dirname, 'fixtures/traced-app.ts');
const PRELOAD = path.join(ROOT, 'collector/tracing-preload.ts');
const MEMORY = path.join(__dirname, 'fixtures/memory-tracing.ts');

interface OtlpSpan {
  traceId: string;
  spanId: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}
interface Collected {
  spans: Array<OtlpSpan & { scope: string }>;
  resource: Record<string, unknown>;
  bodies: string[];
}

jest.setTimeout(60_000);

let db: TestDatabase;
let receiver: Server;
let receiverUrl: string;
let collected: Collected;

function attr(span: OtlpSpan, key: string): unknown {
  const a = span.attributes.find((x) => x.key === key);
  return a ? Object.values(a.value)[0] : undefined;
}

beforeAll(async () => {
  db = await createTestDatabase('tracing');
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      collected.bodies.push(body);
      if (req.url === '/v1/traces') {
        const parsed = JSON.parse(body) as {
          resourceSpans: Array<{
            resource: { attributes: Array<{ key: string; value: Record<string, unknown> }> };
            scopeSpans: Array<{ scope: { name: string }; spans: OtlpSpan[] }>;
          }>;
        };
        for (const rs of parsed.resourceSpans) {
          for (const a of rs.resource.attributes) collected.resource[a.key] = Object.values(a.value)[0];
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans) collected.spans.push({ ...s, scope: ss.scope.name });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
});

beforeEach(() => {
  collected = { spans: [], resource: {}, bodies: [] };
});

afterAll(async () => {
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await db.drop();
});

async function runFixture(
  preload: string,
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', '--require', preload, FIXTURE], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, OTEL_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { stdout, stderr, code };
}

function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('tracing preload with OTEL_* variables', () => {
  test('a request through express + pg makes spans, exported over OTLP, and its log lines carry the trace id', async () => {
    const run = await runFixture(PRELOAD, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '1',
      OTEL_SERVICE_NAME: 'fixture-otlp',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      npm_package_version: '7.7.7',
    });
    expect(run.stderr).toContain('FIXTURE_STATUS 200 200');
    expect(run.code).toBe(0);

    const server = collected.spans.find((s) => s.kind === 2 && attr(s, 'http.route') === '/api/things/:id');
    expect(server).toBeDefined();
    const traceId = server!.traceId;
    const inTrace = collected.spans.filter((s) => s.traceId === traceId);
    const scopes = new Set(inTrace.map((s) => s.scope));
    expect(scopes).toEqual(
      new Set([
        '@opentelemetry/instrumentation-http',
        '@opentelemetry/instrumentation-express',
        '@opentelemetry/instrumentation-pg',
      ]),
    );
    expect(
      inTrace.some((s) => s.scope.endsWith('-pg') && attr(s, 'db.query.text') === 'SELECT $1::int AS id'),
    ).toBe(true);
    // Only our four instrumentations: no fs/dns/net noise, and probes are not traced.
    for (const s of collected.spans) expect(s.scope).toMatch(/instrumentation-(http|express|pg|pino)$/);
    expect(collected.spans.some((s) => attr(s, 'http.route') === '/api/health')).toBe(false);
    expect(collected.resource['service.name']).toBe('fixture-otlp');
    expect(collected.resource['service.version']).toBe('7.7.7');
    expect(collected.resource['process.command_args']).toBeUndefined();
    // The query string (PHI canary) is not exported.
    expect(collected.bodies.join('')).not.toContain('canary');

    const lines = logLines(run.stdout);
    const appLine = lines.find((l) => l['event.action'] === 'thing_read');
    const access = lines.find((l) => l['event.action'] === 'http_request');
    expect(appLine?.['trace.id']).toBe(traceId);
    expect(access?.['trace.id']).toBe(traceId);
    // The access middleware runs inside its express layer span: a span of the same request.
    expect(inTrace.map((s) => s.spanId)).toContain(access?.['span.id']);
    expect(access?.['url.path']).toBe('/api/things/:id');
    expect(run.stdout).not.toContain('canary');
  });

  test('OTEL_SDK_DISABLED=true: nothing is exported or patched, the app still serves', async () => {
    const run = await runFixture(PRELOAD, {
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER_ARG: '1',
    });
    expect(run.stderr).toContain('FIXTURE_STATUS 200 200');
    expect(collected.bodies).toHaveLength(0);
    const lines = logLines(run.stdout);
    expect(lines.find((l) => l['event.action'] === 'thing_read')).toBeDefined();
    expect(lines.every((l) => l['trace.id'] === undefined)).toBe(true);
  });

  test('OTEL_TRACES_EXPORTER=none exports nothing', async () => {
    const run = await runFixture(PRELOAD, {
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER_ARG: '1',
    });
    expect(run.stderr).toContain('FIXTURE_STATUS 200 200');
    expect(collected.bodies).toHaveLength(0);
  });
});

describe('tracing with an in-memory exporter', () => {
  test('spans of one request share a trace; the log line carries it', async () => {
    const run = await runFixture(MEMORY, { OTEL_TRACES_SAMPLER_ARG: '1' });
    const marker = run.stderr.split('\n').find((l) => l.startsWith('FIXTURE_SPANS '));
    expect(marker).toBeDefined();
    const spans = JSON.parse(marker!.slice('FIXTURE_SPANS '.length)) as Array<{
      name: string;
      scope: string;
      traceId: string;
      kind: number;
      resource: Record<string, unknown>;
    }>;
    const server = spans.find((s) => s.kind === 1 && s.name === 'GET /api/things/:id');
    expect(server).toBeDefined();
    expect(
      spans.filter((s) => s.traceId === server!.traceId && s.scope.endsWith('-pg')).length,
    ).toBeGreaterThan(0);
    expect(server!.resource['service.name']).toBe('fixture-memory');
    const appLine = logLines(run.stdout).find((l) => l['event.action'] === 'thing_read');
    expect(appLine?.['trace.id']).toBe(server!.traceId);
  });

  test('the default sampler is parent-based at 10 %: unsampled requests export nothing but still correlate logs', async () => {
    // With ratio 0 (forced here for a deterministic check), no span is sampled.
    const run = await runFixture(MEMORY, { OTEL_TRACES_SAMPLER_ARG: '0' });
    const marker = run.stderr.split('\n').find((l) => l.startsWith('FIXTURE_SPANS '))!;
    expect(JSON.parse(marker.slice('FIXTURE_SPANS '.length))).toEqual([]);
    const appLine = logLines(run.stdout).find((l) => l['event.action'] === 'thing_read');
    expect(appLine?.['trace.id']).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe.each(['traceRequestListener', 'traceServer'])(
  'head sampling before the http instrumentation (%s)',
  (mode) => {
    type FixtureSpan = { name: string; traceId: string; spanId: string; kind: number; scope: string };
    const tp = (traceId: string, sampled: boolean) =>
      `00-${traceId}-00f067aa0ba902b7-${sampled ? '01' : '00'}`;
    const T_UNSAMPLED = '4bf92f3577b34da6a3ce929d0e0e4736';
    const T_SAMPLED = '5bf92f3577b34da6a3ce929d0e0e4737';
    const T_POST = '6bf92f3577b34da6a3ce929d0e0e4738';
    const T_OUT = '7bf92f3577b34da6a3ce929d0e0e4739';
    const T_RAW = '8bf92f3577b34da6a3ce929d0e0e473a';
    const ROOTS = 200;

    async function run(): Promise<{
      spans: FixtureSpan[];
      lines: Array<Record<string, unknown>>;
      stderr: string;
    }> {
      const plan: Array<[string, string, string | null, string | null]> = [
        ...Array.from(
          { length: ROOTS },
          (_, i) => ['GET', `/api/things/${i}`, null, null] as [string, string, null, null],
        ),
        ['GET', '/api/things/1', tp(T_UNSAMPLED, false), null],
        ['GET', '/api/things/2', tp(T_SAMPLED, true), null],
        ['POST', '/api/notes', tp(T_POST, false), JSON.stringify({ text: 'x'.repeat(2000) })],
        ['GET', '/api/out', tp(T_OUT, false), null],
        ['POST', '/api/raw', tp(T_RAW, false), JSON.stringify({ text: 'y'.repeat(2000) })],
      ];
      const r = await runFixture(MEMORY, {
        OTEL_TRACES_SAMPLER_ARG: '0.5',
        // The ratio alone: 200 roots in a second or two would otherwise meet the per-second cap.
        TRACE_SAMPLING_MAX_PER_SECOND: '0',
        FIXTURE_SCENARIO: 'sampling',
        FIXTURE_PLAN: JSON.stringify(plan),
        FIXTURE_SERVER: mode,
      });
      expect(r.stderr).toContain(
        `FIXTURE_STATUSES ${JSON.stringify([...Array(ROOTS).fill(200), 200, 200, 201, 200, 201])}`,
      );
      const marker = r.stderr.split('\n').find((l) => l.startsWith('FIXTURE_SPANS '))!;
      return {
        spans: JSON.parse(marker.slice('FIXTURE_SPANS '.length)) as FixtureSpan[],
        lines: logLines(r.stdout),
        stderr: r.stderr,
      };
    }

    let result: Awaited<ReturnType<typeof run>>;
    beforeAll(async () => {
      result = await run();
    }, 120_000);

    test('the ratio is applied once: about half of new traces are sampled at 0.5, not a quarter', () => {
      const rootServerSpans = result.spans.filter(
        (s) => s.kind === 1 && s.name === 'GET /api/things/:id' && s.traceId !== T_SAMPLED,
      );
      // Binomial(200, 0.5): mean 100, sd ~7; applied twice it would be ~50.
      expect(rootServerSpans.length).toBeGreaterThan(70);
      expect(rootServerSpans.length).toBeLessThan(130);
      // Every sampled request is a whole trace: its express and pg spans share the server span's trace.
      for (const server of rootServerSpans.slice(0, 10)) {
        const scopes = new Set(result.spans.filter((s) => s.traceId === server.traceId).map((s) => s.scope));
        expect(scopes).toEqual(
          new Set([
            '@opentelemetry/instrumentation-http',
            '@opentelemetry/instrumentation-express',
            '@opentelemetry/instrumentation-pg',
          ]),
        );
      }
    });

    test('each incoming request is decided and counted once: sampled ones are the server spans', () => {
      const marker = result.stderr.split('\n').find((l) => l.startsWith('FIXTURE_DECISIONS '))!;
      const counts = JSON.parse(marker.slice('FIXTURE_DECISIONS '.length)) as Record<string, number>;
      const serverSpans = result.spans.filter((s) => s.kind === 1);
      expect(counts.sampled).toBe(serverSpans.length);
      // The plan's requests, and the one the downstream server got from /api/out; the cap is off here.
      expect(counts).toEqual({
        sampled: serverSpans.length,
        not_sampled: ROOTS + 5 + 1 - serverSpans.length,
        rate_limited: 0,
      });
    });

    test("a caller's decision is honoured both ways, and unsampled requests still log their trace id", () => {
      expect(result.spans.some((s) => s.traceId === T_SAMPLED && s.kind === 1)).toBe(true);
      expect(result.spans.some((s) => s.traceId === T_UNSAMPLED)).toBe(false);
      const reads = result.lines.filter((l) => l['event.action'] === 'thing_read');
      expect(reads).toHaveLength(ROOTS + 2);
      expect(
        reads.every((l) => typeof l['trace.id'] === 'string' && /^[0-9a-f]{32}$/.test(l['trace.id'])),
      ).toBe(true);
      expect(reads.some((l) => l['trace.id'] === T_UNSAMPLED)).toBe(true);
      // Unsampled roots get trace ids of their own, distinct per request.
      expect(new Set(reads.map((l) => l['trace.id'])).size).toBe(ROOTS + 2);
      // The access line and the handler's line of one unsampled request share its trace and span ids.
      const access = result.lines.find(
        (l) => l['event.action'] === 'http_request' && l['trace.id'] === T_UNSAMPLED,
      );
      const read = reads.find((l) => l['trace.id'] === T_UNSAMPLED);
      expect(access?.['span.id']).toBe(read?.['span.id']);
      expect(access?.['span.id']).not.toBe('00f067aa0ba902b7');
    });

    test("the express instrumentation's per-layer work runs for sampled requests only", () => {
      const seen = result.stderr
        .split('\n')
        .filter((l) => l.startsWith('FIXTURE_LAYER_STORE '))
        .map((l) => l.slice('FIXTURE_LAYER_STORE '.length));
      expect(seen).toHaveLength(ROOTS + 2);
      // Sampled: the instrumentation kept its layer-path store on the request (route, span names).
      expect(seen.filter((s) => s.startsWith('1 ')).every((s) => s === '1 1 1')).toBe(true);
      expect(seen.filter((s) => s.startsWith('1 ')).length).toBeGreaterThan(50);
      // Unsampled: none of it ran. With traceServer, not even the http instrumentation's ignore path
      // (which binds the request's emitter).
      const unsampled = mode === 'traceServer' ? '0 0 0' : '0 0 1';
      expect(seen.filter((s) => s.startsWith('0 ')).every((s) => s === unsampled)).toBe(true);
      expect(seen.filter((s) => s.startsWith('0 ')).length).toBeGreaterThan(50);
    });

    test('an unsampled request keeps its context after its body was read', () => {
      const note = result.lines.find((l) => l['event.action'] === 'note_written');
      expect(note?.['trace.id']).toBe(T_POST);
      // Read by plain listeners on the request, its second half arriving 50 ms later.
      const raw = result.lines.find((l) => l['event.action'] === 'raw_read');
      expect(raw?.['telehealth.bytes']).toBe(2011);
      expect(raw?.['trace.id']).toBe(T_RAW);
      expect(result.spans.some((s) => s.traceId === T_POST)).toBe(false);
    });

    test('an outgoing call of an unsampled request propagates the not-sampled decision', () => {
      const seen = result.stderr
        .split('\n')
        .filter((l) => l.startsWith('FIXTURE_DOWNSTREAM '))
        .map((l) => l.slice('FIXTURE_DOWNSTREAM '.length));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(new RegExp(`^00-${T_OUT}-[0-9a-f]{16}-00$`));
      expect(result.spans.some((s) => s.traceId === T_OUT)).toBe(false);
    });
  },
);
