/**
 * Applies app/migrations/*.sql in name order, once each. Several instances starting together are
 * serialised by a transaction-scoped advisory lock; a migration that was edited after it was applied
 * stops start-up (its checksum no longer matches) instead of leaving the schema in an unknown state.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../collector-api';

/** Arbitrary constant shared by every instance of the service: "telehealth app migrations". */
const MIGRATION_LOCK_KEY = 727_001;

/**
 * The .sql files live in app/migrations; the compiled build (dist/app/db) has no copy of them
 * (tsc copies only .ts output), so it reads the source folder.
 */
export const MIGRATIONS_DIR = [
  join(__dirname, '..', 'migrations'),
  join(__dirname, '..', '..', '..', 'app', 'migrations'),
].find((d) => existsSync(d)) as string;

export interface Migration {
  version: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = readFileSync(join(dir, f), 'utf8');
      return {
        version: f.replace(/\.sql$/, ''),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

/** Splits a migration into statements (no function bodies in migrations, see 001_core.sql). */
export function splitStatements(sql: string): string[] {
  return sql
    .replace(/^\s*--.*$/gm, '')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export async function migrate(db: Database, migrations = readMigrations()): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS app_schema_migrations (
         version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await tx.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM app_schema_migrations',
    );
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));
    const done: string[] = [];
    for (const m of migrations) {
      const previous = applied.get(m.version);
      if (previous !== undefined) {
        if (previous !== m.checksum)
          throw new Error(`Migration ${m.version} changed after it was applied; add a new migration instead`);
        continue;
      }
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO app_schema_migrations (version, checksum) VALUES ($1, $2)', [
        m.version,
        m.checksum,
      ]);
      done.push(m.version);
    }
    return done;
  });
}
