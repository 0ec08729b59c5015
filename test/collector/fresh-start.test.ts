import { openDatabase, type Database } from '../../collector/database';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { quietCollector } from './helpers';

// A service started on an empty database has stored no event yet when the first scheduled
// verification runs: that run must succeed (and create the store), not count as a failed job.
describe('collector on a database that has never stored an event', () => {
  let tdb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    tdb = await createTestDatabase('fresh');
    db = await openDatabase({ url: tdb.url });
  });
  afterAll(async () => {
    await db.close();
    await tdb.drop();
  });

  it('verifies an empty chain instead of failing on the missing table', async () => {
    const { collector, close } = quietCollector(db, 'spool');
    try {
      await collector.started;
      const result = await collector.verifyChain();
      expect(result.ok).toBe(true);
      expect(result.verified).toBe(0);
      const t = await db.query<{ t: string | null }>("SELECT to_regclass('audit_events')::text AS t");
      expect(t.rows[0]?.t).toBe('audit_events');
    } finally {
      await close();
    }
  });
});
