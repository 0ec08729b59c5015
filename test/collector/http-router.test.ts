import fc from 'fast-check';
import { createCollector, type Collector } from '../../collector/collector';
import { openDatabase, type Database } from '../../collector/database';
import { migrate } from '../../collector/migrations';
import { sha256Hex, signBody } from '../../collector/source-auth';
import { createTelemetry, type Telemetry } from '../../exporter';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { makeEvent, ref, tempDir } from './helpers';
import { INGEST_MOUNTS, startIngest, type IngestMount, type IngestServer } from './http-server';
import { switchable } from './switchable-database';

const NO_JOBS = { verify: false, verifyFull: false, gauges: false } as const;
const API_KEY = 'test-api-key-for-app-0123456789abcdef';
const HMAC_SECRET = 'test-hmac-secret-for-billing-0123456789';
const SOURCES = [
  { id: 'app', apiKeySha256: sha256Hex(API_KEY) },
  { id: 'billing', hmacSecret: HMAC_SECRET },
];

let tdb: TestDatabase;
let db: Database;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  tdb = await createTestDatabase('http');
  db = await openDatabase({ url: tdb.url, poolMax: 4 });
  await migrate(db);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

async function setupMounted(
  opts: Partial<Parameters<typeof createCollector>[0]> = {},
  routerOpts: { bodyLimitBytes?: number } = {},
  mount: IngestMount = 'listener',
): Promise<{ collector: Collector; telemetry: Telemetry; server: IngestServer }> {
  const tmp = tempDir('spool-http');
  const telemetry = createTelemetry({ defaultMetrics: false });
  const collector = createCollector({
    telemetry,
    database: db,
    spoolDir: tmp.dir,
    schedule: NO_JOBS,
    ...opts,
  });
  const server = await startIngest(collector, { sources: SOURCES, ...routerOpts }, mount, telemetry);
  cleanups.push(() => tmp.remove());
  cleanups.push(() => collector.close());
  cleanups.push(() => server.close());
  return { collector, telemetry, server };
}

function post(server: IngestServer, body: string | Buffer, headers: Record<string, string> = {}, query = '') {
  return fetch(`${server.url}/v1/events${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, ...headers },
    body,
  });
}

async function rows(ids: string[]): Promise<number> {
  const r = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM audit_events WHERE event_id = ANY($1::uuid[])',
    [ids],
  );
  return Number(r.rows[0]?.n);
}

describe.each(INGEST_MOUNTS)('POST /v1/events (%s)', (mount) => {
  const setup = (
    opts: Partial<Parameters<typeof createCollector>[0]> = {},
    routerOpts: { bodyLimitBytes?: number } = {},
  ) => setupMounted(opts, routerOpts, mount);

  it('accepts one event or a batch with 202 once durable, and stores them', async () => {
    const { collector, server, telemetry } = await setup();
    const one = makeEvent('authn_login_fail');
    const r1 = await post(server, JSON.stringify(one));
    expect(r1.status).toBe(202);
    expect(await r1.json()).toEqual({ accepted: 1 });
    const batch = Array.from({ length: 1000 }, (_, i) => makeEvent(i % 2 ? 'order_created' : 'phi_access'));
    const r2 = await post(server, JSON.stringify(batch));
    expect(r2.status).toBe(202);
    expect(await r2.json()).toEqual({ accepted: 1000 });
    await collector.flush();
    expect(await rows([one.event_id, ...batch.map((e) => e.event_id)])).toBe(1001);
    expect(r1.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r1.headers.get('cache-control')).toBe('no-store');
    // The RED metrics name the route by its template, mounted either way.
    expect(await telemetry.render()).toMatch(
      /telehealth_http_requests_total\{method="POST",route="\/v1\/events",status_code="202"\} 2\n/,
    );
  });

  it('leaves every other request to the app behind it', async () => {
    const { server } = await setup();
    for (const [method, path] of [
      ['GET', '/v1/events'],
      ['POST', '/v1/eventsx'],
      ['POST', '/v1/events/1'],
      ['POST', '/v2/events'],
    ] as const) {
      const r = await fetch(`${server.url}${path}`, { method, body: method === 'POST' ? '{}' : undefined });
      expect([method, path, r.status]).toEqual([method, path, 404]);
    }
    const query = await post(server, JSON.stringify(makeEvent('authn_login_fail')), {}, '?trace=1');
    expect(query.status).toBe(202);
  });

  it('matches the path as the router mount does: any case, one trailing slash, a query string', async () => {
    const { server } = await setup();
    for (const path of ['/v1/events/', '/V1/Events', '/v1/EVENTS/?trace=1']) {
      const r = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify(makeEvent('authn_login_fail')),
      });
      expect([path, r.status]).toEqual([path, 202]);
    }
    for (const path of ['/v1/events//', '/v1/event', '/v1/eventsX/']) {
      const r = await fetch(`${server.url}${path}`, { method: 'POST', body: '{}' });
      expect([path, r.status]).toEqual([path, 404]);
    }
  });

  it('answers 400 with per-item errors, without echoing values, and accepts nothing of that batch', async () => {
    const { server } = await setup();
    const good = makeEvent('authn_login_fail');
    const bad = makeEvent('authn_login_fail', {
      actor: { role: 'patient', ref: 'jane.doe@example.com' },
      patient_name: 'Jane Doe',
    });
    const r = await post(server, JSON.stringify([good, bad]));
    expect(r.status).toBe(400);
    const body = (await r.json()) as { errors: unknown[] };
    expect(body.errors).toEqual(
      expect.arrayContaining([
        { index: 1, path: '', message: 'unknown field(s) not allowed' },
        { index: 1, path: 'actor.ref', message: 'must be a pseudonymous reference' },
      ]),
    );
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/jane|Jane|patient_name/);
    expect(await rows([good.event_id])).toBe(0);
    const other = await post(server, JSON.stringify(makeEvent('authn_login_fail', { source: 'billing' })));
    expect(other.status).toBe(400);
    expect(((await other.json()) as { errors: unknown[] }).errors).toEqual([
      { index: 0, path: 'source', message: 'must be the authenticated source' },
    ]);
    const json = await post(server, '{"event_type": "Jane Doe 123-45-6789"');
    expect(json.status).toBe(400);
    expect(await json.text()).not.toContain('Jane');
    expect((await post(server, '[]')).status).toBe(400);
  });

  it('answers 409 naming event_id when an id is reused for a different event; the same event again is 202', async () => {
    const { collector, server } = await setup();
    const e = makeEvent('authn_login_fail');
    expect((await post(server, JSON.stringify(e))).status).toBe(202);
    expect((await post(server, JSON.stringify(e))).status).toBe(202);
    const fresh = makeEvent('authn_login_fail');
    const reused = await post(server, JSON.stringify([fresh, { ...e, reason: 'unknown_user' }]));
    expect(reused.status).toBe(409);
    expect(await reused.json()).toEqual({
      error: 'event_id_conflict',
      message: 'no event of this request was accepted',
      errors: [{ index: 1, path: 'event_id', message: 'already used by a different event' }],
    });
    await collector.flush();
    expect(await rows([e.event_id, fresh.event_id])).toBe(1);
  });

  it('authenticates by API key or HMAC signature with a replay window', async () => {
    const { server } = await setup();
    const e = JSON.stringify(makeEvent('authn_login_fail'));
    expect((await post(server, e, { authorization: 'Bearer wrong-key' })).status).toBe(401);
    expect((await post(server, e, { authorization: '' })).status).toBe(401);
    // The scheme in any case (RFC 7235 §2.1).
    expect((await post(server, e, { authorization: `bearer ${API_KEY}` })).status).toBe(202);
    const billing = JSON.stringify(makeEvent('payment_captured', { source: 'billing' }));
    const ts = Math.floor(Date.now() / 1000);
    const signed = {
      authorization: '',
      'x-telehealth-source': 'billing',
      'x-telehealth-timestamp': String(ts),
      'x-telehealth-signature': signBody(HMAC_SECRET, ts, billing),
    };
    expect((await post(server, billing, signed)).status).toBe(202);
    // The same signed request again is a replay.
    expect((await post(server, billing, signed)).status).toBe(401);
    const stale = ts - 3600;
    expect(
      (
        await post(server, billing, {
          ...signed,
          'x-telehealth-timestamp': String(stale),
          'x-telehealth-signature': signBody(HMAC_SECRET, stale, billing),
        })
      ).status,
    ).toBe(401);
    const tampered = billing.replace('12345', '99999');
    expect(
      (await post(server, tampered, { ...signed, 'x-telehealth-timestamp': String(ts + 1) })).status,
    ).toBe(401);
    expect((await post(server, billing, { ...signed, 'x-telehealth-source': 'app' })).status).toBe(401);
  });

  it('answers 413 to a body or batch over the limit', async () => {
    const { server } = await setup({}, { bodyLimitBytes: 64 * 1024 });
    const big = JSON.stringify(Array.from({ length: 300 }, () => makeEvent('order_created')));
    expect((await post(server, big)).status).toBe(413);
    const { server: s2 } = await setup();
    const tooMany = JSON.stringify(Array.from({ length: 1001 }, () => makeEvent('order_created')));
    expect((await post(s2, tooMany)).status).toBe(413);
  });

  it('answers 503 with Retry-After when the spool is full, security events last', async () => {
    const sw = switchable(db, true);
    const { server } = await setup({ database: sw, spoolCapacityBytes: 100_000, securityReserveRatio: 0.3 });
    let status = 202;
    while (status === 202) {
      const r = await post(
        server,
        JSON.stringify(Array.from({ length: 20 }, () => makeEvent('order_created'))),
      );
      status = r.status;
      if (status === 503) {
        expect(r.headers.get('retry-after')).toBe('1');
        expect(await r.json()).toMatchObject({ error: 'spool_full' });
      }
    }
    expect(status).toBe(503);
    expect(
      (await post(server, JSON.stringify(makeEvent('authn_login_lock', { reason: 'too_many_failures' }))))
        .status,
    ).toBe(202);
  });

  it('stores one row when one event_id is sent 1000 times concurrently to two collectors', async () => {
    const a = await setup();
    const b = await setup();
    const e = JSON.stringify(makeEvent('phi_access', { actor: { role: 'provider', ref: ref('dr') } }));
    const statuses = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => post(i % 2 ? a.server : b.server, e).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 202)).toBe(true);
    await Promise.all([a.collector.flush(), b.collector.flush()]);
    expect(await rows([JSON.parse(e).event_id])).toBe(1);
    expect((await a.collector.verifyChain({ full: true })).ok).toBe(true);
  }, 90_000);
});

describe('fuzz: malformed bodies over HTTP', () => {
  const valid = () => makeEvent('authn_login_fail') as Record<string, unknown>;
  const fields = Object.keys(valid());
  const arbitraryValue = fc.oneof(
    fc.anything(),
    fc.string({ maxLength: 50 }),
    fc.constantFrom('\r\nX-Injected: 1', '__proto__', 'constructor', '', '\u0000', 'Jane Doe 123-45-6789'),
    fc.integer(),
    fc.double(),
  );
  const mutatedEvent = fc
    .tuple(fc.constantFrom(...fields), arbitraryValue, fc.boolean(), fc.string({ maxLength: 20 }))
    .map(([field, value, addKey, key]) => {
      const e = valid();
      e[field] = value;
      if (addKey) e[key] = value;
      return JSON.stringify(e);
    });
  const deep = fc.integer({ min: 1, max: 100_000 }).map((n) => '['.repeat(n) + ']'.repeat(n));
  const deepObject = fc.integer({ min: 1, max: 50_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n));
  // Mostly long strings under the limit, some over it (413 from Content-Length, body never read).
  const huge = fc
    .oneof(
      { arbitrary: fc.integer({ min: 1, max: 200_000 }), weight: 9 },
      { arbitrary: fc.integer({ min: 1_050_000, max: 1_500_000 }), weight: 1 },
    )
    .map((n) => JSON.stringify({ event_type: 'x'.repeat(n) }));
  const proto = fc.constantFrom(
    '{"__proto__":{"polluted":"yes"}}',
    '[{"__proto__":{"polluted":"yes"},"event_type":"authn_login_fail"}]',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    JSON.stringify({ ...valid(), __proto__: { polluted: 'yes' } }).replace(
      '"schema_version"',
      '"__proto__":{"polluted":"yes"},"schema_version"',
    ),
  );
  const body = fc.oneof(
    { arbitrary: fc.string({ maxLength: 200 }), weight: 3 },
    { arbitrary: fc.json({ maxDepth: 4 }), weight: 3 },
    { arbitrary: mutatedEvent, weight: 6 },
    { arbitrary: fc.array(mutatedEvent, { maxLength: 5 }).map((a) => `[${a.join(',')}]`), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)), weight: 2 },
    { arbitrary: deep, weight: 1 },
    { arbitrary: deepObject, weight: 1 },
    { arbitrary: huge, weight: 1 },
    { arbitrary: proto, weight: 1 },
  );

  it('answers 10,000 malformed bodies with no 5xx and no crash', async () => {
    const { server, collector } = await setupMounted({}, { bodyLimitBytes: 1024 * 1024 });
    const samples = fc.sample(body, { numRuns: 10_000, seed: 4242 });
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < samples.length) {
        const b = samples[next] as string | Buffer;
        next += 1;
        const r = await post(server, b);
        await r.arrayBuffer();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(10_000);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(9000);
    expect(statuses.get(413) ?? 0).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Still serving.
    expect((await post(server, JSON.stringify(makeEvent('authn_login_fail')))).status).toBe(202);
    await collector.flush();
  }, 240_000);
});
