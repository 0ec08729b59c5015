/**
 * The drain of session_revocation_outbox (app/auth/revocation-outbox.ts) on real PostgreSQL: rows are
 * deleted only after the collector stored their events, a drain that dies in between reports the same
 * event ids again, a refused event keeps its row for later, and replicas draining together report each
 * row once.
 */
import { randomUUID } from 'node:crypto';
import { openDatabase, type Database } from '../../collector';
import { drainSessionRevocations, reportTime } from '../../app/auth/revocation-outbox';
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

describe('session revocation outbox', () => {
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

  /** A staff user with `sessions` live sessions, then disabled: the trigger leaves one row. */
  async function disabledUser(sessions: number): Promise<string> {
    const id = randomUUID();
    await db.query(`INSERT INTO users (id, username, role, password_hash) VALUES ($1, $2, 'staff', 'x')`, [
      id,
      `u-${id}`,
    ]);
    for (let i = 0; i < sessions; i++)
      await db.query(
        `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '15 minutes')`,
        [randomUUID(), id],
      );
    await db.query(`UPDATE users SET disabled = true WHERE id = $1`, [id]);
    return id;
  }
  const outboxRows = async () =>
    (await db.query<{ id: string }>(`SELECT id FROM session_revocation_outbox ORDER BY revoked_at`)).rows;

  afterEach(async () => {
    await db.query(`DELETE FROM session_revocation_outbox`);
  });

  it('leaves one row per change that ended sessions, and none for a change that ended none', async () => {
    const user = await disabledUser(3);
    const none = await disabledUser(0);
    const { rows } = await db.query<{ user_id: string; sessions: number }>(
      `SELECT user_id, sessions FROM session_revocation_outbox`,
    );
    expect(rows).toEqual([{ user_id: user, sessions: 3 }]);
    // Enabling again ends nothing; a role change ends the sessions opened since.
    await db.query(`UPDATE users SET disabled = false WHERE id = ANY($1::uuid[])`, [[user, none]]);
    expect(await outboxRows()).toHaveLength(1);
    await db.query(
      `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '15 minutes')`,
      [randomUUID(), none],
    );
    await db.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [none]);
    const after = await db.query<{ user_id: string; sessions: number }>(
      `SELECT user_id, sessions FROM session_revocation_outbox ORDER BY revoked_at`,
    );
    expect(after.rows).toEqual([
      { user_id: user, sessions: 3 },
      { user_id: none, sessions: 1 },
    ]);
  });

  it('reports each row as an event under the row id, then deletes it', async () => {
    const user = await disabledUser(2);
    const [row] = await outboxRows();
    const events = recordingReporter();
    expect(await drainSessionRevocations({ db, events }, stored)).toBe(1);
    expect(events.reported).toHaveLength(1);
    expect(events.reported[0]).toMatchObject({
      type: 'authn_token_revoked',
      input: {
        actor: { role: 'system', id: null },
        reason: 'admin_revoked',
        resource: { type: 'user_account', id: user },
        eventId: row!.id,
      },
    });
    expect(await outboxRows()).toEqual([]);
  });

  it("reports the API's caller as the actor when the change was made in a transaction that names it", async () => {
    const admin = randomUUID();
    await db.query(`INSERT INTO users (id, username, role, password_hash) VALUES ($1, $2, 'admin', 'x')`, [
      admin,
      `a-${admin}`,
    ]);
    const user = await disabledUser(0);
    await db.query(`UPDATE users SET disabled = false WHERE id = $1`, [user]);
    await db.query(
      `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '15 minutes')`,
      [randomUUID(), user],
    );
    await db.transaction(async (tx) => {
      await tx.query(
        `SELECT set_config('telehealth.actor_id', $1, true), set_config('telehealth.actor_role', 'admin', true)`,
        [admin],
      );
      await tx.query(`UPDATE users SET disabled = true WHERE id = $1`, [user]);
    });
    const events = recordingReporter();
    expect(await drainSessionRevocations({ db, events }, stored)).toBe(1);
    expect(events.reported[0]!.input.actor).toEqual({ role: 'admin', id: admin });
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
    await expect(drainSessionRevocations({ db, events }, storeDown)).rejects.toThrow('flush timed out');
    expect((await outboxRows()).map((r) => r.id).sort()).toEqual(ids);
    // Claimed: another drain right away leaves them to the one that claimed them.
    expect(await drainSessionRevocations({ db, events }, stored)).toBe(0);
    // The claim lapses (a crashed drain): the rows are reported again under the same ids.
    await db.query(`UPDATE session_revocation_outbox SET claimed_until = now() - interval '1 second'`);
    expect(await drainSessionRevocations({ db, events }, stored)).toBe(2);
    const eventIds = events.reported.map((e) => e.input.eventId);
    expect(eventIds).toHaveLength(4);
    expect([...new Set(eventIds)].sort()).toEqual(ids);
    expect(await outboxRows()).toEqual([]);
  });

  it('keeps a refused event for a later drain, without holding up the rest', async () => {
    await disabledUser(1);
    const events = recordingReporter();
    events.refuse = true;
    // The run fails (counted by the job's metrics; the staleness alert fires if it goes on).
    await expect(drainSessionRevocations({ db, events }, stored)).rejects.toMatchObject({
      code: 'EVENTS_REFUSED',
    });
    expect(await outboxRows()).toHaveLength(1);
    events.refuse = false;
    const later = await disabledUser(1);
    // The refused row is still claimed; the newer one is reported now.
    expect(await drainSessionRevocations({ db, events }, stored)).toBe(1);
    expect(events.reported.map((e) => (e.input.resource as { id: string }).id)).toEqual([later]);
    await db.query(`UPDATE session_revocation_outbox SET claimed_until = NULL`);
    expect(await drainSessionRevocations({ db, events }, stored)).toBe(1);
    expect(await outboxRows()).toEqual([]);
  });

  it('reports a revocation the collector would refuse for its time (too old, or ahead) at the time of the report', async () => {
    const now = Date.parse('2026-12-03T12:00:00.000Z');
    const day = 24 * 3600_000;
    expect(reportTime(new Date(now - 2 * day), now).getTime()).toBe(now - 2 * day);
    expect(reportTime(new Date(now - 40 * day), now).getTime()).toBe(now);
    expect(reportTime(new Date(now + 60_000), now).getTime()).toBe(now);
    // Through the drain: a row left for 40 days is reported, at most now, and deleted.
    await disabledUser(1);
    await db.query(`UPDATE session_revocation_outbox SET revoked_at = now() - interval '40 days'`);
    const events = recordingReporter();
    const before = Date.now();
    expect(await drainSessionRevocations({ db, events }, stored)).toBe(1);
    expect(events.reported[0]!.input.occurredAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect(await outboxRows()).toEqual([]);
  });

  it('reports each row once when replicas drain at the same time, past one batch', async () => {
    for (let i = 0; i < 150; i++) await disabledUser(1);
    const ids = (await outboxRows()).map((r) => r.id).sort();
    const replicas = Array.from({ length: 4 }, () => recordingReporter());
    const counts = await Promise.all(
      replicas.map((events) => drainSessionRevocations({ db, events }, stored)),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(150);
    const eventIds = replicas.flatMap((r) => r.reported.map((e) => e.input.eventId));
    expect(eventIds.sort()).toEqual(ids);
    expect(await outboxRows()).toEqual([]);
  }, 60_000);
});
