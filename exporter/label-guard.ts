/**
 * Label hygiene decided once, at definition time: names that would carry a person, a network address,
 * a session or a secret are refused, and every label is either a closed set or capped.
 */
import { errors } from './errors';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Words that make a label unbounded and possibly PHI or secret. Matched against each word of the
 * label name (split on `_` and camelCase), so `user_id`, `patientId`, `client_ip`, `ip_address`,
 * `session_id`, `refresh_token` are all refused.
 */
const FORBIDDEN_WORDS = new Set([
  'user',
  'users',
  'username',
  'userid',
  'uid',
  'patient',
  'patients',
  'patientid',
  'email',
  'emails',
  'emailaddress',
  'mail',
  'ip',
  'ips',
  'ipaddr',
  'ipaddress',
  'ipv4',
  'ipv6',
  'session',
  'sessions',
  'sessionid',
  'sid',
  'token',
  'tokens',
  'jwt',
  'password',
  'secret',
  'ssn',
  'mrn',
  'dob',
  'phone',
]);

/** Words of a label name: `client_IP` -> [client, ip]; `patientId` -> [patient, id, patientid]. */
function wordsOf(name: string): string[] {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split('_')
    .filter((w) => w.length > 0);
  // Also the joined neighbours, so `user_id` is caught as `userid` even if only one form is listed.
  const out = [...words];
  for (let i = 0; i + 1 < words.length; i++) out.push(`${words[i]}${words[i + 1]}`);
  out.push(name.toLowerCase().replace(/_/g, ''));
  return out;
}

export function isForbiddenLabelName(name: string): boolean {
  return wordsOf(name).some((w) => FORBIDDEN_WORDS.has(w));
}

/** Throws unless `name` is a usable label name for `metric`. `reserved` are names the type owns (`le`). */
export function assertLabelName(metric: string, name: string, reserved: readonly string[] = []): void {
  if (!LABEL_NAME.test(name)) {
    throw new errors.BAD_LABEL_NAME(metric, name, 'use letters, digits and "_", not starting with a digit');
  }
  if (name.startsWith('__')) {
    throw new errors.BAD_LABEL_NAME(metric, name, 'names starting with "__" are reserved by Prometheus');
  }
  if (reserved.includes(name)) {
    throw new errors.BAD_LABEL_NAME(metric, name, 'this name is reserved for this metric type');
  }
  if (isForbiddenLabelName(name)) throw new errors.FORBIDDEN_LABEL(metric, name);
}

/** Longest label value accepted as itself; longer values are treated as overflow. */
export const MAX_LABEL_VALUE_LENGTH = 128;

export type LabelSpec = readonly string[] | { cap?: number };

/** A compiled label: a closed set, or an open label that accepts at most `cap` distinct values. */
export interface CompiledLabel {
  readonly name: string;
  readonly closed: ReadonlySet<string> | null;
  readonly closedValues: readonly string[] | null;
  readonly cap: number;
}

export function compileLabel(
  metric: string,
  name: string,
  spec: LabelSpec,
  defaultCap: number,
): CompiledLabel {
  if (Array.isArray(spec)) {
    const values = spec as readonly unknown[];
    if (values.length === 0)
      throw new errors.BAD_LABEL_SET(metric, name, 'a closed set needs at least one value');
    const seen = new Set<string>();
    for (const v of values) {
      if (typeof v !== 'string' || v.length === 0 || v.length > MAX_LABEL_VALUE_LENGTH) {
        throw new errors.BAD_LABEL_SET(
          metric,
          name,
          `values must be non-empty strings of at most ${MAX_LABEL_VALUE_LENGTH} characters`,
        );
      }
      if (seen.has(v)) throw new errors.BAD_LABEL_SET(metric, name, `value "${v}" is listed twice`);
      seen.add(v);
    }
    return Object.freeze({ name, closed: seen, closedValues: Object.freeze([...seen]), cap: seen.size });
  }
  if (spec === null || typeof spec !== 'object') {
    throw new errors.BAD_LABEL_SET(metric, name, 'give an array of values or { cap }');
  }
  const cap = (spec as { cap?: unknown }).cap ?? defaultCap;
  if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1 || cap > 100_000) {
    throw new errors.BAD_LABEL_SET(metric, name, 'cap must be an integer between 1 and 100000');
  }
  return Object.freeze({ name, closed: null, closedValues: null, cap });
}
