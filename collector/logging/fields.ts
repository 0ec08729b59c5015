/**
 * The closed set of fields a log line may carry, with a shape check per field. Log lines leave the
 * process (stdout, Elasticsearch), so anything not listed here is dropped before serialisation:
 * the TypeScript type closes the API for callers, and sanitiseFields() enforces it at run time for
 * values that arrive through casts, JavaScript callers or child bindings.
 */
import { errorType } from './error-type';

export const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
] as const;
/** OpenTelemetry semantic conventions name any other method `_OTHER`. */
export type HttpMethod = (typeof HTTP_METHODS)[number] | '_OTHER';

export const EVENT_OUTCOMES = ['success', 'failure', 'unknown'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

/** Keys of ECS `labels` a line may carry; label values must be short identifiers. */
export const LOG_LABEL_KEYS = [
  'component',
  'job',
  'source',
  'event_type',
  'reason',
  'sink',
  'queue',
] as const;
export type LogLabelKey = (typeof LOG_LABEL_KEYS)[number];

/**
 * Everything a caller may put in a log line. Dotted ECS names, flat (Elasticsearch reads
 * `"event.action"` and `{event: {action}}` alike, and a flat object is cheaper to check).
 */
export interface LogFields {
  /** What happened, as a short identifier: `order_created`, `http_request`, `store_batch`. */
  'event.action'?: string;
  'event.outcome'?: EventOutcome;
  /** A reason from a closed set (e.g. the collector's event reasons), as an identifier. */
  'event.reason'?: string;
  'event.category'?: string;
  /** The collector event id (a UUID, the idempotency key): not PHI. */
  'event.id'?: string;
  /** Nanoseconds (ECS). */
  'event.duration'?: number;
  'http.request.method'?: HttpMethod;
  /** A route TEMPLATE (`/api/patients/:id`), never the concrete path. */
  'url.path'?: string;
  'http.response.status_code'?: number;
  'http.request.body.bytes'?: number;
  'http.response.body.bytes'?: number;
  /** Class name or code only; use `err` to derive it from an error. */
  'error.type'?: string;
  /** Any thrown value: only its class name / code reaches the line (never message or stack). */
  err?: unknown;
  'service.name'?: string;
  'service.version'?: string;
  'service.environment'?: string;
  'log.logger'?: string;
  'trace.id'?: string;
  'span.id'?: string;
  /** Counts and sizes the service reports about itself (batch sizes, queue depth, bytes). */
  'event.kind'?: 'alert' | 'enrichment' | 'event' | 'metric' | 'state' | 'pipeline_error' | 'signal';
  /** A code-shaped identifier (`ECONNREFUSED`, `23505`, `spool_full`). */
  'error.code'?: string;
  /** Collector fields (closed sets / pseudonymous by schema). */
  'audit.source'?: string;
  'audit.actor_role'?: string;
  'audit.resource_type'?: string;
  'audit.chain_head_seq'?: number;
  'job.name'?: string;
  'gauge.name'?: string;
  'telehealth.count'?: number;
  'telehealth.bytes'?: number;
  'telehealth.attempt'?: number;
  'labels.component'?: string;
  'labels.job'?: string;
  'labels.source'?: string;
  'labels.event_type'?: string;
  'labels.reason'?: string;
  'labels.sink'?: string;
  'labels.queue'?: string;
}

type Check = (value: unknown) => unknown;

const IDENT = /^[A-Za-z0-9_.:-]{1,64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROUTE_CHARS = /^\/[A-Za-z0-9_.~:*(){}|+/-]{0,159}$/;
/** A segment that looks like a concrete id rather than a template: digits, a UUID, hex blobs, e-mail. */
const CONCRETE_SEGMENT = /\/(?:\d{2,}|[0-9a-f]{8}-[0-9a-f-]{27,}|[0-9a-f]{16,})(?=\/|$)|@/i;

const ident: Check = (v) => (typeof v === 'string' && IDENT.test(v) ? v : undefined);
const hex32: Check = (v) => (typeof v === 'string' && HEX32.test(v) && v !== '0'.repeat(32) ? v : undefined);
const hex16: Check = (v) => (typeof v === 'string' && HEX16.test(v) && v !== '0'.repeat(16) ? v : undefined);
const uuid: Check = (v) => (typeof v === 'string' && UUID.test(v) ? v : undefined);
const nonNegInt: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const statusCode: Check = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599 ? v : undefined;
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? v : undefined;
const route: Check = (v) =>
  typeof v === 'string' && ROUTE_CHARS.test(v) && !CONCRETE_SEGMENT.test(v) ? v : undefined;
const method: Check = (v) =>
  typeof v !== 'string' ? undefined : (HTTP_METHODS as readonly string[]).includes(v) ? v : '_OTHER';

/**
 * Strings repeat (actions, routes, reasons): a bounded per-check memo of accepted values turns
 * the regular expressions into one Map lookup on the hot path.
 */
function memo(check: Check, limit = 512): Check {
  const seen = new Set<string>();
  return (v) => {
    if (typeof v === 'string' && seen.has(v)) return v;
    const out = check(v);
    if (out !== undefined && out === v && typeof v === 'string' && seen.size < limit) seen.add(v);
    return out;
  };
}

/** Field name -> run-time check returning the value to log, or undefined to drop the field. */
const CHECK_TABLE: Record<string, Check> = {
  'event.action': memo(ident),
  'event.outcome': oneOf(EVENT_OUTCOMES),
  'event.reason': memo(ident),
  'event.category': memo(ident),
  'event.id': uuid,
  'event.duration': nonNegInt,
  'http.request.method': method,
  'url.path': memo(route),
  'http.response.status_code': statusCode,
  'http.request.body.bytes': nonNegInt,
  'http.response.body.bytes': nonNegInt,
  'error.type': ident,
  'service.name': ident,
  'service.version': ident,
  'service.environment': ident,
  'log.logger': ident,
  'trace.id': hex32,
  'span.id': hex16,
  'event.kind': oneOf(['alert', 'enrichment', 'event', 'metric', 'state', 'pipeline_error', 'signal']),
  'error.code': memo(ident),
  'audit.source': memo(ident),
  'audit.actor_role': memo(ident),
  'audit.resource_type': memo(ident),
  'audit.chain_head_seq': nonNegInt,
  'job.name': memo(ident),
  'gauge.name': memo(ident),
  'telehealth.count': nonNegInt,
  'telehealth.bytes': nonNegInt,
  'telehealth.attempt': nonNegInt,
};
for (const key of LOG_LABEL_KEYS) CHECK_TABLE[`labels.${key}`] = memo(ident);
const CHECKS = new Map<string, Check>(Object.entries(CHECK_TABLE));

export const ALLOWED_LOG_FIELDS: readonly string[] = Object.freeze([...CHECKS.keys(), 'err']);

/** The run-time check of one flat field (value to log, or undefined to drop it); undefined for `err`. */
export function fieldCheck(name: string): ((value: unknown) => unknown) | undefined {
  return CHECKS.get(name);
}

/** `event`, `http`, `http.request`, ...: objects under these names are walked (nested ECS form). */
const NAMESPACES = new Set<string>();
for (const key of CHECKS.keys()) {
  const parts = key.split('.');
  for (let i = 1; i < parts.length; i++) NAMESPACES.add(parts.slice(0, i).join('.'));
}
const MAX_DEPTH = 4;

export interface SanitiseResult {
  fields: Record<string, unknown>;
  /** How many fields were refused (unknown name or a value of the wrong shape). */
  dropped: number;
}

/**
 * Copies the allowed fields of `input` with valid values into a fresh object. An `err` becomes
 * `error.type` (class name or code) and nothing else of it is read.
 */
export function sanitiseFields(input: unknown): SanitiseResult {
  const out: SanitiseResult = { fields: {}, dropped: 0 };
  if (input !== null && typeof input === 'object') visit(input as Record<string, unknown>, '', 0, out);
  return out;
}

/**
 * Flat dotted keys (`'event.action'`) are the fast path; nested objects (`{ event: { action } }`)
 * are walked only under known namespaces, so `{ patient: {...} }` is dropped whole.
 */
function visit(source: Record<string, unknown>, prefix: string, depth: number, out: SanitiseResult): void {
  for (const key in source) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
    const raw = source[key];
    if (raw === undefined || raw === null) continue;
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (name === 'err') {
      if (out.fields['error.type'] === undefined) out.fields['error.type'] = errorType(raw);
      continue;
    }
    // pino's own instrumentation adds this next to trace.id; it is not an ECS field.
    if (name === 'trace.flags') continue;
    const check = CHECKS.get(name);
    if (check !== undefined) {
      const value = check(raw);
      if (value === undefined) out.dropped++;
      else out.fields[name] = value;
    } else if (typeof raw === 'object' && !Array.isArray(raw) && depth < MAX_DEPTH && NAMESPACES.has(name)) {
      visit(raw as Record<string, unknown>, name, depth + 1, out);
    } else {
      out.dropped++;
    }
  }
}

const PHI_LIKE = /[^\s@"]+@[^\s@"]+|\d{3}-\d{2}-\d{4}|\+?\d[\d ().-]{6,}\d/g;
const MAX_MESSAGE = 200;

/**
 * Messages are meant to be constants (the typed API only accepts string literals). This backstop
 * masks e-mail, SSN- and phone-like substrings and caps the length for values that slip through.
 */
export function sanitiseMessage(message: unknown): string {
  if (typeof message !== 'string') return '';
  const capped = message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message;
  PHI_LIKE.lastIndex = 0;
  return PHI_LIKE.test(capped) ? capped.replace(PHI_LIKE, '[redacted]') : capped;
}
