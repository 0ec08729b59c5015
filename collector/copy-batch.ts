/**
 * The COPY text of a batch of audit rows, hash-chained from a given head: for each row, its line is
 * the row followed by what the chain adds (seq, recorded_at, prev_hash, hash). One function for the
 * store's own thread (in slices, see audit-store.ts) and for the hashing worker (row-hasher.ts), so
 * that the two cannot write different chains.
 */
import { canonicalTextOfRow, type AuditRow } from './audit-row';
import { chainHashHexOfText } from './canonical-row';

/** The columns of a COPY line: the row's own, then the chain's. */
export const CHAIN_COLUMNS = ['seq', 'recorded_at', 'prev_hash', 'hash'] as const;

/** A batch's COPY text under construction. */
export interface CopyBatch {
  /** Seq of the last row written (the head's seq before the first). */
  seq: number;
  /** Hash of the last row written, lowercase hex (the head's before the first). */
  prevHex: string;
  readonly recordedMs: number;
  readonly recordedIso: string;
  buf: Buffer;
  len: number;
}

/** Lines are about 330 bytes: room for all at once in the common case (grown if not). */
const LINE_BYTES = 384;

export function startCopyBatch(
  rows: number,
  headSeq: number,
  headHashHex: string,
  recordedMs: number,
): CopyBatch {
  return {
    seq: headSeq,
    prevHex: headHashHex,
    recordedMs,
    recordedIso: new Date(recordedMs).toISOString(),
    buf: Buffer.allocUnsafe(Math.max(1, rows) * LINE_BYTES),
    len: 0,
  };
}

/** Appends the lines of `rows[from, to)`, each chained to the one before. */
export function appendCopyLines(b: CopyBatch, rows: readonly AuditRow[], from: number, to: number): void {
  let { seq, prevHex, buf, len } = b;
  const { recordedMs, recordedIso } = b;
  for (let i = from; i < to; i += 1) {
    const row = rows[i] as AuditRow;
    seq += 1;
    const hashHex = chainHashHexOfText(prevHex, canonicalTextOfRow(row, seq, recordedMs));
    const line = `${row}\t${seq}\t${recordedIso}\t\\\\x${prevHex}\t\\\\x${hashHex}\n`;
    if (len + line.length * 3 > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, len + line.length * 3));
      buf.copy(grown, 0, 0, len);
      buf = grown;
    }
    len += buf.write(line, len, 'utf8');
    prevHex = hashHex;
  }
  b.seq = seq;
  b.prevHex = prevHex;
  b.buf = buf;
  b.len = len;
}

/** The COPY text written so far. */
export function copyBatchText(b: CopyBatch): Buffer {
  return b.buf.subarray(0, b.len);
}
