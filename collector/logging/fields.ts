/**
 * The closed set of fields a log line may carry, with a shape check per field. Log lines leave the
 * process (stdout, Elasticsearch), so anything not listed here is dropped before serialisation:
 * the TypeScript type closes the API for callers, and sanitiseFields() enforces it at run time for
 * values that arrive through casts, JavaScript callers or child bindings.
 */
import { errorType } from './error-type';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;
/** OpenTelemetry semantic conventions name any other method `_OTHER`. */
export type HttpMethod = (typeof HTTP_METHODS)[number] | '_OTHER';

export const EVENT_OUTCOMES = ['success', 'failure', 'unknown'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

/** Keys of ECS `labels` a line may carry; label values must be short identifiers. */
export const LOG_LABEL_KEYS = ['component', 'job', 'source', 'event_type', 'reason', 'sink', 'queue'] as const;
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
const ROUTE_CHARS = /^\/[A-Za-z0-9_.~:*(){}|+\/-]{0,159}$/;
/** A segment that looks like a concrete id rather than a template: digits, a UUID, hex blobs, e-mail. */
const CONCRETE_SEGMENT = /\/(?:\d{2,}|[0-9a-f]{8}-[0-9a-f-]{27,}|[0-9a-f]{16,})(?=\/|$)|@/i;

const ident: Check = (v) => (typeof v === 'string' && IDENT.test(v) ? v : undefined);
const hex32: Check = (v) => (typeof v === 'string' && HEX32.test(v) && v !== '0'.repeat(32) ? v : undefined);
const hex16: Check = (v) => (typeof v === 'string' && HEX16.test(v) && v !== '0'.repeat(16) ? v : undefined);
const uuid: Check = (v) => (typeof v === 'string' && UUID.test(v) ? v : undefined);
const nonNegInt: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const statusCode: Check = (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599 ? v : undefined);
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? v : undefined;
const route: Check = (v) =>
  typeof v === 'string' && ROUTE_CHARS.test(v) && !CONCRETE_SEGMENT.test(v) ? v : undefined;
const method: Check = (v) =>
  typeof v !== 'string' ? undefined : (HTTP_METHODS as readonly string[]).includes(v) ? v : '_OTHER';

/** Field name -> run-time check returning the value to log, or undefined to drop the field. */
const CHECKS: Record<string, Check> = {
  'event.action': ident,
  'event.outcome': oneOf(EVENT_OUTCOMES),
  'event.reason': ident,
  'event.category': ident,
  'event.id': uuid,
  'event.duration': nonNegInt,
  'http.request.method': method,
  'url.path': route,
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
  'telehealth.count': nonNegInt,
  'telehealth.bytes': nonNegInt,
  'telehealth.attempt': nonNegInt,
};
for (const key of LOG_LABEL_KEYS) CHECKS[`labels.${key}`] = ident;

export const ALLOWED_LOG_FIELDS: readonly string[] = Object.freeze([...Object.keys(CHECKS), 'err']);

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
  const fields: Record<string, unknown> = {};
  let dropped = 0;
  if (input === null || typeof input !== 'object') return { fields, dropped };
  const source = input as Record<string, unknown>;
  for (const key in source) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
    const raw = source[key];
    if (raw === undefined) continue;
    if (key === 'err') {
      if (fields['error.type'] === undefined) fields['error.type'] = errorType(raw);
      continue;
    }
    const check = CHECKS[key];
    const value = check === undefined ? undefined : check(raw);
    if (value === undefined) dropped++;
    else fields[key] = value;
  }
  return { fields, dropped };
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
