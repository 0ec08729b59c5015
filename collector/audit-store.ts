/**
 * Batched, hash-chained writes to `audit_events`. One transaction per batch: take the chain lock
 * (so that several collectors append one chain), read the head, hash the batch in Node, and insert
 * every row with a single INSERT from unnest'ed arrays. Duplicate event ids (replays after a crash,
 * retried deliveries) are skipped before hashing, so the chain never links to a row that was not
 * inserted; ON CONFLICT DO NOTHING stays as the last line of defence.
 */
import { chainHash, GENESIS_HASH, type CanonicalRow } from './canonical-row';
import type { Database, Queryable } from './database';
import type { AuditEvent } from './events';
import { AUDIT_WRITER_ROLE, CHAIN_LOCK, LOCK_NAMESPACE } from './migrations';

export interface InsertOutcome {
  inserted: number;
  duplicates: number;
}

class DuplicatesInBatch extends Error {}

const INSERT_SQL = `
INSERT INTO audit_events (seq, event_id, schema_version, event_type, occurred_at, recorded_at, source,
  actor_role, actor_ref, outcome, reason, resource_type, resource_ref, amount_minor, currency, prev_hash, hash)
SELECT u.seq, u.event_id, u.schema_version, u.event_type, u.occurred_at, $16::timestamptz, u.source,
  u.actor_role, u.actor_ref, u.outcome, u.reason, u.resource_type, u.resource_ref, u.amount_minor, u.currency,
  decode(u.prev_hash, 'hex'), decode(u.hash, 'hex')
FROM unnest($1::bigint[], $2::uuid[], $3::smallint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $17::text[])
  AS u(seq, event_id, schema_version, event_type, occurred_at, source, actor_role, actor_ref, outcome, reason,
       resource_type, resource_ref, amount_minor, currency, prev_hash, hash)
ON CONFLICT (event_id) DO NOTHING`;

export class AuditStore {
  private constructor(
    private readonly db: Database,
    /** Whether writes run as `audit_writer` (the connection user is a member or superuser). */
    readonly writesAsWriterRole: boolean,
  ) {}

  static async open(db: Database): Promise<AuditStore> {
    const r = await db.query<{ member: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
              AND pg_has_role(current_user, $1, 'MEMBER') AS member`,
      [AUDIT_WRITER_ROLE],
    );
    return new AuditStore(db, r.rows[0]?.member === true);
  }

  /** Appends the events in order (duplicates of stored or earlier events in the batch are skipped). */
  async insert(events: readonly AuditEvent[], recordedAt = new Date()): Promise<InsertOutcome> {
    const seen = new Set<string>();
    const unique: AuditEvent[] = [];
    for (const e of events) {
      const id = e.event_id.toLowerCase();
      if (seen.has(id)) continue;
      seen.add(id);
      unique.push(e);
    }
    const batchDuplicates = events.length - unique.length;
    if (unique.length === 0) return { inserted: 0, duplicates: batchDuplicates };
    try {
      const inserted = await this.db.transaction((tx) => this.write(tx, unique, recordedAt, false));
      return { inserted, duplicates: batchDuplicates + unique.length - inserted };
    } catch (err) {
      if (!(err instanceof DuplicatesInBatch)) throw err;
      // Rare path (replays): look the stored ids up under the lock, then write the rest.
      const inserted = await this.db.transaction((tx) => this.write(tx, unique, recordedAt, true));
      return { inserted, duplicates: batchDuplicates + unique.length - inserted };
    }
  }

  private async write(
    tx: Queryable,
    events: AuditEvent[],
    recordedAt: Date,
    skipStored: boolean,
  ): Promise<number> {
    if (this.writesAsWriterRole) await tx.query(`SET LOCAL ROLE ${AUDIT_WRITER_ROLE}`);
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, CHAIN_LOCK]);
    const head = await tx.query<{ seq: string; hash: Buffer }>(
      'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    );
    let rows = events;
    if (skipStored) {
      const stored = await tx.query<{ event_id: string }>(
        'SELECT event_id::text AS event_id FROM audit_events WHERE event_id = ANY($1::uuid[])',
        [events.map((e) => e.event_id.toLowerCase())],
      );
      const storedIds = new Set(stored.rows.map((r) => r.event_id));
      rows = events.filter((e) => !storedIds.has(e.event_id.toLowerCase()));
      if (rows.length === 0) return 0;
    }
    let seq = head.rows[0] ? Number(head.rows[0].seq) : 0;
    let prev = head.rows[0] ? Buffer.from(head.rows[0].hash) : GENESIS_HASH;
    const recordedMs = recordedAt.getTime();
    const cols: unknown[][] = Array.from({ length: 16 }, () => new Array<unknown>(rows.length));
    rows.forEach((e, i) => {
      seq += 1;
      const row: CanonicalRow = {
        seq,
        event_id: e.event_id.toLowerCase(),
        schema_version: e.schema_version,
        event_type: e.event_type,
        occurred_at_ms: Date.parse(e.occurred_at),
        recorded_at_ms: recordedMs,
        source: e.source,
        actor_role: e.actor.role,
        actor_ref: e.actor.ref,
        outcome: e.outcome,
        reason: e.reason,
        resource_type: e.resource?.type ?? null,
        resource_ref: e.resource?.ref ?? null,
        amount_minor: e.amount ? String(e.amount.minor_units) : null,
        currency: e.amount?.currency ?? null,
      };
      const hash = chainHash(prev, row);
      const values = [
        row.seq,
        row.event_id,
        row.schema_version,
        row.event_type,
        new Date(row.occurred_at_ms).toISOString(),
        row.source,
        row.actor_role,
        row.actor_ref,
        row.outcome,
        row.reason,
        row.resource_type,
        row.resource_ref,
        row.amount_minor,
        row.currency,
        prev.toString('hex'),
        hash.toString('hex'),
      ];
      for (let c = 0; c < 16; c += 1) (cols[c] as unknown[])[i] = values[c];
      prev = hash;
    });
    const params = [...cols.slice(0, 15), new Date(recordedMs).toISOString(), cols[15]];
    const r = await tx.query(INSERT_SQL, params);
    if (r.rowCount !== rows.length) {
      // A stored duplicate was skipped mid-batch: the hashes computed after it link to nothing.
      throw new DuplicatesInBatch();
    }
    return r.rowCount;
  }
}
