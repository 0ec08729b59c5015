/**
 * Verifies the audit hash chain. Incremental: it remembers the last verified (seq, hash) and reads
 * only newer rows, so its cost does not grow with the table, and checks first that the last verified
 * row still has its hash (a deleted or rewritten tail). `full()` starts again from genesis (a row
 * changed behind the triggers before the last incremental run is only caught that way) and checks
 * that the chain still reaches the head verified before, or an anchor kept outside the database.
 */
import { canonicalText, chainHashHexOfText, GENESIS_HASH } from './canonical-row';
import type { Queryable } from './database';

const PAGE_ROWS = 5000;
/** Rows hashed between yields to the event loop: a full run must not stall ingest for a whole page. */
const YIELD_EVERY_ROWS = 250;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface ChainHead {
  seq: number;
  /** Hex sha256 of the row at `seq` (genesis: 64 zeros at seq 0). */
  hash: string;
}

/**
 * `seq_out_of_range`: a row below the chain's first sequence number (1), where no link reaches it:
 * planted by an insert, it would otherwise never be read.
 */
export type BreakKind =
  'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap' | 'anchor_mismatch' | 'seq_out_of_range';

export interface VerifyResult {
  ok: boolean;
  /** Rows verified by this run. */
  verified: number;
  head: ChainHead;
  /** The first bad row (only seq and kind: never row contents). */
  broken?: { seq: number; kind: BreakKind };
}

/**
 * A stored row as the chain reads it, in the types the canonical form uses, converted by PostgreSQL:
 * times as epoch milliseconds (floored, as a JavaScript Date of the value would hold them), hashes as
 * hex. No Date or Buffer per row: the verifier reads every row the store writes.
 */
interface Row {
  seq: string;
  event_id: string;
  schema_version: number;
  event_type: string;
  occurred_ms: string;
  recorded_ms: string;
  source: string;
  actor_role: string;
  actor_ref: string | null;
  outcome: string;
  reason: string;
  resource_type: string | null;
  resource_ref: string | null;
  amount_minor: string | null;
  currency: string | null;
  /** Both timestamps are whole milliseconds, as written (the chain hashes milliseconds). */
  whole_ms: boolean;
  prev_hash: string;
  hash: string;
}

const SELECT_SQL = `
SELECT seq, event_id::text AS event_id, schema_version, event_type,
       floor(extract(epoch FROM occurred_at) * 1000)::int8 AS occurred_ms,
       floor(extract(epoch FROM recorded_at) * 1000)::int8 AS recorded_ms,
       extract(microseconds FROM occurred_at)::int8 % 1000 = 0
         AND extract(microseconds FROM recorded_at)::int8 % 1000 = 0 AS whole_ms,
       source, actor_role, actor_ref, outcome, reason, resource_type, resource_ref,
       amount_minor::text AS amount_minor, currency,
       encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`;

const HEAD_SQL = `SELECT encode(hash, 'hex') AS hash FROM audit_events WHERE seq = $1`;

/** The lowest row below the chain's start, if any (one probe of the primary key). */
const BELOW_CHAIN_SQL = `SELECT seq FROM audit_events WHERE seq < 1 ORDER BY seq LIMIT 1`;

const GENESIS_HEX = GENESIS_HASH.toString('hex');

/** The head before any row: where a verifier with nothing verified yet stands. */
export const GENESIS_HEAD: Readonly<ChainHead> = Object.freeze({ seq: 0, hash: GENESIS_HEX });

export class ChainVerifier {
  private seq = 0;
  /** Hex of the last verified row's hash. */
  private hash = GENESIS_HEX;

  /**
   * `from`: a head verified before (by another verifier of this chain), to go on from.
   * `afterPage`: awaited after each full page with the milliseconds it took (pacing a catch-up).
   */
  constructor(
    private readonly db: Queryable,
    from?: ChainHead,
    private readonly afterPage?: (pageMs: number) => Promise<void>,
  ) {
    if (from) {
      this.seq = from.seq;
      this.hash = from.hash.toLowerCase();
    }
  }

  /** The last verified head: export it (log, object store, ticket) to anchor the chain. */
  head(): ChainHead {
    return { seq: this.seq, hash: this.hash };
  }

  /**
   * Verifies rows added since the last run, after checking that the last verified row is still
   * there with the same hash: reading only newer rows, a run would otherwise never notice that the
   * verified tail was deleted or rewritten (one indexed read per run).
   */
  async incremental(opts: { maxRows?: number } = {}): Promise<VerifyResult> {
    const maxRows = opts.maxRows ?? Number.POSITIVE_INFINITY;
    let verified = 0;
    const below = await this.db.query<{ seq: string }>(BELOW_CHAIN_SQL);
    if (below.rows[0] !== undefined)
      return {
        ok: false,
        verified,
        head: this.head(),
        broken: { seq: Number(below.rows[0].seq), kind: 'seq_out_of_range' },
      };
    if (this.seq > 0) {
      const at = await this.db.query<{ hash: string }>(HEAD_SQL, [this.seq]);
      if (at.rows[0]?.hash !== this.hash)
        return { ok: false, verified, head: this.head(), broken: { seq: this.seq, kind: 'anchor_mismatch' } };
    }
    while (verified < maxRows) {
      const started = performance.now();
      const page = await this.db.query<Row>(SELECT_SQL, [this.seq, Math.min(PAGE_ROWS, maxRows - verified)]);
      for (const row of page.rows) {
        if (verified > 0 && verified % YIELD_EVERY_ROWS === 0) await yieldToLoop();
        const seq = Number(row.seq);
        const kind = this.check(row, seq);
        if (kind) return { ok: false, verified, head: this.head(), broken: { seq, kind } };
        this.seq = seq;
        this.hash = row.hash;
        verified += 1;
      }
      if (page.rows.length < PAGE_ROWS) break;
      if (this.afterPage && verified < maxRows) await this.afterPage(performance.now() - started);
    }
    return { ok: true, verified, head: this.head() };
  }

  /**
   * Verifies from genesis, and that the row at the anchor still has its hash: `anchor`, else the
   * head this verifier had verified before (a chain rebuilt consistently after the verified rows
   * were deleted or rewritten passes from genesis; it does not reach the same head). A failed run
   * keeps the head it started from, so later runs stay anchored on what was verified before the
   * break instead of on what the failed run walked through.
   */
  async full(opts: { anchor?: ChainHead } = {}): Promise<VerifyResult> {
    const before = this.head();
    const anchor = opts.anchor ?? (before.seq > 0 ? before : undefined);
    this.seq = 0;
    this.hash = GENESIS_HEX;
    const r = await this.fromGenesis(anchor);
    if (!r.ok) {
      // The result says how far this run got; the verifier stays where it had verified before.
      this.seq = before.seq;
      this.hash = before.hash;
    }
    return r;
  }

  private async fromGenesis(anchor: ChainHead | undefined): Promise<VerifyResult> {
    if (!anchor) return this.incremental();
    const upTo = await this.incremental({ maxRows: anchor.seq });
    if (!upTo.ok) return upTo;
    if (this.seq !== anchor.seq || this.hash !== anchor.hash.toLowerCase()) {
      return {
        ok: false,
        verified: upTo.verified,
        head: this.head(),
        broken: { seq: anchor.seq, kind: 'anchor_mismatch' },
      };
    }
    const rest = await this.incremental();
    return { ...rest, verified: upTo.verified + rest.verified };
  }

  private check(row: Row, seq: number): BreakKind | null {
    if (seq !== this.seq + 1) return 'seq_gap';
    if (row.prev_hash !== this.hash) return 'prev_hash_mismatch';
    // A timestamp moved by less than a millisecond hashes as before: the stored value itself must
    // be what was written, a whole millisecond.
    if (!row.whole_ms) return 'hash_mismatch';
    const text = canonicalText({
      seq,
      event_id: row.event_id,
      schema_version: Number(row.schema_version),
      event_type: row.event_type,
      occurred_at_ms: Number(row.occurred_ms),
      recorded_at_ms: Number(row.recorded_ms),
      source: row.source,
      actor_role: row.actor_role,
      actor_ref: row.actor_ref,
      outcome: row.outcome,
      reason: row.reason,
      resource_type: row.resource_type,
      resource_ref: row.resource_ref,
      amount_minor: row.amount_minor,
      currency: row.currency,
    });
    return chainHashHexOfText(this.hash, text) === row.hash ? null : 'hash_mismatch';
  }
}
