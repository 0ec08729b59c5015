import { createHash, randomUUID } from 'node:crypto';
import { auditRowOf, rowEventId } from '../../collector/audit-row';
import { AuditStore } from '../../collector/audit-store';
import { chainHash, GENESIS_HASH } from '../../collector/canonical-row';
import { ChainVerifier } from '../../collector/chain-verifier';
import { openDatabase, type Database } from '../../collector/database';
import type { AuditEvent } from '../../collector/events';
import { EVENT_TYPES } from '../../collector/metric-names';
import { migrate } from '../../collector/migrations';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { allTypes, makeEvent } from './helpers';

const events = (n: number): AuditEvent[] =>
  Array.from({ length: n }, (_, i) =>
    makeEvent(i % 2 === 0 ? 'payment_captured' : 'phi_access'),
  ) as unknown as AuditEvent[];
const rowsOf = (n: number) => events(n).map(auditRowOf);

// COPY on PostgreSQL, INSERT from arrays on PGlite: the same guarantees on both.
describe.each(['postgres', 'pglite'] as const)('AuditStore (%s)', (kind) => {
  let testDb: TestDatabase | undefined;
  let db: Database;

  beforeAll(async () => {
    if (kind === 'postgres') {
      testDb = await createTestDatabase('store');
      db = await openDatabase({ url: testDb.url, poolMax: 4 });
    } else {
      db = await openDatabase({});
    }
    await migrate(db);
  });

  afterAll(async () => {
    await db.close();
    await testDb?.drop();
  });

  async function rows(): Promise<Array<{ seq: string; event_id: string }>> {
    return (
      await db.query<{ seq: string; event_id: string }>(
        'SELECT seq, event_id::text AS event_id FROM audit_events ORDER BY seq',
      )
    ).rows;
  }

  async function expectChainIntact(): Promise<void> {
    const r = await new ChainVerifier(db).full();
    expect(r.broken).toBeUndefined();
    expect(r.ok).toBe(true);
    const all = await rows();
    expect(all.map((x) => Number(x.seq))).toEqual(all.map((_, i) => i + 1));
  }

  it('writes a batch in order and skips duplicates, stored or in the batch, exactly once', async () => {
    const store = await AuditStore.open(db);
    const first = events(300);
    expect(await store.insert(first)).toEqual({ inserted: 300, duplicates: 0, conflicts: [] });
    // Stored ids in the middle of a batch (a replay), plus an in-batch repeat.
    const fresh = events(200);
    const replay = [
      ...fresh.slice(0, 100),
      first[10],
      first[299],
      ...fresh.slice(100),
      fresh[5],
    ] as AuditEvent[];
    expect(await store.insert(replay)).toEqual({ inserted: 200, duplicates: 3, conflicts: [] });
    const stored = await rows();
    expect(stored).toHaveLength(500);
    expect(stored.slice(300).map((r) => r.event_id)).toEqual(fresh.map((e) => e.event_id));
    await expectChainIntact();
  });

  it('tells an event sent again (a duplicate) from a different event under a taken id (a conflict)', async () => {
    const store = await AuditStore.open(db);
    // Every shape of row, so that a stored row read back compares equal to the same event sent again.
    const shapes: AuditEvent[] = [
      ...allTypes().map((t) => makeEvent(t)),
      makeEvent('authn_login_fail', { actor: { role: 'anonymous', ref: null }, resource: undefined }),
      makeEvent('order_created', { source: 'back\\slash\ttab\nnewline \\N' }),
      makeEvent('payment_refunded', { amount: { minor_units: 0, currency: 'EUR' } }),
      makeEvent('phi_access', { occurred_at: '2026-12-03T12:00:00.120+01:00' }),
      makeEvent('phi_access', { event_id: randomUUID().toUpperCase() }),
    ] as unknown as AuditEvent[];
    expect(await store.insert(shapes)).toEqual({ inserted: shapes.length, duplicates: 0, conflicts: [] });
    expect(await store.insert(shapes)).toEqual({ inserted: 0, duplicates: shapes.length, conflicts: [] });

    const taken = shapes[0] as AuditEvent;
    const other = { ...taken, reason: EVENT_TYPES[taken.event_type].reasons[1] } as AuditEvent;
    const fresh = events(3);
    const inBatch = { ...(fresh[1] as AuditEvent), occurred_at: '2020-01-01T00:00:00.000Z' } as AuditEvent;
    const outcome = await store.insert([fresh[0], other, fresh[1], fresh[2], inBatch, taken] as AuditEvent[]);
    expect(outcome).toEqual({
      inserted: 3,
      duplicates: 1,
      conflicts: expect.arrayContaining([auditRowOf(other), auditRowOf(inBatch)]),
    });
    expect(outcome.conflicts).toHaveLength(2);
    // The stored event stands.
    const kept = await db.query<{ reason: string; n: string }>(
      'SELECT reason, count(*) OVER () AS n FROM audit_events WHERE event_id = $1',
      [taken.event_id],
    );
    expect(kept.rows).toEqual([{ reason: taken.reason, n: '1' }]);
    await expectChainIntact();
  });

  it('hashes again under the lock when a batch was prepared on a head that did not happen', async () => {
    const a = await AuditStore.open(db);
    const b = await AuditStore.open(db);
    await a.insert(events(3));
    const batch1 = await a.prepare(rowsOf(50), a.expectedHead());
    // Prepared ahead on the head batch1 will leave; batch1 is never committed (as after a failure).
    const batch2 = await a.prepare(rowsOf(50), batch1.end);
    expect(batch2.end?.seq).toBe((batch1.end?.seq ?? 0) + 50);
    // Another collector appends in between.
    await b.insert(events(7));
    const before = (await rows()).length;
    expect(await a.commit(batch2)).toEqual({ inserted: 50, duplicates: 0, conflicts: [] });
    const after = await rows();
    expect(after).toHaveLength(before + 50);
    expect(after.slice(-50).map((r) => r.event_id)).toEqual(batch2.events.map(rowEventId));
    await expectChainIntact();
    // A batch prepared on the right guess is written as prepared, and the next guess is right.
    const batch3 = await a.prepare(rowsOf(20), a.expectedHead());
    const batch4 = await a.prepare(rowsOf(20), batch3.end);
    await a.commit(batch3);
    await a.commit(batch4);
    expect(a.expectedHead()?.seq).toBe(after.length + 40);
    await expectChainIntact();
  });

  it('stores values that need escaping exactly as hashed', async () => {
    const store = await AuditStore.open(db);
    const odd = makeEvent('order_created', {
      source: 'back\\slash\ttab\nnewline\rreturn \\N',
    }) as unknown as AuditEvent;
    expect(await store.insert([odd])).toEqual({ inserted: 1, duplicates: 0, conflicts: [] });
    const r = await db.query<{ source: string }>('SELECT source FROM audit_events WHERE event_id = $1', [
      odd.event_id,
    ]);
    expect(r.rows[0]?.source).toBe(odd.source);
    await expectChainIntact();
  });
});

describe('chainHash', () => {
  it('is sha256(prev_hash || canonical row), computed independently here', () => {
    const row = {
      seq: 42,
      event_id: 'A0B1C2D3-0000-4000-8000-00000000000F',
      schema_version: 1,
      event_type: 'payment_captured',
      occurred_at_ms: 1763852400123,
      recorded_at_ms: 1763852400456,
      source: 'app',
      actor_role: 'patient',
      actor_ref: 'r'.repeat(40),
      outcome: 'success',
      reason: 'none',
      resource_type: 'order',
      resource_ref: null,
      amount_minor: '12345',
      currency: 'EUR',
    };
    const prev = createHash('sha256').update('previous').digest();
    const expected = createHash('sha256')
      .update(prev)
      .update(
        '["42","a0b1c2d3-0000-4000-8000-00000000000f",1,"payment_captured",1763852400123,1763852400456,' +
          '"app","patient","rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr","success","none","order",null,"12345","EUR"]',
      )
      .digest();
    expect(chainHash(prev, row).equals(expected)).toBe(true);
    expect(chainHash(GENESIS_HASH, row).equals(expected)).toBe(false);
  });
});
