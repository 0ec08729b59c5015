/**
 * Migrations: applied once, idempotent under concurrent starts (advisory lock), refused when an
 * applied file changed; and every query shape the API runs on a large table uses an index.
 */
import { openDatabase, type Database } from '../../collector';
import { migrate, readMigrations } from '../../app/db/migrate';
import { createTestDatabase, isPostgresAvailable, type TestDatabase } from '../support/postgres';

describe('migrations on PGlite', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openDatabase({});
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('applies every file once and nothing on the second run', async () => {
    const files = readMigrations().map((m) => m.version);
    expect(files[0]).toBe('001_core');
    expect(await migrate(db)).toEqual(files);
    expect(await migrate(db)).toEqual([]);
    const { rows } = await db.query<{ version: string }>(
      'SELECT version FROM app_schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual(files);
  });

  it('refuses to start when an applied migration was edited', async () => {
    const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'x'.repeat(64) } : m));
    await expect(migrate(db, edited)).rejects.toThrow(/001_core changed after it was applied/);
  });
});

describe('migrations and indexes on PostgreSQL', () => {
  let tdb: TestDatabase | undefined;
  const dbs: Database[] = [];
  beforeAll(async () => {
    if (!(await isPostgresAvailable())) return;
    tdb = await createTestDatabase('appmig');
  }, 60_000);
  afterAll(async () => {
    for (const d of dbs) await d.close();
    await tdb?.drop();
  });

  it('five instances starting together apply each migration exactly once', async () => {
    if (!tdb) return;
    for (let i = 0; i < 5; i++) dbs.push(await openDatabase({ url: tdb.url, poolMax: 2 }));
    const results = await Promise.all(dbs.map((d) => migrate(d)));
    expect(results.flat().sort()).toEqual(readMigrations().map((m) => m.version));
  });

  it('uses an index for every query shape of the API', async () => {
    if (!tdb) return;
    const db = dbs[0]!;
    // Enough rows that the planner's choice means something; statistics refreshed.
    await db.exec(`
      INSERT INTO patients (id, name_enc, dob_enc) SELECT gen_random_uuid(), 'x', 'x' FROM generate_series(1, 5000);
      INSERT INTO users (id, username, role, password_hash)
        SELECT gen_random_uuid(), 'u' || g, 'provider', 'h' FROM generate_series(1, 200) g;
      INSERT INTO provider_assignments (patient_id, provider_id)
        SELECT p.id, (SELECT id FROM users ORDER BY username LIMIT 1 OFFSET (random() * 199)::int) FROM patients p;
      INSERT INTO orders (id, patient_id, created_by, currency, total_minor, items, status)
        SELECT gen_random_uuid(), p.id, (SELECT id FROM users LIMIT 1), 'USD', 100, '[]',
               CASE WHEN random() < 0.05 THEN 'open' ELSE 'fulfilled' END FROM patients p, generate_series(1, 4);
      INSERT INTO sessions (id, user_id, expires_at) SELECT gen_random_uuid(), id, now() FROM users, generate_series(1, 20);
      ANALYZE;
    `);
    const any = async (sql: string) => (await db.query<{ id: string }>(sql)).rows[0]!.id;
    const patient = await any('SELECT id FROM patients LIMIT 1');
    const user = await any('SELECT id FROM users LIMIT 1');
    const session = await any('SELECT id FROM sessions LIMIT 1');
    const queries: Array<[string, unknown[]]> = [
      ['SELECT id FROM users WHERE lower(username) = lower($1)', ['u17']],
      ['SELECT 1 FROM provider_assignments WHERE patient_id = $1 AND provider_id = $2', [patient, user]],
      [
        'SELECT p.id FROM provider_assignments a JOIN patients p ON p.id = a.patient_id WHERE a.provider_id = $1 ORDER BY p.created_at LIMIT 50',
        [user],
      ],
      ['SELECT * FROM patients WHERE id = $1', [patient]],
      [
        'UPDATE sessions SET last_seen_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id',
        [session, user],
      ],
      [
        'UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id',
        [user],
      ],
      ['SELECT id FROM orders WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 50', [patient]],
      [`SELECT id FROM orders WHERE status = 'open' ORDER BY created_at DESC LIMIT 50`, []],
      [`SELECT count(*) FROM orders WHERE status = 'open'`, []],
      [`SELECT count(*) FROM invoices WHERE status = 'unpaid'`, []],
      [`SELECT count(*) FROM prescriptions WHERE status = 'pending'`, []],
      ['SELECT id FROM soap_notes WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 50', [patient]],
      ['SELECT id FROM prescriptions WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 50', [patient]],
      ['SELECT id FROM invoices WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 50', [patient]],
      ['SELECT id FROM payments WHERE invoice_id = $1', [patient]],
    ];
    await db.transaction(async (tx) => {
      // With sequential scans priced out, a plan still containing one means no index can serve the query.
      await tx.query('SET LOCAL enable_seqscan = off');
      for (const [sql, params] of queries) {
        const plan = (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params)).rows
          .map((r) => r['QUERY PLAN'])
          .join('\n');
        expect({ sql, seq: /Seq Scan/.test(plan) }).toEqual({ sql, seq: false });
      }
    });
  }, 60_000);
});
