import { createHook } from 'node:async_hooks';
import { Pool } from 'pg';
import { openDatabase, type Database } from '../../collector/database';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

// The same contract on both back-ends: what the app and the audit store rely on.
describe.each(['postgres', 'pglite'] as const)('openDatabase (%s)', (kind) => {
  let testDb: TestDatabase | undefined;
  let db: Database;

  beforeAll(async () => {
    if (kind === 'postgres') {
      testDb = await createTestDatabase('db');
      db = await openDatabase({ url: testDb.url, poolMax: 4 });
    } else {
      db = await openDatabase({});
    }
    await db.exec(`CREATE TABLE items (id int8 PRIMARY KEY, amount numeric, blob bytea, doc jsonb);
                   CREATE INDEX items_amount ON items (amount);`);
  });

  afterAll(async () => {
    await db.close();
    await testDb?.drop();
  });

  it('reports its kind', () => {
    expect(db.kind).toBe(kind);
  });

  it('returns pg-compatible values: int8 and numeric as strings, bytea as Buffer, jsonb parsed', async () => {
    await db.query('INSERT INTO items VALUES ($1, $2, $3, $4)', [
      1,
      '12.50',
      Buffer.from([1, 2, 255]),
      { a: 1 },
    ]);
    const { rows, rowCount } = await db.query<{ id: string; amount: string; blob: Buffer; doc: unknown }>(
      'SELECT * FROM items WHERE id = $1',
      [1],
    );
    expect(rowCount).toBe(1);
    expect(rows[0]).toEqual({ id: '1', amount: '12.50', blob: Buffer.from([1, 2, 255]), doc: { a: 1 } });
    expect(Buffer.isBuffer(rows[0]?.blob)).toBe(true);
  });

  it('counts affected rows of writes', async () => {
    const r = await db.query('INSERT INTO items (id) SELECT g FROM generate_series(10, 14) g');
    expect(r.rowCount).toBe(5);
    const d = await db.query('DELETE FROM items WHERE id >= 10');
    expect(d.rowCount).toBe(5);
  });

  it('commits a transaction and rolls one back when it throws', async () => {
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO items (id) VALUES (100)');
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO items (id) VALUES (101)');
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const { rows } = await db.query<{ id: string }>('SELECT id FROM items WHERE id >= 100 ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['100']);
  });

  it('runs a script of several statements inside the transaction, giving the last result', async () => {
    const r = await db.transaction(async (tx) => {
      const s = await tx.script<{ n: string }>(
        "INSERT INTO items (id) VALUES (200); SET LOCAL application_name = 'scripted'; SELECT count(*) AS n FROM items WHERE id = 200",
      );
      // The script's SET LOCAL holds for the rest of the same transaction.
      const app = await tx.query<{ a: string }>('SELECT current_setting($1) AS a', ['application_name']);
      return { n: s.rows[0]?.n, app: app.rows[0]?.a };
    });
    expect(r).toEqual({ n: '1', app: 'scripted' });
    // A script is rolled back with its transaction (BEGIN went with it, not after it).
    await expect(
      db.transaction(async (tx) => {
        await tx.script('INSERT INTO items (id) VALUES (201); SELECT 1');
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await expect(
      db.transaction((tx) => tx.script('INSERT INTO items (id) VALUES (202); SELECT * FROM no_such_table')),
    ).rejects.toThrow(/no_such_table/);
    const { rows } = await db.query<{ id: string }>('SELECT id FROM items WHERE id >= 200 ORDER BY id');
    expect(rows.map((x) => x.id)).toEqual(['200']);
    expect(
      (await db.query<{ a: string }>("SELECT current_setting('application_name') AS a")).rows[0]?.a,
    ).not.toBe('scripted');
  });

  it('keeps working after a failed statement', async () => {
    await expect(db.query('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/);
    const { rows } = await db.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]?.one).toBe(1);
  });

  it('serves concurrent queries', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => db.query<{ v: number }>('SELECT $1::int AS v', [i])),
    );
    expect(results.map((r) => r.rows[0]?.v)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('exposes pool statistics', () => {
    const s = db.poolStats();
    expect(s.total).toBeGreaterThanOrEqual(0);
    expect(s.waiting).toBe(0);
  });
});

// What only the PostgreSQL back-end does: its pool's queries and COPY, on one database.
describe('on PostgreSQL (postgres only)', () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase('db_pg');
    db = await openDatabase({ url: testDb.url, poolMax: 2 });
    await db.exec('CREATE TABLE copied (id int8 PRIMARY KEY, label text)');
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  // Every promise on the request path is paid again by the async hooks of tracing's context
  // propagation: through pg-pool's and pg's promise APIs one query made about six.
  it("makes fewer promises than pg-pool's promise API (one of its own), and still rejects on errors", async () => {
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises += 1;
      },
    });
    const counted = async (run: () => Promise<unknown>): Promise<number> => {
      promises = 0;
      hook.enable();
      try {
        await run();
      } finally {
        hook.disable();
      }
      return promises;
    };
    // The same query through pg-pool's promise API, as the service used to run it.
    const pool = new Pool({ connectionString: testDb.url, max: 1 });
    try {
      await pool.query('SELECT 1');
      const viaPromiseApi = await counted(() => pool.query('SELECT $1::int AS v', [1]));
      const ours = await counted(() => db.query('SELECT $1::int AS v', [1]));
      expect(ours).toBeLessThan(viaPromiseApi);
    } finally {
      await pool.end();
    }
    await expect(db.query('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/);
  });

  it('COPY FROM STDIN copies rows, commits them with the transaction and rolls them back on a server error', async () => {
    const n = await db.transaction(async (tx) => {
      if (!tx.copyFrom) throw new Error('no copyFrom on a postgres transaction');
      return tx.copyFrom('COPY copied (id, label) FROM STDIN', Buffer.from('1\tone\n2\t\\N\n'));
    });
    expect(n).toBe(2);
    // A duplicate key fails the COPY with its SQLSTATE; the whole transaction is rolled back.
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO copied VALUES (3, 'three')");
        await tx.copyFrom?.('COPY copied (id, label) FROM STDIN', Buffer.from('4\tfour\n1\tagain\n'));
      }),
    ).rejects.toMatchObject({ code: '23505' });
    const { rows } = await db.query<{ id: string; label: string | null }>('SELECT * FROM copied ORDER BY id');
    expect(rows).toEqual([
      { id: '1', label: 'one' },
      { id: '2', label: null },
    ]);
    // The connection that failed was not returned broken: the pool still serves.
    expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
  });

  it('has no COPY on PGlite, whose callers use INSERT instead', async () => {
    const lite = await openDatabase({});
    try {
      const has = await lite.transaction(async (tx) => tx.copyFrom !== undefined);
      expect(has).toBe(false);
    } finally {
      await lite.close();
    }
  });
});
