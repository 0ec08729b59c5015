/**
 * PHI canary: distinctive fake PHI pushed through every path (valid-looking and invalid events,
 * headers, malformed JSON, thrown errors from the database, gauges and hostile objects) must never
 * appear in a log line, a metric or an HTTP response.
 */
import { createCollector, type CollectorLogger } from '../../collector/collector';
import { createLogger, type LogFields } from '../../collector/logging';
import { openDatabase, type Database, type Transaction } from '../../collector/database';
import { migrate } from '../../collector/migrations';
import { sha256Hex } from '../../collector/source-auth';
import { createTelemetry } from '../../exporter';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { makeEvent, ref, tempDir } from './helpers';
import { startIngest } from './http-server';

const CANARIES = [
  'Zebediah Quackenbush',
  '987-65-4321',
  'zebediah.q@example.org',
  '1931-04-05',
  '+1-555-0100-7777',
  'Pwd-Hunter-Q9-canary',
  '742 Evergreen Terrace',
];
const API_KEY = 'canary-api-key-0123456789abcdef';

let tdb: TestDatabase;
let db: Database;
beforeAll(async () => {
  tdb = await createTestDatabase('canary');
  db = await openDatabase({ url: tdb.url });
  await migrate(db);
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

function phiError(): Error {
  // What pg says about a bad value: the value itself, quoted.
  return Object.assign(new Error(`invalid input syntax for type uuid: "${CANARIES.join(' ')}"`), {
    code: '22P02',
    detail: CANARIES[0],
  });
}

it('never lets canary PHI reach logs, metrics or responses', async () => {
  let logs = '';
  // Two loggers: what the collector hands to its logger (before any allow-list), and the real
  // allow-listed ECS logger of collector/logging writing its lines to memory.
  const capture = (level: string) => (fields: unknown, msg: string) => {
    logs += `${level} ${JSON.stringify(fields)} ${msg}\n`;
  };
  const ecs = createLogger({
    serviceName: 'collector-test',
    level: 'debug',
    elasticsearch: false,
    target: {
      name: 'memory',
      write(chunk, _lines, done) {
        logs += chunk;
        done(0);
      },
      close: async () => 0,
    },
  });
  const logger: CollectorLogger = {
    info: ((f: LogFields, m: string) => {
      capture('info')(f, m);
      ecs.info(f, m as 'x');
    }) as CollectorLogger['info'],
    warn: ((f: LogFields, m: string) => {
      capture('warn')(f, m);
      ecs.warn(f, m as 'x');
    }) as CollectorLogger['warn'],
    error: ((f: LogFields, m: string) => {
      capture('error')(f, m);
      ecs.error(f, m as 'x');
    }) as CollectorLogger['error'],
  };
  // A database that fails the first write with an error quoting PHI, then works.
  let failNext = 2;
  const flaky: Database = {
    ...db,
    kind: db.kind,
    query: (t, p) => db.query(t, p),
    exec: (s) => db.exec(s),
    poolStats: () => db.poolStats(),
    close: async () => undefined,
    transaction<T>(fn: (tx: Transaction) => Promise<T>) {
      if (failNext > 0) {
        failNext -= 1;
        return Promise.reject(phiError());
      }
      return db.transaction(fn);
    },
  };
  const tmp = tempDir('spool-canary');
  const telemetry = createTelemetry({ defaultMetrics: false });
  const pages: string[] = [];
  const collector = createCollector({
    telemetry,
    database: flaky,
    spoolDir: tmp.dir,
    logger,
    pager: { trigger: (...a) => pages.push(JSON.stringify(a)), resolve: (k) => pages.push(k) },
    schedule: { verify: false, verifyFull: false, gauges: false },
    retryMinMs: 5,
  });
  const server = await startIngest(collector, { sources: [{ id: 'app', apiKeySha256: sha256Hex(API_KEY) }] });
  let responses = '';
  const post = async (body: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, ...headers },
      body,
    });
    responses += `${r.status} ${JSON.stringify([...r.headers])} ${await r.text()}\n`;
    return r.status;
  };
  try {
    const results: string[] = [];
    for (const phi of CANARIES) {
      const variants: unknown[] = [
        makeEvent('phi_access', { actor: { role: 'patient', ref: phi } }),
        makeEvent('phi_access', { resource: { type: 'patient_record', ref: phi } }),
        makeEvent('phi_access', { reason: phi }),
        makeEvent('phi_access', { source: phi }),
        makeEvent('phi_access', { occurred_at: phi }),
        makeEvent('phi_access', { event_id: phi }),
        makeEvent('phi_access', { [phi]: phi }),
        makeEvent('phi_access', { event_type: phi }),
        makeEvent('payment_captured', { amount: { minor_units: phi, currency: phi } }),
      ];
      for (const v of variants) {
        results.push(JSON.stringify(collector.record(v)));
        await post(JSON.stringify(v));
        await post(JSON.stringify([makeEvent('authz_fail'), v]));
      }
      await post(`{"name": "${phi}", `);
      await post(JSON.stringify(makeEvent('phi_access')), { authorization: `Bearer ${phi}` });
      await post(JSON.stringify(makeEvent('phi_access')), {
        authorization: '',
        'x-telehealth-source': phi.replace(/[^ -~]/g, ''),
        'x-telehealth-timestamp': '1',
        'x-telehealth-signature': `sha256=${phi}`,
      });
      const hostile = makeEvent('phi_access');
      Object.defineProperty(hostile, 'reason', {
        enumerable: true,
        get() {
          throw new Error(`patient ${phi}`);
        },
      });
      results.push(JSON.stringify(collector.record(hostile)));
    }
    collector.registerGauge('orders_open', async () => {
      throw phiError();
    });
    collector.registerGauge('invoices_unpaid', `SELECT '${CANARIES[0]}'::int AS value`);
    await expect(collector.refreshGauges()).rejects.toThrow();
    // Valid events go through the failing store (errors quoting PHI) and are then stored.
    for (let i = 0; i < 5; i += 1) {
      expect(
        collector.record(
          makeEvent('phi_access', { actor: { role: 'provider', ref: ref(CANARIES[0] as string) } }),
        ).accepted,
      ).toBe(true);
    }
    expect(await post(JSON.stringify(makeEvent('authz_fail')))).toBe(202);
    await collector.flush({ timeoutMs: 20_000 });
    await collector.verifyChain({ full: true });
    const metrics = await telemetry.render();
    const everything = { logs, metrics, responses, results: results.join('\n'), pages: pages.join('\n') };
    // The paths ran: errors were logged, rejections counted, responses written.
    expect(logs).toContain('audit store');
    expect(logs).toContain('business gauge query failed');
    expect(logs).toMatch(/"event.action":"phi_access"|"event":\{[^}]*"action":"phi_access"/);
    expect(metrics).toMatch(/telehealth_collector_events_rejected_total\{reason="invalid"\} [1-9]/);
    expect(responses).toContain('400');
    for (const [where, text] of Object.entries(everything)) {
      for (const phi of CANARIES) {
        for (const fragment of [phi, ...phi.split(/[ .@-]/).filter((f) => f.length >= 5)]) {
          if (text.includes(fragment)) throw new Error(`canary fragment "${fragment}" found in ${where}`);
        }
      }
    }
  } finally {
    await server.close();
    await collector.close();
    await ecs.close();
    tmp.remove();
  }
});
