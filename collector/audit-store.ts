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
 * A row is a duplicate only when it equals the one kept (at the stored row's place in the chain it
 * gives the stored hash); a different event under a taken id is a conflict, returned to the caller
 * (which keeps it aside) instead of being skipped without a trace.
 */
import {
  auditRowOf,
  canonicalTextOfRow,
  ROW_COLUMNS,
  rowEventId,
  rowFields,
  type AuditRow,
} from './audit-row';
import { chainHashHexOfText, GENESIS_HASH } from './canonical-row';
import { appendCopyLines, CHAIN_COLUMNS, copyBatchText, startCopyBatch } from './copy-batch';
import type { Database, Transaction } from './database';
import type { AuditEvent } from './events';
import { AUDIT_WRITER_ROLE, CHAIN_LOCK, LOCK_NAMESPACE } from './migrations';
import type { RowHasher } from './row-hasher';

export interface InsertOutcome {
  inserted: number;
  /** Rows equal to one already stored or earlier in the batch: nothing to do. */
  duplicates: number;
  /** Rows whose event id is taken by a different row (stored or earlier in the batch): not written. */
  conflicts: AuditRow[];
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

/** A batch ready for `commit`: deduplicated audit rows and, when the head was known, their chain. */
export interface PreparedBatch {
  readonly events: readonly AuditRow[];
  readonly batchDuplicates: number;
  /** Rows reusing the id of a different row earlier in the batch. */
  readonly batchConflicts: readonly AuditRow[];
  readonly recordedMs: number;
  /** The head after this batch if it commits as prepared (null when prepared without a head). */
  readonly end: ChainLink | null;
  rows: Rows | null;
}

class DuplicatesInBatch extends Error {}

interface WriteResult {
  inserted: number;
  end: ChainLink;
  /** Rows of the batch whose id the store holds for a different row. */
  conflicts: AuditRow[];
  /** The stored rows found for the batch's ids (only when it was written again without them). */
  stored: Map<string, StoredLink>;
}

const COLUMNS =
  'seq, event_id, schema_version, event_type, occurred_at, recorded_at, source, actor_role, actor_ref, outcome, reason, resource_type, resource_ref, amount_minor, currency, prev_hash, hash';

// The audit row's own columns first, so that each COPY line is the row followed by what the chain
// adds: seq, recorded_at and the two hashes (no per-column work per event).
const COPY_SQL = `COPY audit_events (${[...ROW_COLUMNS, ...CHAIN_COLUMNS].join(', ')}) FROM STDIN`;

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

/** The statements that open a batch's transaction (constants only: one simple-protocol round trip). */
const OPENING_SQL = (asWriter: boolean): string =>
  `${asWriter ? `SET LOCAL ROLE ${AUDIT_WRITER_ROLE}; ` : ''}` +
  `SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${CHAIN_LOCK}); ` +
  'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1';

/**
 * Hashing a batch yields to the event loop after this much work, so that requests are not held up;
 * by time, not rows, so that the pause is the same on a fast or a loaded machine. (Checked every
 * 64 rows, about 0.3 ms of work.)
 */
const SLICE_MS = 4;
const CHECK_EVERY = 64;

/** Where a stored row sits in the chain: enough to tell whether a row is the one stored there. */
interface StoredLink {
  seq: string;
  recorded_ms: string;
  prev_hash: string;
  hash: string;
}

const STORED_LINKS_SQL = `SELECT event_id::text AS event_id, seq,
  floor(extract(epoch FROM recorded_at) * 1000)::int8 AS recorded_ms,
  encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
FROM audit_events WHERE event_id = ANY($1::uuid[])`;

/**
 * Whether `row` is the row stored at `link`: hashed at its place in the chain, as the verifier
 * checks it, it gives the stored hash (one definition of a row's content: the canonical form).
 */
function isStoredRow(row: AuditRow, link: StoredLink): boolean {
  const text = canonicalTextOfRow(row, Number(link.seq), Number(link.recorded_ms));
  return chainHashHexOfText(link.prev_hash, text) === link.hash;
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
    /** Builds COPY batches off the event loop (row-hasher.ts); without it they are built here. */
    private readonly hasher: RowHasher | null,
  ) {}

  static async open(db: Database, opts: { hasher?: RowHasher | null } = {}): Promise<AuditStore> {
    const r = await db.query<{ member: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
              AND pg_has_role(current_user, $1, 'MEMBER') AS member`,
      [AUDIT_WRITER_ROLE],
    );
    return new AuditStore(db, r.rows[0]?.member === true, opts.hasher ?? null);
  }

  /** The head expected after the last commit of this store (a guess: another writer may append). */
  expectedHead(): ChainLink | null {
    return this.head;
  }

  /** Appends the events in order (duplicates of stored or earlier events in the batch are skipped). */
  async insert(events: readonly AuditEvent[], recordedAt = new Date()): Promise<InsertOutcome> {
    return this.commit(await this.prepare(events.map(auditRowOf), this.head, recordedAt));
  }

  /**
   * Deduplicates and hashes the audit rows `events` on `base` (yielding to the event loop now and
   * then, so that a large batch does not hold up requests). Without a base the hashing waits for the lock.
   */
  async prepare(
    events: readonly AuditRow[],
    base: ChainLink | null,
    recordedAt = new Date(),
  ): Promise<PreparedBatch> {
    const seen = new Map<string, AuditRow>();
    const unique: AuditRow[] = [];
    const conflicts: AuditRow[] = [];
    for (const row of events) {
      const id = rowEventId(row); // lowercase: auditRowOf made it so
      const first = seen.get(id);
      if (first !== undefined) {
        if (first !== row) conflicts.push(row);
        continue;
      }
      seen.set(id, row);
      unique.push(row);
    }
    const recordedMs = recordedAt.getTime();
    const rows =
      base && unique.length > 0
        ? await this.buildRows(unique, base, recordedMs, this.db.kind === 'postgres')
        : null;
    return {
      events: unique,
      batchDuplicates: events.length - unique.length - conflicts.length,
      batchConflicts: conflicts,
      recordedMs,
      end: rows ? rows.end : null,
      rows,
    };
  }

  /**
   * Opens a write as a batch would (role, chain lock, head) without writing a row: whether the
   * store accepts writes at all, to tell a bad row from a store that refuses everything.
   */
  async probe(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.script(OPENING_SQL(this.writesAsWriterRole));
    });
  }

  /** Writes a prepared batch in one transaction under the chain lock. */
  async commit(batch: PreparedBatch): Promise<InsertOutcome> {
    if (batch.events.length === 0)
      return { inserted: 0, duplicates: batch.batchDuplicates, conflicts: [...batch.batchConflicts] };
    this.head = null;
    let result: WriteResult;
    try {
      result = await this.db.transaction((tx) => this.write(tx, batch, false));
    } catch (err) {
      if (!(err instanceof DuplicatesInBatch)) throw err;
      // Rare path (replays): look the stored ids up under the lock, then write the rest.
      result = await this.db.transaction((tx) => this.write(tx, batch, true));
    }
    this.head = result.end;
    let duplicates = batch.batchDuplicates + batch.events.length - result.inserted - result.conflicts.length;
    const conflicts = result.conflicts;
    // A row repeating an id earlier in the batch is compared with the row that id ends up with: the
    // stored one when the earlier row was itself not written.
    for (const row of batch.batchConflicts) {
      const link = result.stored.get(rowEventId(row));
      if (link !== undefined && isStoredRow(row, link)) duplicates += 1;
      else conflicts.push(row);
    }
    return { inserted: result.inserted, duplicates, conflicts };
  }

  private async write(tx: Transaction, batch: PreparedBatch, skipStored: boolean): Promise<WriteResult> {
    // Role, chain lock and head in one round trip (with BEGIN): the head is read by a statement of
    // its own after the lock is held, so its snapshot sees the last commit (READ COMMITTED).
    const headRow = await tx.script<{ seq: string; hash: Buffer }>(OPENING_SQL(this.writesAsWriterRole));
    const first = headRow.rows[0];
    const head: ChainLink = first
      ? { seq: Number(first.seq), hash: Buffer.from(first.hash) }
      : { seq: 0, hash: GENESIS_HASH };
    let events = batch.events;
    const conflicts: AuditRow[] = [];
    const stored = new Map<string, StoredLink>();
    if (skipStored) {
      const found = await tx.query<StoredLink & { event_id: string }>(STORED_LINKS_SQL, [
        events.map(rowEventId),
      ]);
      for (const r of found.rows) stored.set(r.event_id, r);
      events = events.filter((row) => {
        const link = stored.get(rowEventId(row));
        if (link === undefined) return true;
        if (!isStoredRow(row, link)) conflicts.push(row);
        return false;
      });
      if (events.length === 0) return { inserted: 0, end: head, conflicts, stored };
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
    return { inserted: count, end: rows.end, conflicts, stored };
  }

  private async buildRows(
    events: readonly AuditRow[],
    base: ChainLink,
    recordedMs: number,
    asCopy: boolean,
  ): Promise<Rows> {
    return asCopy ? this.buildCopy(events, base, recordedMs) : this.buildInsert(events, base, recordedMs);
  }

  /** COPY text chained from `base`: on the hashing worker when there is one, else here in slices. */
  private async buildCopy(events: readonly AuditRow[], base: ChainLink, recordedMs: number): Promise<Rows> {
    const baseHex = base.hash.toString('hex');
    const hasher = this.hasher;
    if (hasher?.usable()) {
      const done = await hasher.build(events, base.seq, baseHex, recordedMs);
      if (done) {
        return {
          base,
          end: { seq: done.endSeq, hash: Buffer.from(done.endHashHex, 'hex') },
          copy: done.copy,
          params: null,
        };
      }
    }
    const b = startCopyBatch(events.length, base.seq, baseHex, recordedMs);
    for (let i = 0; i < events.length;) {
      if (i > 0) await yieldToLoop();
      // One slice: rows until SLICE_MS have passed (checked every CHECK_EVERY rows).
      const sliceStart = performance.now();
      do {
        const to = Math.min(events.length, i + CHECK_EVERY);
        appendCopyLines(b, events, i, to);
        i = to;
      } while (i < events.length && performance.now() - sliceStart < SLICE_MS);
    }
    return {
      base,
      end: { seq: b.seq, hash: events.length > 0 ? Buffer.from(b.prevHex, 'hex') : base.hash },
      copy: copyBatchText(b),
      params: null,
    };
  }

  /** PGlite (no COPY): the parameters of one INSERT from unnest'ed arrays, in its column order. */
  private async buildInsert(events: readonly AuditRow[], base: ChainLink, recordedMs: number): Promise<Rows> {
    let seq = base.seq;
    const recordedIso = new Date(recordedMs).toISOString();
    const n = events.length;
    const cols: unknown[][] = Array.from({ length: 16 }, () => new Array<unknown>(n));
    let prevHex = base.hash.toString('hex');
    let sliceStart = performance.now();
    for (let i = 0; i < n; i += 1) {
      if (i % CHECK_EVERY === CHECK_EVERY - 1 && performance.now() - sliceStart >= SLICE_MS) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
      const row = events[i] as AuditRow;
      seq += 1;
      const hashHex = chainHashHexOfText(prevHex, canonicalTextOfRow(row, seq, recordedMs));
      const f = rowFields(row);
      const values = [
        seq,
        f.event_id,
        f.schema_version,
        f.event_type,
        f.occurred_at,
        f.source,
        f.actor_role,
        f.actor_ref,
        f.outcome,
        f.reason,
        f.resource_type,
        f.resource_ref,
        f.amount_minor,
        f.currency,
        prevHex,
        hashHex,
      ];
      for (let c = 0; c < 16; c += 1) (cols[c] as unknown[])[i] = values[c];
      prevHex = hashHex;
    }
    return {
      base,
      end: { seq, hash: n > 0 ? Buffer.from(prevHex, 'hex') : base.hash },
      copy: null,
      params: [...cols.slice(0, 15), recordedIso, cols[15]],
    };
  }
}
