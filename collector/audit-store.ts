/**
 * Batched, hash-chained writes to `audit_events`. One transaction per batch: take the chain lock
 * (so that several collectors append one chain), read the head, and write every row at once: with
 * `COPY … FROM STDIN` on PostgreSQL, with one INSERT from unnest'ed arrays on PGlite (no COPY there).
 *
 * The rows (canonical form, hashes) may be prepared BEFORE the transaction, on the head this store
 * expects (the one its previous batch leaves), so that the collector prepares batch N+1 while batch
 * N is in flight. That is only a guess: under the lock the real head is read and compared, and a
 * batch prepared on another head is recomputed there. The chain is therefore always linked to the
 * row actually committed before it, whatever the guess was.
 *
 * Duplicate event ids (replays after a crash, retried deliveries) are skipped before hashing, so the
 * chain never links to a row that was not inserted: in-batch duplicates at once, stored ones when
 * the write reports them (COPY: unique violation; INSERT: fewer rows than sent), by writing the batch
 * again without the ids found stored under the lock. The unique index is the last line of defence.
 */
import { canonicalRowOf, chainHashHex, GENESIS_HASH } from './canonical-row';
import type { Database, Transaction } from './database';
import type { AuditEvent } from './events';
import { AUDIT_WRITER_ROLE, CHAIN_LOCK, LOCK_NAMESPACE } from './migrations';

export interface InsertOutcome {
  inserted: number;
  duplicates: number;
}

/** The last row of the chain: seq and hash (genesis: seq 0 and 32 zero bytes). */
export interface ChainLink {
  seq: number;
  hash: Buffer;
}

/** Rows hashed on a given head, ready to be written. */
interface Rows {
  base: ChainLink;
  end: ChainLink;
  /** COPY text (PostgreSQL) or unnest parameters (PGlite). */
  copy: Buffer | null;
  params: unknown[] | null;
}

/** A batch ready for `commit`: deduplicated events and, when the head was known, their rows. */
export interface PreparedBatch {
  readonly events: readonly AuditEvent[];
  readonly batchDuplicates: number;
  readonly recordedMs: number;
  /** The head after this batch if it commits as prepared (null when prepared without a head). */
  readonly end: ChainLink | null;
  rows: Rows | null;
}

class DuplicatesInBatch extends Error {}

const COLUMNS =
  'seq, event_id, schema_version, event_type, occurred_at, recorded_at, source, actor_role, actor_ref, outcome, reason, resource_type, resource_ref, amount_minor, currency, prev_hash, hash';

const COPY_SQL = `COPY audit_events (${COLUMNS}) FROM STDIN`;

const INSERT_SQL = `
INSERT INTO audit_events (${COLUMNS})
SELECT u.seq, u.event_id, u.schema_version, u.event_type, u.occurred_at, $16::timestamptz, u.source,
  u.actor_role, u.actor_ref, u.outcome, u.reason, u.resource_type, u.resource_ref, u.amount_minor, u.currency,
  decode(u.prev_hash, 'hex'), decode(u.hash, 'hex')
FROM unnest($1::bigint[], $2::uuid[], $3::smallint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $17::text[])
  AS u(seq, event_id, schema_version, event_type, occurred_at, source, actor_role, actor_ref, outcome, reason,
       resource_type, resource_ref, amount_minor, currency, prev_hash, hash)
ON CONFLICT (event_id) DO NOTHING`;

/** Rows hashed between two yields to the event loop (about 2 ms of work on this machine). */
const YIELD_EVERY = 200;

const NEEDS_ESCAPE = /[\\\t\n\r]/;
/** A value in COPY text format: `\N` for null, backslash, tab and line breaks escaped. */
function copyText(v: string | null): string {
  if (v === null) return '\\N';
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

const sameLink = (a: ChainLink, b: ChainLink): boolean => a.seq === b.seq && a.hash.equals(b.hash);

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class AuditStore {
  /** The head this store's last commit left (null until known, and after a failed commit). */
  private head: ChainLink | null = null;

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

  /** The head expected after the last commit of this store (a guess: another writer may append). */
  expectedHead(): ChainLink | null {
    return this.head;
  }

  /** Appends the events in order (duplicates of stored or earlier events in the batch are skipped). */
  async insert(events: readonly AuditEvent[], recordedAt = new Date()): Promise<InsertOutcome> {
    return this.commit(await this.prepare(events, this.head, recordedAt));
  }

  /**
   * Deduplicates and hashes `events` on `base` (yielding to the event loop now and then, so that a
   * large batch does not hold up requests). Without a base the hashing waits for the lock.
   */
  async prepare(
    events: readonly AuditEvent[],
    base: ChainLink | null,
    recordedAt = new Date(),
  ): Promise<PreparedBatch> {
    const seen = new Set<string>();
    const unique: AuditEvent[] = [];
    for (const e of events) {
      const id = e.event_id.toLowerCase();
      if (seen.has(id)) continue;
      seen.add(id);
      unique.push(e);
    }
    const recordedMs = recordedAt.getTime();
    const rows =
      base && unique.length > 0
        ? await this.buildRows(unique, base, recordedMs, this.db.kind === 'postgres')
        : null;
    return {
      events: unique,
      batchDuplicates: events.length - unique.length,
      recordedMs,
      end: rows ? rows.end : null,
      rows,
    };
  }

  /** Writes a prepared batch in one transaction under the chain lock. */
  async commit(batch: PreparedBatch): Promise<InsertOutcome> {
    if (batch.events.length === 0) return { inserted: 0, duplicates: batch.batchDuplicates };
    this.head = null;
    let result: { inserted: number; end: ChainLink };
    try {
      result = await this.db.transaction((tx) => this.write(tx, batch, false));
    } catch (err) {
      if (!(err instanceof DuplicatesInBatch)) throw err;
      // Rare path (replays): look the stored ids up under the lock, then write the rest.
      result = await this.db.transaction((tx) => this.write(tx, batch, true));
    }
    this.head = result.end;
    return {
      inserted: result.inserted,
      duplicates: batch.batchDuplicates + batch.events.length - result.inserted,
    };
  }

  private async write(
    tx: Transaction,
    batch: PreparedBatch,
    skipStored: boolean,
  ): Promise<{ inserted: number; end: ChainLink }> {
    if (this.writesAsWriterRole) await tx.query(`SET LOCAL ROLE ${AUDIT_WRITER_ROLE}`);
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, CHAIN_LOCK]);
    // Read after the lock is held (a statement of its own, so its snapshot sees the last commit).
    const headRow = await tx.query<{ seq: string; hash: Buffer }>(
      'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    );
    const first = headRow.rows[0];
    const head: ChainLink = first
      ? { seq: Number(first.seq), hash: Buffer.from(first.hash) }
      : { seq: 0, hash: GENESIS_HASH };
    let events = batch.events;
    if (skipStored) {
      const stored = await tx.query<{ event_id: string }>(
        'SELECT event_id::text AS event_id FROM audit_events WHERE event_id = ANY($1::uuid[])',
        [events.map((e) => e.event_id.toLowerCase())],
      );
      const storedIds = new Set(stored.rows.map((r) => r.event_id));
      events = events.filter((e) => !storedIds.has(e.event_id.toLowerCase()));
      if (events.length === 0) return { inserted: 0, end: head };
    }
    const copy = tx.copyFrom;
    let rows = batch.rows;
    if (skipStored || !rows || !sameLink(rows.base, head) || (copy !== undefined) !== (rows.copy !== null)) {
      // Prepared on another head (or not at all): hash again on the real one, under the lock.
      rows = await this.buildRows(events, head, batch.recordedMs, copy !== undefined);
    }
    let count: number;
    if (copy !== undefined && rows.copy) {
      try {
        count = await copy.call(tx, COPY_SQL, rows.copy);
      } catch (err) {
        // A stored duplicate: the hashes after it would link to nothing. Retry without the stored ids.
        if ((err as { code?: unknown }).code === '23505' && !skipStored) throw new DuplicatesInBatch();
        throw err;
      }
    } else {
      count = (await tx.query(INSERT_SQL, rows.params ?? [])).rowCount;
    }
    if (count !== events.length) {
      // A stored duplicate was skipped mid-batch: the hashes computed after it link to nothing.
      throw new DuplicatesInBatch();
    }
    return { inserted: count, end: rows.end };
  }

  private async buildRows(
    events: readonly AuditEvent[],
    base: ChainLink,
    recordedMs: number,
    asCopy: boolean,
  ): Promise<Rows> {
    let seq = base.seq;
    const recordedIso = new Date(recordedMs).toISOString();
    const n = events.length;
    // COPY text is written straight into one buffer, so that no row's string outlives its row.
    let copyBuf = asCopy ? Buffer.allocUnsafe(n * 512) : null;
    let copyLen = 0;
    const cols: unknown[][] = asCopy ? [] : Array.from({ length: 16 }, () => new Array<unknown>(n));
    // The chain is carried in hex (what the COPY text needs): no buffer per hash.
    let prevHex = base.hash.toString('hex');
    // Events of a burst share their occurrence time: its ISO text is made once per distinct value.
    let lastOccurredMs = NaN;
    let occurredIso = '';
    for (let i = 0; i < n; i += 1) {
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
      const e = events[i] as AuditEvent;
      seq += 1;
      const row = canonicalRowOf(e, seq, recordedMs);
      const hashHex = chainHashHex(prevHex, row);
      if (row.occurred_at_ms !== lastOccurredMs) {
        lastOccurredMs = row.occurred_at_ms;
        occurredIso = new Date(lastOccurredMs).toISOString();
      }
      if (copyBuf) {
        const line =
          `${seq}\t${row.event_id}\t${row.schema_version}\t${copyText(row.event_type)}\t${occurredIso}\t${recordedIso}\t` +
          `${copyText(row.source)}\t${copyText(row.actor_role)}\t${copyText(row.actor_ref)}\t${copyText(row.outcome)}\t` +
          `${copyText(row.reason)}\t${copyText(row.resource_type)}\t${copyText(row.resource_ref)}\t` +
          `${copyText(row.amount_minor)}\t${copyText(row.currency)}\t\\\\x${prevHex}\t\\\\x${hashHex}\n`;
        if (copyLen + line.length * 3 > copyBuf.length) {
          const grown = Buffer.allocUnsafe(Math.max(copyBuf.length * 2, copyLen + line.length * 3));
          copyBuf.copy(grown, 0, 0, copyLen);
          copyBuf = grown;
        }
        copyLen += copyBuf.write(line, copyLen, 'utf8');
      } else {
        const values = [
          row.seq,
          row.event_id,
          row.schema_version,
          row.event_type,
          occurredIso,
          row.source,
          row.actor_role,
          row.actor_ref,
          row.outcome,
          row.reason,
          row.resource_type,
          row.resource_ref,
          row.amount_minor,
          row.currency,
          prevHex,
          hashHex,
        ];
        for (let c = 0; c < 16; c += 1) (cols[c] as unknown[])[i] = values[c];
      }
      prevHex = hashHex;
    }
    return {
      base,
      end: { seq, hash: n > 0 ? Buffer.from(prevHex, 'hex') : base.hash },
      copy: copyBuf ? copyBuf.subarray(0, copyLen) : null,
      params: asCopy ? null : [...cols.slice(0, 15), recordedIso, cols[15]],
    };
  }
}
