import { readdirSync, readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { ChainVerifier } from '../../collector/chain-verifier';
import { openDatabase, type Database } from '../../collector/database';
import { migrate } from '../../collector/migrations';
import { VerifierThread, type ChainVerification } from '../../collector/verifier-thread';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { makeEvent, quietCollector } from './helpers';

let tdb: TestDatabase;
let db: Database;

/** Stores `n` events through a collector (the real writer, so the rows carry a real chain). */
async function store(n: number): Promise<string[]> {
  const { collector, close } = quietCollector(db, 'spool-verifier');
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = makeEvent(i % 3 ? 'phi_access' : 'payment_captured');
    ids.push(e.event_id);
    collector.record(e);
  }
  await collector.flush();
  await close();
  return ids;
}

/** The nice value of each thread of this process (Linux), this one first. */
function niceValues(): number[] {
  const tasks = readdirSync('/proc/self/task').sort((a, b) =>
    a === String(process.pid) ? -1 : Number(a) - Number(b),
  );
  // Field 19 of stat, counted after the command name (which may hold spaces) ends with ')'.
  return tasks.map((t) => {
    const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

const workerOf = (v: ChainVerification) => (v as unknown as { worker: Worker }).worker;

beforeAll(async () => {
  tdb = await createTestDatabase('verifier');
  db = await openDatabase({ url: tdb.url, poolMax: 4 });
  await migrate(db);
  await store(1200);
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

describe('chain verifier on a worker thread', () => {
  it('verifies as the in-thread verifier does, incrementally from where it stopped', async () => {
    const v = VerifierThread.start(db);
    try {
      expect(v.offThread).toBe(true);
      const inline = await new ChainVerifier(db).full();
      const first = await v.incremental({ maxRows: 500 });
      expect(first).toMatchObject({ ok: true, verified: 500, head: { seq: 500 } });
      const rest = await v.incremental();
      expect(rest).toEqual({ ...inline, verified: inline.verified - 500 });
      expect(v.head()).toEqual(inline.head);
      // The thread runs at the lowest CPU priority (a background check); this thread does not.
      expect(niceValues()).toContain(19);
      expect(niceValues()[0]).toBe(0);
      await store(10);
      expect(await v.incremental()).toMatchObject({
        ok: true,
        verified: 10,
        head: { seq: inline.head.seq + 10 },
      });
    } finally {
      await v.close();
    }
  });

  it('reports a row changed behind the triggers, and an anchor that does not match', async () => {
    const v = VerifierThread.start(db);
    const victim = await db.query<{ seq: string; reason: string }>(
      'SELECT seq, reason FROM audit_events ORDER BY seq OFFSET 99 LIMIT 1',
    );
    const seq = Number(victim.rows[0]?.seq);
    const set = (reason: string) =>
      db.transaction(async (tx) => {
        await tx.query("SET LOCAL session_replication_role = 'replica'");
        await tx.query('UPDATE audit_events SET reason = $1 WHERE seq = $2', [reason, seq]);
      });
    try {
      const good = await v.full();
      await set('none_of_your_business');
      expect(await v.full()).toMatchObject({ ok: false, broken: { seq, kind: 'hash_mismatch' } });
      await set(String(victim.rows[0]?.reason));
      expect(await v.full({ anchor: good.head })).toMatchObject({ ok: true });
      const wrong = { seq: 50, hash: 'ab'.repeat(32) };
      expect(await v.full({ anchor: wrong })).toMatchObject({
        ok: false,
        broken: { seq: 50, kind: 'anchor_mismatch' },
      });
    } finally {
      await set(String(victim.rows[0]?.reason));
      await v.close();
    }
  });

  it('goes on in this thread from the last reported head when the thread dies, the run in flight included', async () => {
    const failures: string[] = [];
    const v = VerifierThread.start(db, { onFailure: () => failures.push('failed') });
    try {
      const head = (await v.incremental({ maxRows: 300 })).head;
      const inFlight = v.incremental();
      await workerOf(v).terminate();
      const r = await inFlight;
      expect(v.offThread).toBe(false);
      expect(r.ok).toBe(true);
      const all = await new ChainVerifier(db).full();
      // Went on from seq 300: the rows before were not verified twice.
      expect(r.verified).toBe(all.head.seq - head.seq);
      expect(v.head()).toEqual(all.head);
      expect(failures).toEqual(['failed']);
    } finally {
      await v.close();
    }
  });

  it('rejects a run still in flight when it is closed, without running it again in this thread', async () => {
    const failures: string[] = [];
    const v = VerifierThread.start(db, { onFailure: () => failures.push('failed') });
    const run = v.full();
    run.catch(() => undefined);
    // Closing, and the thread gone before its run could answer (as when close() terminates a
    // thread that did not exit within 2 s).
    const closing = v.close();
    await workerOf(v).terminate();
    await closing;
    await expect(run).rejects.toMatchObject({ code: 'CLOSED' });
    expect(failures).toEqual([]);
    expect(v.offThread).toBe(false);
  });

  it('answers a database error with its code only, and closes its connection on close()', async () => {
    const badUrl = new URL(tdb.url);
    badUrl.pathname = '/no_such_database_for_the_verifier';
    const bad = await openDatabase({ url: badUrl.toString(), poolMax: 1 });
    const v = VerifierThread.start(bad);
    try {
      await expect(v.incremental()).rejects.toMatchObject({
        code: '3D000',
        message: 'chain verification failed (3D000)',
      });
    } finally {
      await v.close();
      await bad.close();
    }
    const connections = async () =>
      Number(
        (
          await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
          )
        ).rows[0]?.n,
      );
    const before = await connections();
    const w = VerifierThread.start(db);
    await w.incremental({ maxRows: 1 });
    expect(await connections()).toBe(before + 1);
    await w.close();
    expect(await connections()).toBe(before);
  });

  it('pauses after each full page for as long as the page took (a paced catch-up)', async () => {
    const total = async () =>
      Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0]?.n);
    if ((await total()) < 10_001) await store(10_001 - (await total()));
    const n = await total();
    const pauses: number[] = [];
    const v = new ChainVerifier(db, undefined, async (ms) => {
      pauses.push(ms);
    });
    const r = await v.incremental();
    expect(r).toMatchObject({ ok: true, verified: n });
    // Pages of 5,000: one pause after each full page (more rows may follow it).
    expect(pauses).toHaveLength(Math.floor(n / 5000));
    expect(pauses.every((ms) => ms > 0)).toBe(true);
    // A bounded run does not pause after its last page.
    const bounded: number[] = [];
    await new ChainVerifier(db, undefined, async (ms) => {
      bounded.push(ms);
    }).incremental({ maxRows: 5000 });
    expect(bounded).toEqual([]);
  }, 60_000);

  it("is not started by a collector's chainHead() before the first verification", async () => {
    const { collector, close } = quietCollector(db, 'spool-head');
    try {
      await collector.started;
      const threads = niceValues().length;
      expect(collector.chainHead()).toEqual({ seq: 0, hash: '0'.repeat(64) });
      await new Promise((r) => setTimeout(r, 100));
      expect(niceValues().length).toBe(threads);
      const r = await collector.verifyChain();
      expect(collector.chainHead()).toEqual(r.head);
      expect(niceValues()).toContain(19);
    } finally {
      await close();
    }
  });

  it('stays in this thread on an embedded database (PGlite cannot be opened from another thread)', async () => {
    const lite = await openDatabase({});
    try {
      const v = VerifierThread.start(lite);
      expect(v.offThread).toBe(false);
      await migrate(lite);
      expect(await v.incremental()).toMatchObject({ ok: true, verified: 0 });
      await v.close();
    } finally {
      await lite.close();
    }
  });
});
