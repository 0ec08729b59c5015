/**
 * Schema of the audit store. Idempotent and safe to run from several collectors at once: the whole
 * migration runs in one transaction under a transaction-scoped advisory lock, and every statement
 * tolerates a previous run (roles are cluster-wide, so even two databases may race to create them).
 *
 * Roles:
 * - `audit_owner` (NOLOGIN) owns the table, so no login role can ALTER or DROP it.
 * - `audit_writer` (NOLOGIN) may only INSERT and SELECT. The collector `SET LOCAL ROLE`s to it for
 *   its writes when its connection user is a member (tests and development connect as a superuser,
 *   and the writes still run with the writer's rights only).
 *
 * Production: a DBA (superuser or member of `audit_owner`) runs the migrations once, e.g. with
 * `migrate()` from a deploy job, and the collector logs in as a dedicated role that is a member of
 * `audit_writer` and nothing else:
 *     CREATE ROLE audit_collector LOGIN IN ROLE audit_writer;   -- password or certificate auth
 * The collector then finds the migrations applied (a read-only check below) and never needs DDL
 * rights; a stolen collector credential can append events but cannot change, delete or truncate.
 *
 * Not partitioned, deliberately: `event_id` must be unique for ever (the idempotency key), and
 * PostgreSQL can only enforce a unique constraint on a partitioned table when it includes the
 * partition key, so monthly partitions would need a second, global id table on every write. The
 * table stays fast as it grows because every write touches only the right edge of the `seq` b-tree
 * and one probe of the `event_id` index, reads by time use a BRIN index (tiny, append order), and
 * the verifier is incremental by `seq`. Rows are never updated, so fillfactor 100 and no HOT churn.
 */
import type { Database } from './database';

export const AUDIT_OWNER_ROLE = 'audit_owner';
export const AUDIT_WRITER_ROLE = 'audit_writer';
/** Advisory lock keys (two int4 keys: namespace 0x7e1e, purpose). */
export const LOCK_NAMESPACE = 0x7e1e;
export const MIGRATION_LOCK = 1;
export const CHAIN_LOCK = 2;

interface Migration {
  version: number;
  sql: readonly string[];
}

const refuse = `CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$fn$`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // One statement per entry: PGlite's transaction handle runs one statement per query.
    sql: [
      `DO $do$ BEGIN
         CREATE ROLE ${AUDIT_OWNER_ROLE} NOLOGIN;
       EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
       END $do$`,
      `DO $do$ BEGIN
         CREATE ROLE ${AUDIT_WRITER_ROLE} NOLOGIN;
       EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
       END $do$`,
      `CREATE TABLE audit_events (
         seq            bigint      PRIMARY KEY,
         event_id       uuid        NOT NULL UNIQUE,
         schema_version smallint    NOT NULL,
         event_type     text        NOT NULL,
         occurred_at    timestamptz NOT NULL,
         recorded_at    timestamptz NOT NULL,
         source         text        NOT NULL,
         actor_role     text        NOT NULL,
         actor_ref      text,
         outcome        text        NOT NULL,
         reason         text        NOT NULL,
         resource_type  text,
         resource_ref   text,
         amount_minor   bigint,
         currency       text,
         prev_hash      bytea       NOT NULL CHECK (length(prev_hash) = 32),
         hash           bytea       NOT NULL CHECK (length(hash) = 32)
       ) WITH (fillfactor = 100)`,
      'CREATE INDEX audit_events_occurred_at_brin ON audit_events USING brin (occurred_at)',
      refuse,
      `CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
         FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()`,
      `CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
         FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()`,
      `CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
         FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()`,
      `ALTER TABLE audit_events OWNER TO ${AUDIT_OWNER_ROLE}`,
      `ALTER FUNCTION audit_events_refuse() OWNER TO ${AUDIT_OWNER_ROLE}`,
      'REVOKE ALL ON audit_events FROM PUBLIC',
      `GRANT SELECT, INSERT ON audit_events TO ${AUDIT_WRITER_ROLE}`,
      `GRANT SELECT ON audit_schema_migrations TO ${AUDIT_WRITER_ROLE}`,
    ],
  },
  {
    version: 2,
    // The chain starts at seq 1: a row below it is reached by no link, so an insert there (the
    // writer may insert) would plant an event no verification reads. Refused from now on; NOT VALID
    // leaves rows already there to the verifier, which looks for them (seq_out_of_range).
    sql: [
      `DO $do$ BEGIN
         ALTER TABLE audit_events ADD CONSTRAINT audit_events_seq_in_chain CHECK (seq >= 1) NOT VALID;
       EXCEPTION WHEN duplicate_object THEN NULL;
       END $do$`,
    ],
  },
];

/** Applies pending migrations; concurrent callers wait on the lock and then find nothing to do. */
export async function migrate(database: Database): Promise<number[]> {
  // Read-only check first: a collector logged in as a writer-only role cannot run DDL at all.
  const exists = await database.query<{ t: string | null }>(
    "SELECT to_regclass('audit_schema_migrations')::text AS t",
  );
  if (exists.rows[0]?.t) {
    const have = await database.query<{ version: number }>('SELECT version FROM audit_schema_migrations');
    const versions = new Set(have.rows.map((r) => Number(r.version)));
    if (MIGRATIONS.every((m) => versions.has(m.version))) return [];
  }
  return database.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, MIGRATION_LOCK]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS audit_schema_migrations (
         version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM audit_schema_migrations')).rows.map((r) =>
        Number(r.version),
      ),
    );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const statement of m.sql) await tx.query(statement);
      await tx.query('INSERT INTO audit_schema_migrations (version) VALUES ($1)', [m.version]);
      applied.push(m.version);
    }
    return applied;
  });
}
