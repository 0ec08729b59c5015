/**
 * The canonical form of an audit row and its chain hash: `hash = sha256(prev_hash || canonical)`.
 * The writer and the verifier share this one function, so that they cannot drift apart. The form is
 * a JSON array in a fixed column order with values normalised to what both sides can reproduce
 * exactly (times as epoch milliseconds, bigints as decimal strings, uuids lowercase).
 */
import { hash } from 'node:crypto';
import type { AuditEvent } from './events';

export const GENESIS_HASH: Buffer = Buffer.alloc(32);

export interface CanonicalRow {
  seq: number;
  event_id: string;
  schema_version: number;
  event_type: string;
  occurred_at_ms: number;
  recorded_at_ms: number;
  source: string;
  actor_role: string;
  actor_ref: string | null;
  outcome: string;
  reason: string;
  resource_type: string | null;
  resource_ref: string | null;
  amount_minor: string | null;
  currency: string | null;
}

/** The canonical row of an event as the store writes it at `seq`, recorded at `recordedMs`. */
export function canonicalRowOf(e: AuditEvent, seq: number, recordedMs: number): CanonicalRow {
  return {
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
}

export function canonicalRow(r: CanonicalRow): string {
  return JSON.stringify([
    String(r.seq),
    r.event_id.toLowerCase(),
    r.schema_version,
    r.event_type,
    r.occurred_at_ms,
    r.recorded_at_ms,
    r.source,
    r.actor_role,
    r.actor_ref,
    r.outcome,
    r.reason,
    r.resource_type,
    r.resource_ref,
    r.amount_minor,
    r.currency,
  ]);
}

/** Characters JSON.stringify escapes in a string (quote, backslash, control characters, surrogates). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const JSON_ESCAPED = /["\\\x00-\x1f\ud800-\udfff]/;
const q = (v: string | null): string => (v === null ? 'null' : `"${v}"`);

/**
 * canonicalRow() by concatenation, for the verifier's every row: when no string needs JSON escaping
 * (true of every row a validated event made) and the numbers are integers, JSON's text of the array
 * is its values in quotes; anything else takes canonicalRow(). A property test holds the two equal.
 */
export function canonicalText(r: CanonicalRow): string {
  const id = r.event_id.toLowerCase();
  const strings =
    id +
    r.event_type +
    r.source +
    r.actor_role +
    (r.actor_ref ?? '') +
    r.outcome +
    r.reason +
    (r.resource_type ?? '') +
    (r.resource_ref ?? '') +
    (r.amount_minor ?? '') +
    (r.currency ?? '');
  if (
    JSON_ESCAPED.test(strings) ||
    !Number.isSafeInteger(r.seq) ||
    !Number.isSafeInteger(r.schema_version) ||
    !Number.isSafeInteger(r.occurred_at_ms) ||
    !Number.isSafeInteger(r.recorded_at_ms)
  )
    return canonicalRow(r);
  return (
    `["${r.seq}","${id}",${r.schema_version},"${r.event_type}",${r.occurred_at_ms},${r.recorded_at_ms},` +
    `"${r.source}","${r.actor_role}",${q(r.actor_ref)},"${r.outcome}","${r.reason}",${q(r.resource_type)},` +
    `${q(r.resource_ref)},${q(r.amount_minor)},${q(r.currency)}]`
  );
}

/** Reused input of the one-shot hash (prev || canonical): no buffer per row (this runs per stored event). */
let scratch = Buffer.allocUnsafeSlow(4096);

/** The scratch buffer with room for `prevBytes` and `text` (a canonical row is < 1 KiB; grown if not). */
function scratchFor(prevBytes: number, text: string): Buffer {
  const need = prevBytes + text.length * 3;
  if (need > scratch.length) scratch = Buffer.allocUnsafeSlow(need * 2);
  return scratch;
}

export function chainHash(prev: Buffer, row: CanonicalRow): Buffer {
  // One-shot hash of prev || canonical: no Hash object per row. `prev` is whatever the previous row
  // holds (the verifier passes stored, possibly tampered, values): any length.
  const text = canonicalText(row);
  const buf = scratchFor(prev.length, text);
  prev.copy(buf, 0);
  const len = prev.length + buf.write(text, prev.length, 'utf8');
  return hash('sha256', buf.subarray(0, len), 'buffer');
}

/**
 * chainHash of a canonical text already made, with the hashes as lowercase hex: the writer derives
 * the text from the audit row (audit-row.ts) and keeps the chain in hex for the COPY text.
 */
export function chainHashHexOfText(prevHex: string, text: string): string {
  const buf = scratchFor(prevHex.length >> 1, text);
  const prevLen = buf.write(prevHex, 0, 'hex');
  const len = prevLen + buf.write(text, prevLen, 'utf8');
  return hash('sha256', buf.subarray(0, len), 'hex');
}
