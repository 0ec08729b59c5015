/**
 * An accepted event as the collector carries it from admission to the audit store: ONE string, the
 * event's columns in PostgreSQL COPY text format (tab-separated, `\N` for null, backslash and line
 * breaks escaped) in `ROW_COLUMNS` order. It is made once, when the event is accepted, and is at once
 * the spool record, the store queue's entry and the start of the event's COPY line; the chain's
 * canonical form is derived from it at batch time. One flat string per event instead of an object
 * graph (event, actor, resource, amount) that lives for seconds in the queue, and no JSON to parse
 * again when a spilled backlog is read back: that was most of the store path's allocation and GC.
 *
 * Every field of a valid event is drawn from a narrow charset (events.ts), so its COPY text is its
 * value and its JSON is `"value"`: the canonical text is then made by concatenation. Rows that needed
 * escaping (only ever written by direct AuditStore callers, not through validation) take the general
 * path, which decodes the fields and builds the canonical form with canonicalRow(): one definition.
 */
import { canonicalRow, type CanonicalRow } from './canonical-row';
import type { AuditEvent } from './events';

/** The event's columns, in the order of an audit row's fields. */
export const ROW_COLUMNS = [
  'event_id',
  'schema_version',
  'event_type',
  'occurred_at',
  'source',
  'actor_role',
  'actor_ref',
  'outcome',
  'reason',
  'resource_type',
  'resource_ref',
  'amount_minor',
  'currency',
] as const;

/** An audit row: the COPY text of an event's columns (see the module comment). */
export type AuditRow = string;

/** The fields of a row, decoded (null where the column is null). */
export type AuditRowFields = { [K in (typeof ROW_COLUMNS)[number]]: string | null };

const NULL = '\\N';
const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** A value in COPY text format: `\N` for null, backslash, tab and line breaks escaped. */
export function copyText(v: string | null | undefined): string {
  if (v === null || v === undefined) return NULL;
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

const UNESCAPE = /\\(.)/g;
function fromCopyText(v: string): string | null {
  if (v === NULL) return null;
  if (!v.includes('\\')) return v;
  return v.replace(UNESCAPE, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/** Events of a burst share their occurrence time: its normalised text is made once per distinct value. */
let lastOccurredIn = '';
let lastOccurredIso = '';

/**
 * The occurrence time as PostgreSQL and the chain both read it: `toISOString()` of the instant
 * (millisecond precision, `Z`), whatever equivalent ISO text the event carried.
 */
function occurredIso(v: string): string {
  if (v !== lastOccurredIn) {
    lastOccurredIso = new Date(Date.parse(v)).toISOString();
    lastOccurredIn = v;
  }
  return lastOccurredIso;
}

/** The audit row of an event (event_id lowercased, as the chain canonicalises it). */
export function auditRowOf(e: AuditEvent): AuditRow {
  const resource = e.resource;
  const amount = e.amount;
  return (
    `${copyText(e.event_id.toLowerCase())}\t${e.schema_version}\t${copyText(e.event_type)}\t` +
    `${occurredIso(e.occurred_at)}\t${copyText(e.source)}\t${copyText(e.actor.role)}\t` +
    `${copyText(e.actor.ref)}\t${copyText(e.outcome)}\t${copyText(e.reason)}\t` +
    `${resource ? `${copyText(resource.type)}\t${copyText(resource.ref)}` : `${NULL}\t${NULL}`}\t` +
    `${amount ? `${amount.minor_units}\t${copyText(amount.currency)}` : `${NULL}\t${NULL}`}`
  );
}

/** The event id of a row (its first field; a uuid never needs escaping). */
export function rowEventId(row: AuditRow): string {
  const tab = row.indexOf('\t');
  return tab < 0 ? row : row.slice(0, tab);
}

/** The event type of a row (its third field). */
export function rowEventType(row: AuditRow): string {
  const a = row.indexOf('\t');
  const b = row.indexOf('\t', a + 1);
  const c = row.indexOf('\t', b + 1);
  return fromCopyText(row.slice(b + 1, c < 0 ? undefined : c)) ?? '';
}

/** Every field of a row, decoded. */
export function rowFields(row: AuditRow): AuditRowFields {
  const parts = row.split('\t');
  const out = {} as AuditRowFields;
  ROW_COLUMNS.forEach((c, i) => {
    const p = parts[i];
    out[c] = p === undefined ? null : fromCopyText(p);
  });
  return out;
}

const TAB = 9;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const N = 0x4e;
const FIELDS = ROW_COLUMNS.length;
/** Where each field of the row being read ends (its tab, or the row's length for the last). */
const fieldEnds = new Int32Array(FIELDS);

/**
 * Finds the fields of a plain row in one pass, without an array of substrings: true when the row has
 * exactly its columns and its fields are their own JSON string contents, i.e. nothing escaped for
 * COPY (every backslash is a whole `\N` field: an escaped one is followed by another backslash or t,
 * n, r) and nothing JSON would escape (quote, control characters, surrogates). True for every row
 * of a validated event. (With a regex over the row and a `split`, the canonical text took 1.3-1.6
 * times as long.)
 */
function readPlainFields(row: AuditRow): boolean {
  let field = 0;
  const n = row.length;
  for (let i = 0; i < n; i += 1) {
    const c = row.charCodeAt(i);
    if (c === TAB) {
      if (field === FIELDS - 1) return false;
      fieldEnds[field] = i;
      field += 1;
    } else if (c < 0x20 || c === QUOTE || (c >= 0xd800 && c <= 0xdfff)) {
      return false;
    } else if (c === BACKSLASH) {
      if (row.charCodeAt(i + 1) !== N) return false;
      const after = row.charCodeAt(i + 2);
      if (!Number.isNaN(after) && after !== TAB) return false; // NaN: the row's end
      i += 1;
    }
  }
  if (field !== FIELDS - 1) return false;
  fieldEnds[field] = n;
  return true;
}

/** A schema version as JSON writes the number (the general path handles anything else). */
const PLAIN_VERSION = /^(?:0|[1-9]\d{0,8})$/;

let lastOccurredText = '';
let lastOccurredMs = NaN;

/** Field `k` of the row readPlainFields() last read, as JSON: `null` for `\N`, else in quotes. */
function jsonField(row: AuditRow, k: number): string {
  const from = k === 0 ? 0 : (fieldEnds[k - 1] as number) + 1;
  const to = fieldEnds[k] as number;
  if (to - from === 2 && row.charCodeAt(from) === BACKSLASH) return 'null';
  return `"${row.slice(from, to)}"`;
}

/** The canonical text of the row committed at `seq`, recorded at `recordedMs` (canonical-row.ts). */
export function canonicalTextOfRow(row: AuditRow, seq: number, recordedMs: number): string {
  if (!readPlainFields(row)) return canonicalRow(canonicalOfFields(row, seq, recordedMs));
  const version = row.slice((fieldEnds[0] as number) + 1, fieldEnds[1]);
  if (!PLAIN_VERSION.test(version)) return canonicalRow(canonicalOfFields(row, seq, recordedMs));
  const occurred = row.slice((fieldEnds[2] as number) + 1, fieldEnds[3]);
  if (occurred !== lastOccurredText) {
    lastOccurredMs = Date.parse(occurred);
    lastOccurredText = occurred;
  }
  // The same array as canonicalRow() serialises, written out: [seq (string), event_id, version,
  // type, occurred ms, recorded ms, source, role, actor ref, outcome, reason, resource type, resource
  // ref, amount (string), currency]. A test holds the two equal on every kind of row.
  return (
    `["${seq}",${jsonField(row, 0)},${version},${jsonField(row, 2)},${Number.isNaN(lastOccurredMs) ? 'null' : lastOccurredMs},` +
    `${recordedMs},${jsonField(row, 4)},${jsonField(row, 5)},${jsonField(row, 6)},${jsonField(row, 7)},${jsonField(row, 8)},` +
    `${jsonField(row, 9)},${jsonField(row, 10)},${jsonField(row, 11)},${jsonField(row, 12)}]`
  );
}

/** The canonical row of a row's decoded fields (the general path). */
export function canonicalOfFields(row: AuditRow, seq: number, recordedMs: number): CanonicalRow {
  const r = rowFields(row);
  return {
    seq,
    event_id: r.event_id ?? '',
    schema_version: Number(r.schema_version),
    event_type: r.event_type ?? '',
    occurred_at_ms: r.occurred_at === null ? NaN : Date.parse(r.occurred_at),
    recorded_at_ms: recordedMs,
    source: r.source ?? '',
    actor_role: r.actor_role ?? '',
    actor_ref: r.actor_ref,
    outcome: r.outcome ?? '',
    reason: r.reason ?? '',
    resource_type: r.resource_type,
    resource_ref: r.resource_ref,
    amount_minor: r.amount_minor,
    currency: r.currency,
  };
}

const OPEN_BRACE = 0x7b;

/**
 * The audit row of a spool record. Records are rows since rows were introduced; a spool left by an
 * earlier version holds the event's JSON (it starts with `{`, which no row does: a row starts with a
 * uuid), and is replayed through the same row builder.
 */
export function rowOfSpoolPayload(payload: Buffer): AuditRow {
  if (payload[0] === OPEN_BRACE) return auditRowOf(JSON.parse(payload.toString('utf8')) as AuditEvent);
  return payload.toString('utf8');
}
