/**
 * Event schemas (v1): one strict zod object per event type, joined in a discriminated union on
 * `event_type`. Every string field is bounded and drawn from a closed set or a narrow charset, so no
 * field can carry a name, date of birth, SSN, email, address, phone number, token or password:
 * identifiers travel only as pseudonymous references (see pseudonymous-ref.ts).
 */
import { z } from 'zod';
import { compileFastValidator } from './fast-validator';
import {
  ACTOR_ROLES,
  CURRENCIES,
  EVENT_TYPES,
  EVENT_TYPE_NAMES,
  type EventClass,
  type EventType,
} from './metric-names';

export const SCHEMA_VERSION = 1 as const;

/** What an event is about. Closed: a free-text type could carry anything. */
export const RESOURCE_TYPES = [
  'patient_record',
  'soap_note',
  'prescription',
  'order',
  'invoice',
  'payment',
  'session',
  'user_account',
  'intake_webhook',
] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** All five currencies have two decimals; kept as a table so that a JPY or KWD addition is explicit. */
export const CURRENCY_MINOR_EXPONENT: Record<(typeof CURRENCIES)[number], number> = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  CAD: 2,
  AUD: 2,
};

/** Largest accepted amount: 10^12 minor units (10 billion major units), well inside 2^53. */
export const MAX_MINOR_UNITS = 1_000_000_000_000;

/**
 * A pseudonymous reference: 32 lowercase hex characters (128 bits of an HMAC). Not all digits, so
 * that a zero-padded SSN, phone number or date of birth does not fit either. (The lookahead skips
 * leading digits to the first letter: `[0-9a-f]*[a-f]` said the same but backtracked from the end,
 * and took twice as long on every event's two references.)
 */
export const PSEUDONYMOUS_REF_PATTERN = /^(?=[0-9]*[a-f])[0-9a-f]{32}$/;

/** Source ids are configured service names (and, over HTTP, the authenticated source). */
export const SOURCE_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

/** UTC with a `Z`, at most millisecond precision (what the hash chain canonicalises). */
const OCCURRED_AT_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Events older than this or further in the future are refused: a date of birth is not an event time. */
export const MAX_EVENT_AGE_MS = 30 * 24 * 3600 * 1000;
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** The ISO text of the last whole second seen: events arrive in bursts of the same few seconds. */
let lastSecond = NaN;
let lastSecondIso = '';

/**
 * A real calendar time (Date.parse rolls 2026-02-30 over to March: its ISO text differs) within the
 * accepted window. The first 19 characters of toISOString depend only on the whole second, so the
 * last second's text is reused (toISOString costs more than the rest of the check).
 */
function isRecentTime(v: string): boolean {
  const t = Date.parse(v);
  if (Number.isNaN(t)) return false;
  const second = Math.floor(t / 1000);
  if (second !== lastSecond) {
    lastSecondIso = new Date(t).toISOString().slice(0, 19);
    lastSecond = second;
  }
  if (lastSecondIso !== v.slice(0, 19)) return false;
  const now = Date.now();
  return t >= now - MAX_EVENT_AGE_MS && t <= now + MAX_CLOCK_SKEW_MS;
}

const pseudonymousRef = z
  .string()
  .max(32)
  .regex(PSEUDONYMOUS_REF_PATTERN, 'must be a pseudonymous reference');

const occurredAt = z
  .string()
  .max(24)
  .regex(OCCURRED_AT_PATTERN, 'must be an ISO-8601 UTC timestamp ending in Z')
  .refine(isRecentTime, 'must be a valid time within the last 30 days');

const actor = z
  .object({
    role: z.enum(ACTOR_ROLES),
    ref: pseudonymousRef.nullable(),
  })
  .strict();

const resource = z
  .object({
    type: z.enum(RESOURCE_TYPES),
    ref: pseudonymousRef,
  })
  .strict();

const amount = z
  .object({
    minor_units: z.int().min(0).max(MAX_MINOR_UNITS),
    currency: z.enum(CURRENCIES),
  })
  .strict();

const common = {
  schema_version: z.literal(SCHEMA_VERSION),
  event_id: z.uuid(),
  occurred_at: occurredAt,
  source: z.string().max(63).regex(SOURCE_PATTERN, 'must be a configured source id'),
  actor,
  resource: resource.optional(),
};

function eventSchema<T extends EventType>(type: T) {
  const def = EVENT_TYPES[type];
  const reasons = def.reasons as unknown as readonly [string, ...string[]];
  const isPayment = type.startsWith('payment_');
  return z
    .object({
      ...common,
      event_type: z.literal(type),
      outcome: z.literal(def.outcome),
      reason: z.enum(reasons),
      // Payments carry an amount; nothing else may (an amount field could carry anything numeric).
      amount: isPayment ? amount : z.never().optional(),
    })
    .strict();
}

const schemas = EVENT_TYPE_NAMES.map((t) => eventSchema(t));

/** The v1 event: a discriminated union on `event_type`. */
export const auditEventSchema = z.discriminatedUnion(
  'event_type',
  schemas as unknown as [ReturnType<typeof eventSchema>, ...ReturnType<typeof eventSchema>[]],
);

const fastAccept = compileFastValidator(auditEventSchema);

type Reason<T extends EventType> = (typeof EVENT_TYPES)[T]['reasons'][number];
type Outcome<T extends EventType> = (typeof EVENT_TYPES)[T]['outcome'];

export interface EventActor {
  role: (typeof ACTOR_ROLES)[number];
  ref: string | null;
}
export interface EventResource {
  type: ResourceType;
  ref: string;
}
export interface EventAmount {
  minor_units: number;
  currency: (typeof CURRENCIES)[number];
}

interface EventBase<T extends EventType> {
  schema_version: typeof SCHEMA_VERSION;
  event_id: string;
  event_type: T;
  occurred_at: string;
  source: string;
  actor: EventActor;
  outcome: Outcome<T>;
  reason: Reason<T>;
  resource?: EventResource;
}
type PaymentType = Extract<EventType, `payment_${string}`>;
/** One event of type T (payments require `amount`, others forbid it). */
export type AuditEventOf<T extends EventType> = T extends PaymentType
  ? EventBase<T> & { amount: EventAmount }
  : EventBase<T> & { amount?: undefined };
export type AuditEvent = { [T in EventType]: AuditEventOf<T> }[EventType];

export interface EventIssue {
  /** Dotted path of the field inside the event, e.g. `actor.ref`; empty for the event itself. */
  path: string;
  /** Fixed text: never contains the submitted value. */
  message: string;
}

/** The issue of an event whose id was already accepted for a different event (collector, store). */
export const ID_CONFLICT_MESSAGE = 'already used by a different event';

export type ParseResult = { ok: true; event: AuditEvent } | { ok: false; errors: EventIssue[] };

const MAX_ISSUES = 20;
const SAFE_SEGMENT = /^[a-z_]{1,40}$/;

/**
 * Maps a zod issue to a fixed message: zod's own messages may quote the input (unknown key names,
 * received values), and the input is exactly what must not be echoed.
 */
function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'unknown field(s) not allowed';
    case 'invalid_type':
      // zod's own message names the received type (never the value): enough to tell "missing" apart.
      if (issue.expected === 'never') return 'not allowed for this event type';
      return /received undefined$/.test(issue.message) ? 'required' : `expected ${issue.expected}`;
    case 'invalid_value':
      return 'not an allowed value';
    case 'invalid_union':
      return 'unknown or missing event_type';
    case 'too_big':
      return 'too large or too long';
    case 'too_small':
      return 'too small or too short';
    case 'invalid_format':
      return issue.format === 'regex' && typeof issue.message === 'string' && !issue.message.includes('"')
        ? issue.message
        : `invalid ${issue.format}`;
    case 'custom':
      return typeof issue.message === 'string' && issue.message.length < 80 && !issue.message.includes('"')
        ? issue.message
        : 'invalid';
    default:
      return 'invalid';
  }
}

function issuePath(path: readonly PropertyKey[]): string {
  return path
    .map((seg) =>
      typeof seg === 'number' ? String(seg) : typeof seg === 'string' && SAFE_SEGMENT.test(seg) ? seg : '?',
    )
    .join('.');
}

/** Validates one event. Never throws; errors name the field and the rule, never the value. */
export function parseEvent(input: unknown): ParseResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, errors: [{ path: '', message: 'expected an object' }] };
  }
  // The common case (a valid event) is decided by the check compiled from the same schema; zod
  // runs when that check is not sure, so every rejection and its errors are zod's.
  const fast = fastAccept(input);
  if (fast !== undefined) return { ok: true, event: fast as AuditEvent };
  let result: ReturnType<typeof auditEventSchema.safeParse>;
  try {
    result = auditEventSchema.safeParse(input);
  } catch {
    // Hostile input (getters, proxies, cyclic objects from in-process callers) must not escape.
    return { ok: false, errors: [{ path: '', message: 'invalid' }] };
  }
  if (result.success) return { ok: true, event: result.data as AuditEvent };
  const errors = result.error.issues
    .slice(0, MAX_ISSUES)
    .map((issue) => ({ path: issuePath(issue.path), message: issueMessage(issue) }));
  return { ok: false, errors };
}

export function eventClass(type: EventType): EventClass {
  return EVENT_TYPES[type].class;
}
