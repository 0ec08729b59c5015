import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createCollector, type Collector, type CollectorPager } from '../../collector/collector';
import { openDatabase, type Database } from '../../collector/database';
import type { AuditEvent } from '../../collector/events';
import { migrate } from '../../collector/migrations';
import { EVENT_TYPES, EVENT_TYPE_NAMES, ACTOR_ROLES } from '../../collector/metric-names';
import { createTelemetry, type Telemetry } from '../../exporter';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { makeEvent, tempDir } from './helpers';
import { switchable } from './switchable-database';

const NO_JOBS = { verify: false, verifyFull: false, gauges: false } as const;

let tdb: TestDatabase;
let db: Database;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  tdb = await createTestDatabase('coll');
  db = await openDatabase({ url: tdb.url });
  await migrate(db);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

function newCollector(opts: Partial<Parameters<typeof createCollector>[0]> = {}): {
  collector: Collector;
  telemetry: Telemetry;
  spoolDir: string;
} {
  const tmp = tempDir('spool');
  const telemetry = opts.telemetry ?? createTelemetry({ defaultMetrics: false });
  const collector = createCollector({
    telemetry,
    database: db,
    spoolDir: tmp.dir,
    schedule: NO_JOBS,
    ...opts,
  });
  cleanups.push(() => tmp.remove());
  cleanups.push(() => collector.close());
  return { collector, telemetry, spoolDir: opts.spoolDir ?? tmp.dir };
}

async function count(where = 'true', params: unknown[] = []): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_events WHERE ${where}`, params);
  return Number(r.rows[0]?.n);
}

function sample(text: string, name: string): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name} `) || (l.startsWith(`${name}{`) && l.includes(name)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('collector pipeline on PostgreSQL', () => {
  it('stores every event type once, counts it, chains it and verifies the chain', async () => {
    const { collector, telemetry } = newCollector();
    const before = await count();
    const events = EVENT_TYPE_NAMES.flatMap((t) => [makeEvent(t), makeEvent(t)]);
    for (const e of events) expect(collector.record(e)).toEqual({ accepted: true });
    await collector.flush();
    expect(await count()).toBe(before + events.length);
    const row = await db.query<{ amount_minor: string; currency: string; actor_ref: string }>(
      'SELECT amount_minor, currency, actor_ref FROM audit_events WHERE event_id = $1',
      [events.find((e) => e.event_type === 'payment_captured')?.event_id],
    );
    expect(row.rows[0]).toMatchObject({ amount_minor: '12345', currency: 'USD' });
    const v = await collector.verifyChain({ full: true });
    expect(v).toMatchObject({ ok: true });
    expect(v.head.seq).toBe(await count());
    const text = await telemetry.render();
    expect(text).toContain(
      'telehealth_events_total{event_type="payment_captured",outcome="success",actor_role="patient",reason="none"} 2',
    );
    expect(text).toContain(
      'telehealth_payments_amount_total{event_type="payment_captured",currency="USD"} 246.9',
    );
    expect(text).toMatch(/telehealth_collector_events_stored_total \d+/);
    expect(sample(text, 'telehealth_audit_chain_broken')).toBe(0);
    // Every spool write (append + fdatasync) is timed: what an HTTP acknowledgement waits for.
    const writes = sample(text, 'telehealth_collector_spool_write_duration_seconds_count') ?? 0;
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(events.length);
    expect(sample(text, 'telehealth_collector_spool_write_duration_seconds_sum')).toBeGreaterThan(0);
  });

  it('counts an event sent again (a client retry) once, as the store keeps it once', async () => {
    const { collector, telemetry } = newCollector();
    const payment = makeEvent('payment_captured', { amount: { minor_units: 5000, currency: 'EUR' } });
    expect(collector.record(payment)).toEqual({ accepted: true });
    // The retry of a batch whose reply was lost (or refused with 503 after admission): same id.
    expect(collector.record({ ...payment, event_id: payment.event_id.toUpperCase() })).toEqual({
      accepted: true,
    });
    expect(collector.record(payment)).toEqual({ accepted: true });
    await collector.flush();
    expect(await count('event_id = $1', [payment.event_id])).toBe(1);
    const text = await telemetry.render();
    expect(text).toContain(
      'telehealth_payments_amount_total{event_type="payment_captured",currency="EUR"} 50',
    );
    expect(
      sample(
        text,
        'telehealth_events_total{event_type="payment_captured",outcome="success",actor_role="patient",reason="none"}',
      ),
    ).toBe(1);
  });

  it('refuses a different event under a recent id, naming the field, and counts neither twice', async () => {
    const { collector, telemetry } = newCollector();
    const payment = makeEvent('payment_captured', { amount: { minor_units: 5000, currency: 'EUR' } });
    expect(collector.record(payment)).toEqual({ accepted: true });
    const other = { ...payment, amount: { minor_units: 9000, currency: 'EUR' } };
    expect(collector.record(other)).toEqual({
      accepted: false,
      reason: 'id_conflict',
      errors: [{ path: 'event_id', message: 'already used by a different event' }],
    });
    // A batch: the conflicting event and one repeating an id earlier in the same batch.
    const a = makeEvent('order_created');
    const b = makeEvent('order_created');
    const refused = collector.admit([
      a,
      b,
      other,
      { ...a, reason: 'none', occurred_at: '2020-01-01T00:00:00Z' },
    ] as never);
    expect(refused).toEqual({ ok: false, reason: 'id_conflict', conflicts: [2, 3] });
    await collector.flush();
    expect(await count('event_id = ANY($1::uuid[])', [[payment.event_id, a.event_id, b.event_id]])).toBe(1);
    const text = await telemetry.render();
    expect(text).toContain(
      'telehealth_payments_amount_total{event_type="payment_captured",currency="EUR"} 50\n',
    );
    expect(sample(text, 'telehealth_collector_events_rejected_total{reason="id_conflict"}')).toBe(1);
  });

  it('keeps a different event under an id already stored aside (quarantine), counted, and the stored one stands', async () => {
    const first = newCollector();
    const taken = makeEvent('authz_fail');
    expect(first.collector.record(taken)).toEqual({ accepted: true });
    await first.collector.flush();
    // Another collector (or this one after a restart) remembers no recent ids: the store compares.
    const { collector, telemetry, spoolDir } = newCollector();
    const other = { ...taken, reason: 'not_owner' };
    const fresh = makeEvent('authz_fail');
    for (const e of [other, fresh]) expect(collector.record(e).accepted).toBe(true);
    await collector.flush();
    const stored = await db.query<{ reason: string }>('SELECT reason FROM audit_events WHERE event_id = $1', [
      taken.event_id,
    ]);
    expect(stored.rows).toEqual([{ reason: taken.reason }]);
    expect(await count('event_id = $1', [fresh.event_id])).toBe(1);
    const kept = readFileSync(path.join(spoolDir, 'quarantine.rows'), 'utf8').split('\n').filter(Boolean);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toContain(`\tnot_owner\t`);
    const text = await telemetry.render();
    expect(
      sample(text, 'telehealth_collector_events_dropped_total{event_class="security",reason="id_conflict"}'),
    ).toBe(1);
    expect(collector.stats()).toMatchObject({ stored: 1, duplicates: 0 });
  });

  it('verifies a long incremental stretch in slices, one run at a time, and counts every row once', async () => {
    const { collector, telemetry } = newCollector();
    const events = Array.from({ length: 1300 }, (_, i) => makeEvent(i % 2 ? 'phi_access' : 'order_created'));
    for (const e of events) expect(collector.record(e)).toEqual({ accepted: true });
    await collector.flush();
    const total = await count();
    // Two runs at once (the minutely job and a manual call) must not interleave their slices.
    const [a, b] = await Promise.all([collector.verifyChain(), collector.verifyChain()]);
    expect(a).toMatchObject({ ok: true });
    expect(b).toMatchObject({ ok: true });
    expect(a.verified + b.verified).toBe(total);
    expect(a.head.seq).toBe(total);
    expect(sample(await telemetry.render(), 'telehealth_audit_chain_verified_events_total')).toBe(total);
  });

  it('zero-initialises exactly the valid (event_type, outcome, role, reason) combinations', async () => {
    const { telemetry } = newCollector();
    const lines = (await telemetry.render())
      .split('\n')
      .filter((l) => l.startsWith('telehealth_events_total{'));
    const expected = EVENT_TYPE_NAMES.reduce(
      (n, t) => n + EVENT_TYPES[t].reasons.length * ACTOR_ROLES.length,
      0,
    );
    expect(lines).toHaveLength(expected);
    expect(lines.every((l) => l.endsWith(' 0'))).toBe(true);
    expect(lines.some((l) => l.includes('event_type="authn_login_fail",outcome="success"'))).toBe(false);
    expect(lines).toContain(
      'telehealth_events_total{event_type="authz_fail",outcome="failure",actor_role="provider",reason="not_assigned"} 0',
    );
  });

  it('refuses in-process events of another source', () => {
    const { collector } = newCollector({ source: 'app' });
    expect(collector.record(makeEvent('order_created', { source: 'billing' }))).toMatchObject({
      accepted: false,
      reason: 'invalid',
    });
    expect(collector.record(makeEvent('order_created'))).toEqual({ accepted: true });
  });

  it('refuses events after close() with reason closed, counted apart from queue_full', async () => {
    const { collector, telemetry } = newCollector();
    const rejected = async (reason: string) =>
      sample(await telemetry.render(), `telehealth_collector_events_rejected_total{reason="${reason}"}`);
    expect(await rejected('closed')).toBe(0);
    expect(collector.record(makeEvent('order_created'))).toEqual({ accepted: true });
    await collector.close();
    expect(collector.record(makeEvent('order_created'))).toMatchObject({ accepted: false, reason: 'closed' });
    expect(collector.admit([makeEvent('order_created') as unknown as AuditEvent])).toEqual({
      ok: false,
      reason: 'closed',
    });
    expect(await rejected('closed')).toBe(1);
    expect(await rejected('queue_full')).toBe(0);
  });

  it('spools while the database is down and replays in order, exactly once', async () => {
    const sw = switchable(db, true);
    // A small queue and segments: the backlog must spill to disk, rotate segments and be read back.
    const { collector, telemetry } = newCollector({
      database: sw,
      retryMinMs: 10,
      retryMaxMs: 50,
      queueCapacity: 1000,
      segmentBytes: 64 * 1024,
    });
    const backlog = async () => sample(await telemetry.render(), 'telehealth_collector_backlog_events');
    const events = Array.from({ length: 5000 }, () => makeEvent('authn_login_fail'));
    // Replays of some ids must not create rows twice either.
    const all = [...events, ...events.slice(0, 100)];
    let queueFull = 0;
    for (const e of all) {
      let r = collector.record(e);
      // The write buffer is bounded too: a burst beyond it is refused (queue_full) until it drains.
      while (!r.accepted && r.reason === 'queue_full') {
        queueFull += 1;
        await new Promise((res) => setTimeout(res, 10));
        r = collector.record(e);
      }
      expect(r.accepted).toBe(true);
    }
    expect(queueFull).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.stats()).toMatchObject({ storeHealthy: false, spilled: true });
    expect(collector.stats().inMemory).toBeLessThanOrEqual(1000);
    expect(collector.stats().spoolBytes).toBeGreaterThan(5000 * 200);
    // Every accepted event (the replayed ids too) waits: the backlog CollectorSpoolGrowing watches.
    expect(await backlog()).toBe(all.length);
    await collector.readinessCheck();
    sw.down = false;
    await collector.flush({ timeoutMs: 20_000 });
    const ids = events.map((e) => e.event_id);
    const rows = await db.query<{ event_id: string; seq: string }>(
      'SELECT event_id::text AS event_id, seq FROM audit_events WHERE event_id = ANY($1::uuid[]) ORDER BY seq',
      [ids],
    );
    expect(rows.rows.map((r) => r.event_id)).toEqual(ids);
    expect((await collector.verifyChain({ full: true })).ok).toBe(true);
    // Committed segments are deleted: what remains is at most the open one.
    expect(collector.stats().spoolBytes).toBeLessThan(2 * 64 * 1024);
    expect(collector.stats()).toMatchObject({ spilled: false, inMemory: 0 });
    expect(await backlog()).toBe(0);
  });

  it('a data error the whole store raises (a writer role dropped) keeps every event waiting, none dropped', async () => {
    // SET ROLE of a role that no longer exists fails with 22023, a "data" SQLSTATE, on every batch.
    let refusing = true;
    const roleGone = (): Error =>
      Object.assign(new Error('role "audit_writer" does not exist'), { code: '22023' });
    const sw = switchable(db);
    const database = {
      ...sw,
      transaction: <T>(fn: Parameters<typeof sw.transaction<T>>[0]) =>
        refusing ? Promise.reject(roleGone()) : sw.transaction(fn),
    };
    const { collector, telemetry, spoolDir } = newCollector({ database, retryMinMs: 10, retryMaxMs: 50 });
    const events = Array.from({ length: 30 }, () => makeEvent('authn_login_success'));
    for (const e of events) expect(collector.record(e).accepted).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect(collector.stats()).toMatchObject({ storeHealthy: false, stored: 0 });
    refusing = false;
    await collector.flush({ timeoutMs: 20_000 });
    expect(await count('event_id = ANY($1::uuid[])', [events.map((e) => e.event_id)])).toBe(30);
    const dropped = (await telemetry.render())
      .split('\n')
      .filter((l) => l.startsWith('telehealth_collector_events_dropped_total{') && !l.endsWith(' 0'));
    expect(dropped).toEqual([]);
    expect(readdirSync(spoolDir)).not.toContain('quarantine.rows');
  });

  it('a row the store refuses for itself is kept in the quarantine file, counted, and the rest stored', async () => {
    const bad = makeEvent('authn_login_success');
    // A constraint only this row breaks (23514), added for the test and removed after it.
    await db.query(
      `ALTER TABLE audit_events ADD CONSTRAINT test_refuse_one CHECK (event_id <> '${bad.event_id}'::uuid) NOT VALID`,
    );
    cleanups.push(() =>
      db.query('ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS test_refuse_one').then(() => undefined),
    );
    const { collector, telemetry, spoolDir } = newCollector({ retryMinMs: 10, retryMaxMs: 50 });
    const good = Array.from({ length: 10 }, () => makeEvent('authn_login_success'));
    for (const e of [...good.slice(0, 5), bad, ...good.slice(5)])
      expect(collector.record(e).accepted).toBe(true);
    await collector.flush({ timeoutMs: 20_000 });
    expect(await count('event_id = ANY($1::uuid[])', [good.map((e) => e.event_id)])).toBe(10);
    expect(await count('event_id = $1', [bad.event_id])).toBe(0);
    const kept = readFileSync(path.join(spoolDir, 'quarantine.rows'), 'utf8').split('\n').filter(Boolean);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toContain(bad.event_id);
    expect(
      sample(
        await telemetry.render(),
        'telehealth_collector_events_dropped_total{event_class="security",reason="store_rejected"}',
      ),
    ).toBe(1);
  });

  it('refuses business events before security events when the spool fills, and counts it', async () => {
    const sw = switchable(db, true);
    const { collector, telemetry } = newCollector({
      database: sw,
      spoolCapacityBytes: 200_000,
      securityReserveRatio: 0.25,
    });
    let business = 0;
    while (collector.record(makeEvent('order_created')).accepted) business += 1;
    const refusedBusiness = collector.record(makeEvent('order_created'));
    expect(refusedBusiness).toMatchObject({ accepted: false, reason: 'spool_full' });
    let security = 0;
    while (collector.record(makeEvent('authz_fail')).accepted) security += 1;
    expect(business).toBeGreaterThan(300);
    // The reserved quarter of the spool is left for security events only.
    expect(security).toBeGreaterThan(business * 0.25);
    const text = await telemetry.render();
    expect(
      sample(text, 'telehealth_collector_events_rejected_total{reason="spool_full"}'),
    ).toBeGreaterThanOrEqual(2);
    await expect(collector.readinessCheck()).rejects.toThrow(/spool/);
    await collector.close({ drainTimeoutMs: 100 });
  });

  it('refuses a second collector on the same spool folder, and starts one once the first has closed', async () => {
    const { collector: first, spoolDir } = newCollector();
    await first.started;
    const { collector: second } = newCollector({ spoolDir });
    await expect(second.started).rejects.toThrow(/in use by process/);
    await expect(second.readinessCheck()).rejects.toThrow();
    await first.close();
    const { collector: third } = newCollector({ spoolDir });
    await third.started;
    expect(third.record(makeEvent('authz_fail'))).toEqual({ accepted: true });
    await third.flush();
  });

  it('stops writing and turns unready when another process takes its spool lease', async () => {
    const { collector, spoolDir } = newCollector({ spoolLease: { staleMs: 600 } });
    await collector.started;
    expect(collector.record(makeEvent('authz_fail'))).toEqual({ accepted: true });
    await collector.flush();
    // Frozen past its lease (as a paused process would be): another host takes the next generation.
    const mine = readdirSync(spoolDir).find((n) => n.startsWith('spool.lock.')) as string;
    const next = Number(mine.split('.').pop()) + 1;
    writeFileSync(
      path.join(spoolDir, `spool.lock.${next}`),
      JSON.stringify({ pid: 1, host: 'other-node', token: 'theirs' }),
    );
    await new Promise((r) => setTimeout(r, 400));
    await expect(collector.readinessCheck()).rejects.toThrow('spool lease lost');
    expect(collector.record(makeEvent('authz_fail'))).toMatchObject({ accepted: false, reason: 'closed' });
    await collector.close();
    expect(readdirSync(spoolDir).filter((n) => n.startsWith('spool.lock.'))).toContain(`spool.lock.${next}`);
  });

  it('acknowledges nothing written after a freeze in which another process took its spool lease', async () => {
    // No timer renewal: only the check before the acknowledgement can notice.
    const { collector, spoolDir } = newCollector({ spoolLease: { staleMs: 600, renewMs: 60_000 } });
    await collector.started;
    const mine = readdirSync(spoolDir).find((n) => n.startsWith('spool.lock.')) as string;
    writeFileSync(
      path.join(spoolDir, `spool.lock.${Number(mine.split('.').pop()) + 1}`),
      JSON.stringify({ pid: 1, host: 'other-node', token: 'theirs' }),
    );
    const admitted = collector.admit([makeEvent('authz_fail')] as never);
    expect(admitted.ok).toBe(true);
    // Frozen for longer than half the lease (no timer, no renewal) while the write goes on.
    const until = Date.now() + 400;
    while (Date.now() < until);
    if (admitted.ok) await expect(admitted.durable).rejects.toThrow('spool lease lost');
    await expect(collector.readinessCheck()).rejects.toThrow('spool lease lost');
  });

  it('recovers the spool after a crash, cutting a torn last record', async () => {
    const sw = switchable(db, true);
    const tmp = tempDir('spool-crash');
    cleanups.push(() => tmp.remove());
    const t1 = createTelemetry({ defaultMetrics: false });
    const first = createCollector({ telemetry: t1, database: sw, spoolDir: tmp.dir, schedule: NO_JOBS });
    const events = Array.from({ length: 500 }, (_, i) => makeEvent(i % 2 ? 'phi_access' : 'order_created'));
    const admitted = first.admit(events.map((e) => e as never));
    expect(admitted.ok).toBe(true);
    if (admitted.ok) await admitted.durable;
    await first.close({ drainTimeoutMs: 50 });
    // A write torn by the crash: a header promising more bytes than were written.
    const seg = readdirSync(tmp.dir)
      .filter((n) => n.endsWith('.spool'))
      .sort()
      .pop() as string;
    appendFileSync(path.join(tmp.dir, seg), Buffer.from([0, 0, 1, 0, 1, 2, 3, 4, 0, 0]));
    const second = createCollector({
      telemetry: createTelemetry({ defaultMetrics: false }),
      database: db,
      spoolDir: tmp.dir,
      schedule: NO_JOBS,
    });
    cleanups.push(() => second.close());
    await second.flush({ timeoutMs: 20_000 });
    expect(await count('event_id = ANY($1::uuid[])', [events.map((e) => e.event_id)])).toBe(500);
    // A third start finds nothing left to replay twice.
    await second.close();
    const third = createCollector({
      telemetry: createTelemetry({ defaultMetrics: false }),
      database: db,
      spoolDir: tmp.dir,
      schedule: NO_JOBS,
    });
    cleanups.push(() => third.close());
    await third.flush({ timeoutMs: 20_000 });
    expect(await count('event_id = ANY($1::uuid[])', [events.map((e) => e.event_id)])).toBe(500);
  });

  it('replays the records after one damaged on disk, and counts the damaged one as dropped', async () => {
    const sw = switchable(db, true);
    const tmp = tempDir('spool-damage');
    cleanups.push(() => tmp.remove());
    const first = createCollector({
      telemetry: createTelemetry({ defaultMetrics: false }),
      database: sw,
      spoolDir: tmp.dir,
      schedule: NO_JOBS,
    });
    const events = Array.from({ length: 100 }, () => makeEvent('phi_access'));
    const admitted = first.admit(events.map((e) => e as never));
    expect(admitted.ok).toBe(true);
    if (admitted.ok) await admitted.durable;
    await first.close({ drainTimeoutMs: 50 });
    // One byte of the third record's payload changed on disk.
    const seg = path.join(tmp.dir, readdirSync(tmp.dir).find((n) => n.endsWith('.spool')) as string);
    const buf = readFileSync(seg);
    let off = 0;
    for (let i = 0; i < 2; i += 1) off += 16 + buf.readUInt32BE(off);
    buf[off + 30] = (buf[off + 30] as number) ^ 0xff;
    writeFileSync(seg, buf);
    const telemetry = createTelemetry({ defaultMetrics: false });
    const second = createCollector({ telemetry, database: db, spoolDir: tmp.dir, schedule: NO_JOBS });
    cleanups.push(() => second.close());
    await second.flush({ timeoutMs: 20_000 });
    const stored = events.filter((_, i) => i !== 2).map((e) => e.event_id);
    expect(await count('event_id = ANY($1::uuid[])', [stored])).toBe(99);
    const text = await telemetry.render();
    expect(
      sample(
        text,
        'telehealth_collector_events_dropped_total{event_class="security",reason="spool_corrupt"}',
      ),
    ).toBe(1);
  });

  it('refreshes registered business gauges and counts job runs', async () => {
    const { collector, telemetry } = newCollector();
    collector.registerGauge('orders_open', 'SELECT 7 AS value');
    collector.registerGauge('invoices_unpaid', async () => 3);
    await collector.refreshGauges();
    const text = await telemetry.render();
    expect(sample(text, 'telehealth_orders_open')).toBe(7);
    expect(sample(text, 'telehealth_invoices_unpaid')).toBe(3);
    expect(() => collector.registerGauge('nope' as never, 'SELECT 1')).toThrow(/unknown business gauge/);
  });

  it('runs the scheduled jobs with node-cron', async () => {
    const { collector, telemetry } = newCollector({
      schedule: {
        verify: '* * * * * *',
        verifyFull: false,
        gauges: '* * * * * *',
        jobs: { account_change_events: '* * * * * *' },
      },
    });
    collector.registerGauge('prescriptions_pending', 'SELECT 5 AS value');
    let serviceJobRuns = 0;
    collector.registerJob('account_change_events', async () => {
      serviceJobRuns += 1;
    });
    collector.record(makeEvent('prescription_issued'));
    await collector.flush();
    await new Promise((r) => setTimeout(r, 2300));
    const text = await telemetry.render();
    expect(sample(text, 'telehealth_prescriptions_pending')).toBe(5);
    expect(
      sample(text, 'telehealth_scheduled_job_runs_total{task="audit_chain_verify",outcome="success"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'telehealth_audit_chain_verified_events_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'telehealth_audit_chain_last_verified_timestamp_seconds')).toBeGreaterThan(
      Date.now() / 1000 - 10,
    );
    const lastSuccess = (task: string) =>
      sample(text, `telehealth_scheduled_job_last_success_timestamp_seconds{task="${task}"}`);
    expect(lastSuccess('audit_chain_verify')).toBeGreaterThan(Date.now() / 1000 - 10);
    expect(lastSuccess('business_gauges')).toBeGreaterThan(Date.now() / 1000 - 10);
    // A job the service registered runs on the same scheduler, counted the same way.
    expect(serviceJobRuns).toBeGreaterThanOrEqual(1);
    expect(lastSuccess('account_change_events')).toBeGreaterThan(Date.now() / 1000 - 10);
    // Switched off here: no series, so the staleness alert has nothing to age.
    expect(text).not.toMatch(
      /scheduled_job_last_success_timestamp_seconds\{task="audit_chain_verify_full"\}/,
    );
  });

  it('runs a registered job on demand, counted; refuses an unknown job name', async () => {
    const { collector, telemetry } = newCollector();
    expect(await collector.runJob('account_change_events')).toBe('not_registered');
    let runs = 0;
    collector.registerJob('account_change_events', async () => {
      runs += 1;
      if (runs === 2) throw Object.assign(new Error('store down'), { code: 'STORE_DOWN' });
    });
    expect(await collector.runJob('account_change_events')).toBe('success');
    expect(await collector.runJob('account_change_events')).toBe('failure');
    expect(runs).toBe(2);
    const text = await telemetry.render();
    const runsOf = (outcome: string) =>
      sample(text, `telehealth_scheduled_job_runs_total{task="account_change_events",outcome="${outcome}"}`);
    expect([runsOf('success'), runsOf('failure')]).toEqual([1, 1]);
    // Not a service's job (a collector's own would run twice per tick), or registered twice.
    expect(() => collector.registerJob('business_gauges' as never, async () => undefined)).toThrow(
      /not a job a service registers/,
    );
    expect(() => collector.registerJob('account_change_events', async () => undefined)).toThrow(
      /already registered/,
    );
  });

  it('counts a failing task and leaves its last success where it was', async () => {
    const { collector, telemetry } = newCollector({
      schedule: { verify: false, verifyFull: false, gauges: '* * * * * *' },
    });
    collector.registerGauge('orders_open', 'SELECT no_such_column AS value');
    await new Promise((r) => setTimeout(r, 2300));
    const text = await telemetry.render();
    expect(
      sample(text, 'telehealth_scheduled_job_runs_total{task="business_gauges",outcome="failure"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'telehealth_scheduled_job_runs_total{task="business_gauges",outcome="success"}'),
    ).toBe(0);
    // Scheduled but never succeeded: 0 (the alerts then count from the process start).
    expect(
      sample(text, 'telehealth_scheduled_job_last_success_timestamp_seconds{task="business_gauges"}'),
    ).toBe(0);
  });
});

describe('tamper evidence', () => {
  it('refuses UPDATE, DELETE and TRUNCATE, and the writer role may only INSERT and SELECT', async () => {
    const { collector } = newCollector();
    collector.record(makeEvent('phi_access'));
    await collector.flush();
    for (const sql of [
      "UPDATE audit_events SET reason = 'x'",
      'DELETE FROM audit_events',
      'TRUNCATE audit_events',
    ]) {
      await expect(db.query(sql)).rejects.toMatchObject({ code: '42501' });
      await expect(
        db.transaction(async (tx) => {
          await tx.query('SET LOCAL ROLE audit_writer');
          await tx.query(sql);
        }),
      ).rejects.toMatchObject({ code: '42501' });
    }
    await expect(
      db.transaction(async (tx) => {
        await tx.query('SET LOCAL ROLE audit_writer');
        await tx.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
      }),
    ).rejects.toMatchObject({ code: '42501' });
    const owner = await db.query<{ owner: string; canlogin: boolean }>(
      `SELECT pg_get_userbyid(c.relowner) AS owner, r.rolcanlogin AS canlogin
         FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.relname = 'audit_events'`,
    );
    expect(owner.rows[0]).toEqual({ owner: 'audit_owner', canlogin: false });
  });

  it('runs as a writer-only login role, which cannot change, delete or bypass', async () => {
    const role = `audit_collector_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
    await db.query(`CREATE ROLE ${role} LOGIN IN ROLE audit_writer`);
    const url = new URL(tdb.url);
    url.username = role;
    const wdb = await openDatabase({ url: url.toString() });
    const { collector } = newCollector({ database: wdb });
    try {
      const e = makeEvent('authz_fail');
      collector.record(e);
      await collector.flush();
      expect(await count('event_id = $1', [e.event_id])).toBe(1);
      for (const sql of [
        "UPDATE audit_events SET reason = 'x'",
        'DELETE FROM audit_events',
        'TRUNCATE audit_events',
        'ALTER TABLE audit_events DISABLE TRIGGER USER',
        "SET session_replication_role = 'replica'",
        'DROP TABLE audit_events',
      ]) {
        await expect(wdb.query(sql)).rejects.toMatchObject({ code: '42501' });
      }
    } finally {
      await collector.close();
      await wdb.close();
      await db.query(`DROP ROLE ${role}`);
    }
  });

  it('reports a row changed behind the triggers, pages once, and resolves after repair', async () => {
    const pages: string[] = [];
    const pager: CollectorPager = {
      trigger: (key, summary) => pages.push(`trigger:${key}:${summary}`),
      resolve: (key) => pages.push(`resolve:${key}`),
    };
    const { collector, telemetry } = newCollector({ pager });
    const events = Array.from({ length: 20 }, () => makeEvent('authn_login_success'));
    for (const e of events) collector.record(e);
    await collector.flush();
    expect((await collector.verifyChain({ full: true })).ok).toBe(true);
    const target = events[7]?.event_id;
    const seqRow = await db.query<{ seq: string; reason: string }>(
      'SELECT seq, reason FROM audit_events WHERE event_id = $1',
      [target],
    );
    const seq = Number(seqRow.rows[0]?.seq);
    const tamper = (reason: string) =>
      db.transaction(async (tx) => {
        // A superuser skipping user triggers, as an attacker with the database password would.
        await tx.query("SET LOCAL session_replication_role = 'replica'");
        await tx.query('UPDATE audit_events SET reason = $1 WHERE event_id = $2', [reason, target]);
      });
    await tamper('password_and_totp');
    const r = await collector.verifyChain({ full: true });
    expect(r).toMatchObject({ ok: false, broken: { seq, kind: 'hash_mismatch' } });
    expect(r.head.seq).toBe(seq - 1);
    expect(sample(await telemetry.render(), 'telehealth_audit_chain_broken')).toBe(1);
    await collector.verifyChain({ full: true });
    expect(pages.filter((p) => p.startsWith('trigger'))).toHaveLength(1);
    await tamper(String(seqRow.rows[0]?.reason));
    expect((await collector.verifyChain({ full: true })).ok).toBe(true);
    expect(pages).toEqual([
      expect.stringMatching(/^trigger:telehealth-audit-chain-broken:/),
      'resolve:telehealth-audit-chain-broken',
    ]);
    expect(sample(await telemetry.render(), 'telehealth_audit_chain_broken')).toBe(0);
  });

  it('refuses a row below the chain, reports one planted there anyway, and a timestamp moved by less than a millisecond', async () => {
    const { collector } = newCollector();
    const events = Array.from({ length: 5 }, () => makeEvent('authn_login_success'));
    for (const e of events) collector.record(e);
    await collector.flush();
    expect((await collector.verifyChain({ full: true })).ok).toBe(true);
    // A copy of row 1 at seq 0 (and a fresh id): what an insert-only credential could plant.
    const plant = (seq: number) =>
      db.query(
        `INSERT INTO audit_events SELECT $1, gen_random_uuid(), schema_version, event_type, occurred_at,
           recorded_at, source, actor_role, actor_ref, outcome, reason, resource_type, resource_ref,
           amount_minor, currency, prev_hash, hash FROM audit_events WHERE seq = (SELECT min(seq) FROM audit_events)`,
        [seq],
      );
    await expect(plant(0)).rejects.toMatchObject({ code: '23514' });
    // Planted by one who could also drop the constraint: the verifier finds it.
    await db.query('ALTER TABLE audit_events DROP CONSTRAINT audit_events_seq_in_chain');
    try {
      await plant(-7);
      expect(await collector.verifyChain({ full: true })).toMatchObject({
        ok: false,
        broken: { seq: -7, kind: 'seq_out_of_range' },
      });
      expect(await collector.verifyChain()).toMatchObject({
        ok: false,
        broken: { kind: 'seq_out_of_range' },
      });
    } finally {
      await db.transaction(async (tx) => {
        await tx.query("SET LOCAL session_replication_role = 'replica'");
        await tx.query('DELETE FROM audit_events WHERE seq < 1');
      });
      await db.query(
        'ALTER TABLE audit_events ADD CONSTRAINT audit_events_seq_in_chain CHECK (seq >= 1) NOT VALID',
      );
    }
    expect((await collector.verifyChain({ full: true })).ok).toBe(true);
    const target = events[2]?.event_id;
    const { rows } = await db.query<{ seq: string }>('SELECT seq FROM audit_events WHERE event_id = $1', [
      target,
    ]);
    const moveBy = (us: number) =>
      db.transaction(async (tx) => {
        await tx.query("SET LOCAL session_replication_role = 'replica'");
        await tx.query(
          `UPDATE audit_events SET occurred_at = occurred_at + make_interval(secs => $1) WHERE event_id = $2`,
          [us / 1e6, target],
        );
      });
    await moveBy(500);
    expect(await collector.verifyChain({ full: true })).toMatchObject({
      ok: false,
      broken: { seq: Number(rows[0]?.seq), kind: 'hash_mismatch' },
    });
    await moveBy(-500);
    expect((await collector.verifyChain({ full: true })).ok).toBe(true);
  });

  it('tries the chain-broken page again at the next verification when it was not delivered', async () => {
    const sent: string[] = [];
    let deliver = false;
    const pager: CollectorPager = {
      trigger: async (key) => {
        sent.push(key);
        return { ok: deliver };
      },
      resolve: () => undefined,
    };
    const { collector } = newCollector({ pager });
    const events = Array.from({ length: 3 }, () => makeEvent('authn_login_success'));
    for (const e of events) collector.record(e);
    await collector.flush();
    await db.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = 'replica'");
      await tx.query(`UPDATE audit_events SET reason = 'password_and_totp' WHERE event_id = $1`, [
        events[1]?.event_id,
      ]);
    });
    try {
      await collector.verifyChain({ full: true });
      expect(sent).toHaveLength(1);
      deliver = true;
      await collector.verifyChain({ full: true });
      expect(sent).toHaveLength(2);
      // Delivered: paged once, not at every run.
      await collector.verifyChain({ full: true });
      expect(sent).toHaveLength(2);
    } finally {
      await db.transaction(async (tx) => {
        await tx.query("SET LOCAL session_replication_role = 'replica'");
        await tx.query(`UPDATE audit_events SET reason = 'password' WHERE event_id = $1`, [
          events[1]?.event_id,
        ]);
      });
    }
  });

  it('reports a deleted verified tail, and a chain rebuilt on what is left does not resolve the page', async () => {
    const pages: string[] = [];
    const pager: CollectorPager = {
      trigger: (key) => pages.push(`trigger:${key}`),
      resolve: (key) => pages.push(`resolve:${key}`),
    };
    const { collector } = newCollector({ pager });
    for (let i = 0; i < 20; i++) collector.record(makeEvent('authn_login_success'));
    await collector.flush();
    const verified = await collector.verifyChain();
    expect(verified.ok).toBe(true);
    const head = verified.head.seq;
    // The last five rows deleted behind the triggers: the incremental run reads only newer rows.
    await db.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = 'replica'");
      await tx.query('DELETE FROM audit_events WHERE seq > $1', [head - 5]);
    });
    expect(await collector.verifyChain()).toMatchObject({
      ok: false,
      broken: { seq: head, kind: 'anchor_mismatch' },
    });
    // New rows chain onto what is left: consistent from genesis, but it no longer reaches the head.
    for (let i = 0; i < 8; i++) collector.record(makeEvent('authn_login_success'));
    await collector.flush();
    expect(await collector.verifyChain({ full: true })).toMatchObject({
      ok: false,
      broken: { seq: head, kind: 'anchor_mismatch' },
    });
    expect(await collector.verifyChain()).toMatchObject({ ok: false, broken: { kind: 'anchor_mismatch' } });
    expect(pages).toEqual(['trigger:telehealth-audit-chain-broken']);
  });

  it('a restarted collector goes on from the head it stored, so a tail deleted while it was down is reported', async () => {
    const first = newCollector();
    for (let i = 0; i < 12; i++) first.collector.record(makeEvent('authn_login_success'));
    await first.collector.flush();
    const verified = await first.collector.verifyChain();
    expect(verified.ok).toBe(true);
    const stored = JSON.parse(
      readFileSync(path.join(first.spoolDir, 'audit-chain-head.json'), 'utf8'),
    ) as unknown;
    expect(stored).toEqual(verified.head);
    await first.collector.close();
    await db.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = 'replica'");
      await tx.query('DELETE FROM audit_events WHERE seq > $1', [verified.head.seq - 3]);
    });
    const second = newCollector({ spoolDir: first.spoolDir });
    await second.collector.started;
    expect(second.collector.chainHead()).toEqual(verified.head);
    expect(await second.collector.verifyChain()).toMatchObject({
      ok: false,
      broken: { seq: verified.head.seq, kind: 'anchor_mismatch' },
    });
    expect(await second.collector.verifyChain({ full: true })).toMatchObject({
      ok: false,
      broken: { seq: verified.head.seq, kind: 'anchor_mismatch' },
    });
  });
});

describe('collector on PGlite', () => {
  it('runs the same migrations, chain and verifier in-process', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures/pglite-check.ts')],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    expect(r).toEqual({
      rows: EVENT_TYPE_NAMES.length + 1,
      verifyOk: true,
      head: EVENT_TYPE_NAMES.length + 1,
      deleteError: expect.stringMatching(/append-only/),
    });
  });
});

describe('async context of the background loops', () => {
  it("stores a request's events outside that request's context (no trace attributed to it)", async () => {
    const requestContext = new AsyncLocalStorage<string>();
    const seen: Array<string | undefined> = [];
    // The audit store's transactions report the context they run in.
    const observed: Database = Object.create(db) as Database;
    observed.transaction = (fn) => {
      seen.push(requestContext.getStore());
      return db.transaction(fn);
    };
    const { collector } = newCollector({ database: observed });
    // Started and idle first, so that the request's record() is what starts the loops.
    collector.record(makeEvent('phi_access'));
    await collector.flush();
    seen.length = 0;
    await requestContext.run('request-1', async () => {
      for (let i = 0; i < 20; i++)
        expect(collector.record(makeEvent('phi_access'))).toEqual({ accepted: true });
    });
    await collector.flush();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s === undefined)).toBe(true);
  });
});
