import { auditRowOf, type AuditRow } from '../../collector/audit-row';
import { AuditStore } from '../../collector/audit-store';
import { ChainVerifier } from '../../collector/chain-verifier';
import { appendCopyLines, copyBatchText, startCopyBatch } from '../../collector/copy-batch';
import { openDatabase, type Database } from '../../collector/database';
import type { AuditEvent } from '../../collector/events';
import { migrate } from '../../collector/migrations';
import { RowHasher } from '../../collector/row-hasher';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { makeEvent } from './helpers';

const rows = (n: number): AuditRow[] =>
  Array.from({ length: n }, (_, i) =>
    auditRowOf(makeEvent(i % 3 === 0 ? 'payment_captured' : 'phi_access') as unknown as AuditEvent),
  );

describe('RowHasher (COPY batches on a worker thread)', () => {
  let hasher: RowHasher;

  beforeAll(() => {
    const h = RowHasher.start();
    if (!h) throw new Error('the hashing worker did not start');
    hasher = h;
  });

  afterAll(async () => {
    await hasher.close();
  });

  it('builds the same COPY text and chain as the event loop does', async () => {
    const batch = rows(1200);
    const head = 'ab'.repeat(32);
    const done = await hasher.build(batch, 41, head, 1_764_000_000_000);
    const inline = startCopyBatch(batch.length, 41, head, 1_764_000_000_000);
    appendCopyLines(inline, batch, 0, batch.length);
    expect(done).not.toBeNull();
    expect(done?.copy.equals(copyBatchText(inline))).toBe(true);
    expect(done).toMatchObject({ endSeq: 41 + 1200, endHashHex: inline.prevHex });
  });

  it('answers concurrent batches each with its own result', async () => {
    const a = rows(10);
    const b = rows(20);
    const [ra, rb] = await Promise.all([
      hasher.build(a, 0, '00'.repeat(32), 1000),
      hasher.build(b, 100, '11'.repeat(32), 2000),
    ]);
    expect(ra?.endSeq).toBe(10);
    expect(rb?.endSeq).toBe(120);
  });

  it('gives null once closed, so that the store hashes on its own thread', async () => {
    const h = RowHasher.start() as RowHasher;
    await h.close();
    expect(h.usable()).toBe(false);
    await expect(h.build(rows(1), 0, '00'.repeat(32), 1000)).resolves.toBeNull();
  });

  it('tells once when its worker dies (not when closed), and hands batches back to the event loop', async () => {
    const failures: string[] = [];
    const h = RowHasher.start({ onFailure: () => failures.push('failed') }) as RowHasher;
    expect(await h.build(rows(2), 0, '00'.repeat(32), 1000)).not.toBeNull();
    // The worker thread goes away under the hasher (as a crash would).
    await (h as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(h.build(rows(1), 0, '00'.repeat(32), 1000)).resolves.toBeNull();
    expect(h.usable()).toBe(false);
    await h.close();
    expect(failures).toEqual(['failed']);
    const closedOnly: string[] = [];
    const quiet = RowHasher.start({ onFailure: () => closedOnly.push('failed') }) as RowHasher;
    await quiet.close();
    expect(closedOnly).toEqual([]);
  });

  describe('in the audit store (postgres)', () => {
    let testDb: TestDatabase;
    let db: Database;

    beforeAll(async () => {
      testDb = await createTestDatabase('hasher');
      db = await openDatabase({ url: testDb.url, poolMax: 2 });
      await migrate(db);
    });

    afterAll(async () => {
      await db.close();
      await testDb.drop();
    });

    it('commits batches hashed by the worker as an intact chain, mixed with inline ones', async () => {
      const withWorker = await AuditStore.open(db, { hasher });
      const inline = await AuditStore.open(db);
      const first = await withWorker.prepare(rows(300), withWorker.expectedHead());
      const second = await withWorker.prepare(rows(200), first.end);
      expect(await withWorker.commit(first)).toEqual({ inserted: 300, duplicates: 0, conflicts: [] });
      expect(await withWorker.commit(second)).toEqual({ inserted: 200, duplicates: 0, conflicts: [] });
      await inline.insert(
        Array.from({ length: 50 }, () => makeEvent('order_created') as unknown as AuditEvent),
      );
      // Prepared on a stale head: rebuilt under the lock (by the worker again).
      const third = await withWorker.prepare(rows(70), second.end);
      expect(await withWorker.commit(third)).toEqual({ inserted: 70, duplicates: 0, conflicts: [] });
      const r = await new ChainVerifier(db).full();
      expect(r).toMatchObject({ ok: true, verified: 620 });
    });
  });
});
