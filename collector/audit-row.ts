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

/** Characters JSON would escape (quote, control characters but the tab separator, surrogates). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const JSON_ESCAPED = /["\x00-\x08\x0a-\x1f\ud800-\udfff]/;
const N = 78;
const TAB = 9;

/**
 * Whether the row's fields are their own JSON string contents: nothing escaped for COPY (every
 * backslash is a whole `\N` field: an escaped one is followed by another backslash or t, n, r) and
 * nothing JSON would escape. True for every row of a validated event.
 */
function isPlainRow(row: AuditRow): boolean {
  if (JSON_ESCAPED.test(row)) return false;
  for (let i = row.indexOf('\\'); i >= 0; i = row.indexOf('\\', i + 2)) {
    if (row.charCodeAt(i + 1) !== N) return false;
    const after = row.charCodeAt(i + 2);
    if (!Number.isNaN(after) && after !== TAB) return false; // NaN: the row's end
  }
  return true;
}

/** A schema version as JSON writes the number (the general path handles anything else). */
const PLAIN_VERSION = /^(?:0|[1-9]\d{0,8})$/;

let lastOccurredText = '';
let lastOccurredMs = NaN;

/** The canonical text of the row committed at `seq`, recorded at `recordedMs` (canonical-row.ts). */
export function canonicalTextOfRow(row: AuditRow, seq: number, recordedMs: number): string {
  const f = row.split('\t');
  if (f.length !== ROW_COLUMNS.length || !isPlainRow(row) || !PLAIN_VERSION.test(f[1] as string))
    return canonicalRow(canonicalOfFields(row, seq, recordedMs));
  const occurred = f[3] as string;
  if (occurred !== lastOccurredText) {
    lastOccurredMs = Date.parse(occurred);
    lastOccurredText = occurred;
  }
  // The same array as canonicalRow() serialises, written out: [seq (string), event_id, version,
  // type, occurred ms, recorded ms, source, role, actor ref, outcome, reason, resource type, resource
  // ref, amount (string), currency]. A test holds the two equal on every kind of row.
  return (
    `["${seq}",${str(f[0])},${f[1] as string},${str(f[2])},${Number.isNaN(lastOccurredMs) ? 'null' : lastOccurredMs},` +
    `${recordedMs},${str(f[4])},${str(f[5])},${str(f[6])},${str(f[7])},${str(f[8])},${str(f[9])},${str(f[10])},` +
    `${str(f[11])},${str(f[12])}]`
  );
}

const str = (v: string | undefined): string => (v === NULL || v === undefined ? 'null' : `"${v}"`);

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
