/**
 * The account change outbox (migrations 006 and 008) and its drain (app/auth/account-change-outbox.ts)
 * on real PostgreSQL: one row per account created and per change however it is made, rows deleted only after the collector stored their
 * events, a drain that dies in between reports the same event ids again, a refused event keeps its row
 * for later, and replicas draining together report each row once.
 */
import { randomUUID } from 'node:crypto';
import { openDatabase, type Database } from '../../collector';
import type { Telemetry } from '../../exporter';
import { createEventReporter } from '../../app/events/event-reporter';
import { quietCollector } from '../collector/helpers';
import { drainAccountChanges, setChangeActor } from '../../app/auth/account-change-outbox';
import { migrate } from '../../app/db/migrate';
import type { EventReporter, ReportInput } from '../../app/events/event-reporter';
import { createTestDatabase, isPostgresAvailable, type TestDatabase } from '../support/postgres';

interface Reported {
  type: string;
  input: ReportInput<never>;
}

/** A reporter that records what it is given and refuses while `refuse` is set. */
function recordingReporter(): EventReporter & { reported: Reported[]; refuse: boolean } {
  const r = {
    reported: [] as Reported[],
    refuse: false,
    rejectedCount: 0,
    report(type: string, input: ReportInput<never>) {
      if (r.refuse) return false;
      r.reported.push({ type, input });
      return true;
    },
  };
  return r as never;
}

const stored = { flush: async () => undefined };

describe('account change outbox', () => {
  let tdb: TestDatabase | undefined;
  let db: Database;

  beforeAll(async () => {
    if (!(await isPostgresAvailable()))
      throw new Error('needs the real PostgreSQL (test/support/postgres.ts)');
    tdb = await createTestDatabase('outbox');
    db = await openDatabase({ url: tdb.url, poolMax: 6 });
    await migrate(db);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  async function newUser(sessions: number, role = 'staff'): Promise<string> {
    const id = randomUUID();
    await db.query(`INSERT INTO users (id, username, role, password_hash) VALUES ($1, $2, $3, 'x')`, [
      id,
      `u-${id}`,
      role,
    ]);
    // The creation's own row (008) is tested on its own below; the other tests count changes.
    await db.query(`DELETE FROM account_change_outbox WHERE user_id = $1 AND change = 'created'`, [id]);
    await addSessions(id, sessions);
    return id;
  }
  async function addSessions(user: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++)
      await db.query(
        `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '15 minutes')`,
        [randomUUID(), user],
      );
  }
  /** A staff user with `sessions` live sessions, then disabled by SQL: the trigger leaves one row. */
  async function disabledUser(sessions: number): Promise<string> {
    const id = await newUser(sessions);
    await db.query(`UPDATE users SET disabled = true WHERE id = $1`, [id]);
    return id;
  }
  /** A drain whose events the collector refuses: it must fail with EVENTS_REFUSED. Its reporter. */
  async function refusedRun(): Promise<ReturnType<typeof recordingReporter>> {
    const events = recordingReporter();
    events.refuse = true;
    await expect(drainAccountChanges({ db, events }, stored)).rejects.toMatchObject({
      code: 'EVENTS_REFUSED',
    });
    return events;
  }
  const outboxRows = async () =>
    (await db.query<{ id: string }>(`SELECT id FROM account_change_outbox ORDER BY changed_at, id`)).rows;
  const liveSessions = async (user: string) =>
    Number(
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`,
          [user],
        )
      ).rows[0]!.n,
    );

  afterEach(async () => {
    await db.query(`DELETE FROM account_change_outbox`);
  });

  it('leaves one row per change, with the sessions it ended; the same value again is no change', async () => {
    const user = await disabledUser(3);
    expect(await liveSessions(user)).toBe(0);
    await db.query(`UPDATE users SET disabled = true WHERE id = $1`, [user]);
    await db.query(`UPDATE users SET disabled = false WHERE id = $1`, [user]);
    await addSessions(user, 1);
    await db.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [user]);
    // Both in one statement: two changes; the sessions count once, on the first.
    await addSessions(user, 2);
    await db.query(`UPDATE users SET role = 'provider', disabled = true WHERE id = $1`, [user]);
    const { rows } = await db.query<{ change: string; sessions: number; actor_role: string | null }>(
      `SELECT change, sessions, actor_role FROM account_change_outbox ORDER BY changed_at, sessions DESC`,
    );
    expect(rows).toEqual([
      { change: 'disabled', sessions: 3, actor_role: null },
      { change: 'enabled', sessions: 0, actor_role: null },
      { change: 'role_changed', sessions: 1, actor_role: null },
      { change: 'disabled', sessions: 2, actor_role: null },
      { change: 'role_changed', sessions: 0, actor_role: null },
    ]);
    expect(await liveSessions(user)).toBe(0);
  });

  it('reports an account created, by SQL or by the API, as user_created with its role under the row id', async () => {
    const admin = await newUser(0, 'admin');
    const byOperator = randomUUID();
    const byApi = randomUUID();
    await db.query(`INSERT INTO users (id, username, role, password_hash) VALUES ($1, $2, 'admin', 'x')`, [
      byOperator,
      `u-${byOperator}`,
    ]);
    await db.transaction(async (tx) => {
      await setChangeActor(tx, { id: admin, role: 'admin' });
      await tx.query(
        `INSERT INTO users (id, username, role, password_hash) VALUES ($1, $2, 'provider', 'x')`,
        [byApi, `u-${byApi}`],
      );
    });
    const { rows } = await db.query<{ id: string; user_id: string; role: string; sessions: number }>(
      `SELECT id, user_id, role, sessions FROM account_change_outbox WHERE change = 'created' ORDER BY seq`,
    );
    expect(rows.map((r) => [r.user_id, r.role, Number(r.sessions)])).toEqual([
      [byOperator, 'admin', 0],
      [byApi, 'provider', 0],
    ]);
    const events = recordingReporter();
    expect(await drainAccountChanges({ db, events }, stored)).toBe(2);
    expect(events.reported).toEqual([
      {
        type: 'user_created',
        input: expect.objectContaining({
          reason: 'admin',
          eventId: rows[0]!.id,
          actor: { role: 'system', id: null },
          resource: { type: 'user_account', id: byOperator },
        }),
      },
      {
        type: 'user_created',
        input: expect.objectContaining({
          reason: 'provider',
          eventId: rows[1]!.id,
          actor: { role: 'admin', id: admin },
          resource: { type: 'user_account', id: byApi },
        }),
      },
    ]);
    expect(await outboxRows()).toEqual([]);
    // A creation row carries its role, and only a creation row does.
    await expect(
      db.query(`INSERT INTO account_change_outbox (user_id, change, sessions) VALUES ($1, 'created', 0)`, [
        admin,
      ]),
    ).rejects.toThrow(/account_change_outbox_created_role_check/);
    await expect(
      db.query(
        `INSERT INTO account_change_outbox (user_id, change, sessions, role) VALUES ($1, 'disabled', 0, 'admin')`,
        [admin],
      ),
    ).rejects.toThrow(/account_change_outbox_created_role_check/);
  });

  it('reports each change as user_updated under the row id, and the sessions it ended as authn_token_revoked', async () => {
    const user = await disabledUser(2);
    const [row] = (
      await db.query<{ id: string; revoked_event_id: string }>(
        `SELECT id, revoked_event_id FROM account_change_outbox`,
      )
    ).rows;
    await db.query(`UPDATE users SET disabled = false WHERE id = $1`, [user]);
    const events = recordingReporter();
    expect(await drainAccountChanges({ db, events }, stored)).toBe(2);
    const common = { actor: { role: 'system', id: null }, resource: { type: 'user_account', id: user } };
    expect(events.reported).toMatchObject([
      { type: 'user_updated', input: { ...common, reason: 'disabled', eventId: row!.id } },
      {
        type: 'authn_token_revoked',
        input: { ...common, reason: 'admin_revoked', eventId: row!.revoked_event_id },
      },
      // Enabling ended no session: no revocation event.
      { type: 'user_updated', input: { ...common, reason: 'enabled' } },
    ]);
    expect(events.reported).toHaveLength(3);
    expect(await outboxRows()).toEqual([]);
  });

  it("reports the API's caller as the actor when the change was made in a transaction that names it", async () => {
    const admin = await newUser(0, 'admin');
    const user = await newUser(1);
    await db.transaction(async (tx) => {
      await setChangeActor(tx, { id: admin, role: 'admin' });
      await tx.query(`UPDATE users SET disabled = true WHERE id = $1`, [user]);
    });
    // Outside that transaction the setting is gone: an operator's change is the system's.
    await db.query(`UPDATE users SET disabled = false WHERE id = $1`, [user]);
    const events = recordingReporter();
    expect(await drainAccountChanges({ db, events }, stored)).toBe(2);
    expect(events.reported.map((e) => [e.type, e.input.reason, e.input.actor])).toEqual([
      ['user_updated', 'disabled', { role: 'admin', id: admin }],
      ['authn_token_revoked', 'admin_revoked', { role: 'admin', id: admin }],
      ['user_updated', 'enabled', { role: 'system', id: null }],
    ]);
  });

  it('keeps the rows when the events could not be stored, and reports the same event ids once the claim lapses', async () => {
    await disabledUser(1);
    await disabledUser(1);
    const ids = (await outboxRows()).map((r) => r.id).sort();
    const events = recordingReporter();
    const storeDown = {
      flush: async () => {
        throw new Error('flush timed out');
      },
    };
    await expect(drainAccountChanges({ db, events }, storeDown)).rejects.toThrow('flush timed out');
    expect((await outboxRows()).map((r) => r.id).sort()).toEqual(ids);
    // Claimed: another drain right away leaves them to the one that claimed them.
    expect(await drainAccountChanges({ db, events }, stored)).toBe(0);
    // The claim lapses (a crashed drain): the rows are reported again under the same ids.
    await db.query(`UPDATE account_change_outbox SET claimed_until = now() - interval '1 second'`);
    expect(await drainAccountChanges({ db, events }, stored)).toBe(2);
    const updateIds = events.reported.filter((e) => e.type === 'user_updated').map((e) => e.input.eventId);
    expect(updateIds).toHaveLength(4);
    expect([...new Set(updateIds)].sort()).toEqual(ids);
    const revokedIds = events.reported
      .filter((e) => e.type === 'authn_token_revoked')
      .map((e) => e.input.eventId);
    expect(revokedIds).toHaveLength(4);
    expect(new Set(revokedIds).size).toBe(2);
    expect(await outboxRows()).toEqual([]);
  });

  it('fails a run in which an event was refused, and keeps that row for a later drain without holding up the rest', async () => {
    await disabledUser(1);
    // The run fails (counted by the job's metrics; the staleness alert fires if it goes on).
    const events = await refusedRun();
    expect(await outboxRows()).toHaveLength(1);
    events.refuse = false;
    const later = await disabledUser(1);
    // The refused row is still claimed; the newer one is reported now.
    expect(await drainAccountChanges({ db, events }, stored)).toBe(1);
    expect(
      events.reported
        .filter((e) => e.type === 'user_updated')
        .map((e) => (e.input.resource as { id: string }).id),
    ).toEqual([later]);
    await db.query(`UPDATE account_change_outbox SET claimed_until = NULL`);
    expect(await drainAccountChanges({ db, events }, stored)).toBe(1);
    expect(await outboxRows()).toEqual([]);
  });

  it('reports a change the collector would refuse for its time (too old, or ahead) at the time of the report', async () => {
    const users = [await disabledUser(1), await disabledUser(0), await disabledUser(0)];
    // Two days old (kept), forty days old (the drain was down), an hour ahead (the database's clock).
    const changedAt = async (user: string, interval: string) =>
      (
        await db.query<{ t: Date }>(
          `UPDATE account_change_outbox SET changed_at = now() + $2::interval WHERE user_id = $1 RETURNING changed_at AS t`,
          [user, interval],
        )
      ).rows[0]!.t;
    const twoDays = await changedAt(users[0]!, '-2 days');
    await changedAt(users[1]!, '-40 days');
    await changedAt(users[2]!, '1 hour');
    const events = recordingReporter();
    const before = Date.now();
    expect(await drainAccountChanges({ db, events }, stored)).toBe(3);
    const after = Date.now();
    const times = events.reported.map((e) => [
      e.type,
      (e.input.resource as { id: string }).id,
      e.input.occurredAt!.getTime(),
    ]);
    expect(times.slice(0, 2)).toEqual([
      ['user_updated', users[0], twoDays.getTime()],
      ['authn_token_revoked', users[0], twoDays.getTime()],
    ]);
    for (const [, , t] of times.slice(2)) {
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
    expect(await outboxRows()).toEqual([]);
  });

  it("decides a row's time again, under new event ids, once the time decided at its first claim is too old", async () => {
    await disabledUser(1);
    const events = await refusedRun();
    const first = (
      await db.query<{ id: string; revoked_event_id: string; occurred_at: Date }>(
        `SELECT id, revoked_event_id, occurred_at FROM account_change_outbox`,
      )
    ).rows[0]!;
    // Refused (or failing) for a month after its first claim: its decided time is now too old to accept.
    await db.query(
      `UPDATE account_change_outbox SET claimed_until = NULL, changed_at = changed_at - interval '31 days',
              occurred_at = occurred_at - interval '31 days'`,
    );
    events.refuse = false;
    expect(await drainAccountChanges({ db, events }, stored)).toBe(1);
    const [updated, revoked] = events.reported;
    expect([updated!.type, revoked!.type]).toEqual(['user_updated', 'authn_token_revoked']);
    expect(updated!.input.eventId).not.toBe(first.id);
    expect(revoked!.input.eventId).not.toBe(first.revoked_event_id);
    expect(updated!.input.eventId).not.toBe(revoked!.input.eventId);
    expect(Date.now() - updated!.input.occurredAt!.getTime()).toBeLessThan(60_000);
    expect(await outboxRows()).toEqual([]);
  });

  it('reports a row retried after a failed run as the same event, stored once, even when its time was clamped', async () => {
    // A real collector: a retry with the same ids must be the same event (not an id conflict, which
    // the collector refuses, and which the store quarantines after a restart: a critical page).
    const collectorOn = () => {
      const quiet = quietCollector(db, 'outbox-spool');
      const events = createEventReporter({
        sink: quiet.collector,
        source: 'telehealth-api',
        pseudonymKey: 'k'.repeat(32),
      });
      return { ...quiet, events };
    };
    const conflicts = async (t: Telemetry) =>
      (await t.render()).split('\n').filter((l) => l.includes('reason="id_conflict"') && !l.endsWith(' 0'));
    await disabledUser(1);
    // The drain was down for 40 days: the reported time is clamped to the report's.
    await db.query(`UPDATE account_change_outbox SET changed_at = now() - interval '40 days'`);
    const [row] = (
      await db.query<{ id: string; revoked_event_id: string }>(
        `SELECT id, revoked_event_id FROM account_change_outbox`,
      )
    ).rows;
    const a = collectorOn();
    const b = collectorOn();
    try {
      // Run 1: the events are stored, then the DELETE fails (a crash or a lost connection).
      const deleteFails: Database = {
        ...db,
        query: (async (text: string, params?: unknown[]) => {
          if (text.startsWith('DELETE FROM account_change_outbox')) throw new Error('connection lost');
          return db.query(text, params);
        }) as Database['query'],
      };
      await expect(drainAccountChanges({ db: deleteFails, events: a.events }, a.collector)).rejects.toThrow(
        'connection lost',
      );
      // The claim lapses, later (a clamped time would now differ); the same process reports again: the
      // collector takes the same events (not EVENTS_REFUSED), and the DELETE fails once more.
      await db.query(`UPDATE account_change_outbox SET claimed_until = now() - interval '1 second'`);
      await new Promise((r) => setTimeout(r, 20));
      await expect(drainAccountChanges({ db: deleteFails, events: a.events }, a.collector)).rejects.toThrow(
        'connection lost',
      );
      // And after a restart (no memory of recent ids): the store finds the same events.
      await db.query(`UPDATE account_change_outbox SET claimed_until = NULL`);
      await new Promise((r) => setTimeout(r, 20));
      expect(await drainAccountChanges({ db, events: b.events }, b.collector)).toBe(1);
      expect(await conflicts(a.telemetry)).toEqual([]);
      expect(await conflicts(b.telemetry)).toEqual([]);
      const stored = await db.query<{ occurred_at: Date }>(
        `SELECT occurred_at FROM audit_events WHERE event_id = ANY($1::uuid[])`,
        [[row!.id, row!.revoked_event_id]],
      );
      expect(stored.rowCount).toBe(2);
      // At the first claim's time, not 40 days back.
      for (const r of stored.rows)
        expect(Date.now() - new Date(r.occurred_at).getTime()).toBeLessThan(60_000);
      expect(await outboxRows()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reports changes in the order they were made, whatever the table order', async () => {
    const user = await newUser(0);
    // A change, then more than a batch of later ones (disabled, enabled, …); then the table is rewritten
    // in the reverse order of the changes (as updates and VACUUM can leave it, less thoroughly).
    await db.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [user]);
    await db.query(
      `DO $$ BEGIN FOR i IN 1..121 LOOP UPDATE users SET disabled = NOT disabled WHERE id = '${user}'; END LOOP; END $$`,
    );
    await db.query(`CREATE INDEX outbox_reversed_test ON account_change_outbox (seq DESC)`);
    await db.query(`CLUSTER account_change_outbox USING outbox_reversed_test`);
    await db.query(`DROP INDEX outbox_reversed_test`);
    const physical = (await db.query<{ seq: string }>(`SELECT seq FROM account_change_outbox`)).rows.map(
      (r) => Number(r.seq),
    );
    expect(physical).toEqual([...physical].sort((x, y) => y - x));
    // Two changes in one transaction share changed_at: still in the order made.
    await db.transaction(async (tx) => {
      await tx.query(`UPDATE users SET role = 'provider' WHERE id = $1`, [user]);
      await tx.query(`UPDATE users SET role = 'staff' WHERE id = $1`, [user]);
      await tx.query(`UPDATE users SET disabled = NOT disabled WHERE id = $1`, [user]);
    });
    const events = recordingReporter();
    expect(await drainAccountChanges({ db, events }, stored)).toBe(125);
    expect(events.reported.filter((e) => e.type === 'user_updated').map((e) => e.input.reason)).toEqual([
      'role_changed',
      ...Array.from({ length: 121 }, (_, i) => (i % 2 === 0 ? 'disabled' : 'enabled')),
      'role_changed',
      'role_changed',
      'enabled',
    ]);
  });

  it('reports each row once when replicas drain at the same time, past one batch', async () => {
    for (let i = 0; i < 150; i++) await disabledUser(1);
    const ids = (await outboxRows()).map((r) => r.id).sort();
    const replicas = Array.from({ length: 4 }, () => recordingReporter());
    const counts = await Promise.all(replicas.map((events) => drainAccountChanges({ db, events }, stored)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(150);
    const eventIds = replicas.flatMap((r) =>
      r.reported.filter((e) => e.type === 'user_updated').map((e) => e.input.eventId),
    );
    expect(eventIds.sort()).toEqual(ids);
    expect(await outboxRows()).toEqual([]);
  }, 60_000);
});
