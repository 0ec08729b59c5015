/**
 * The exporter's error catalogue (fastify lib/errors.js style): one place lists every error the
 * exporter raises, each with a stable code that tests and callers match on instead of message text.
 * Messages name the bad value (a metric, label, namespace, file path) but never a secret or a
 * dependency's own error text.
 */

export interface TelemetryError extends Error {
  readonly code: string;
}

type MessageArgs = Array<string | number>;

export interface TelemetryErrorClass<A extends MessageArgs> {
  new (...args: A): TelemetryError;
  readonly code: string;
}

function format(template: string, args: MessageArgs): string {
  let i = 0;
  return template.replace(/%s/g, () => String(args[i++]));
}

function createError<A extends MessageArgs>(code: string, template: string): TelemetryErrorClass<A> {
  class Err extends Error implements TelemetryError {
    static readonly code = code;
    readonly code = code;
    constructor(...args: A) {
      super(format(template, args));
      this.name = 'TelemetryError';
    }
  }
  Object.defineProperty(Err, 'name', { value: code });
  return Err as unknown as TelemetryErrorClass<A>;
}

export const errors = {
  BAD_NAMESPACE: createError<[string]>(
    'TELEMETRY_BAD_NAMESPACE',
    'Invalid metrics namespace "%s": use letters and digits separated by single underscores, starting with a letter.',
  ),
  BAD_OPTION: createError<[string, string]>('TELEMETRY_BAD_OPTION', 'Invalid telemetry option "%s": %s.'),
  BAD_METRIC_NAME: createError<[string, string]>(
    'TELEMETRY_BAD_METRIC_NAME',
    'Invalid metric name "%s": %s.',
  ),
  MISSING_HELP: createError<[string]>('TELEMETRY_MISSING_HELP', 'Metric "%s" needs a non-empty help text.'),
  DUPLICATE_METRIC: createError<[string]>(
    'TELEMETRY_DUPLICATE_METRIC',
    'Metric "%s" is already defined in this registry.',
  ),
  BAD_LABEL_NAME: createError<[string, string, string]>(
    'TELEMETRY_BAD_LABEL_NAME',
    'Metric "%s" declares an invalid label name "%s": %s.',
  ),
  FORBIDDEN_LABEL: createError<[string, string]>(
    'TELEMETRY_FORBIDDEN_LABEL',
    'Metric "%s" declares label "%s", which names a person, a network address, a session or a secret: such values are unbounded and may be PHI. Use a closed set (for example a role) instead.',
  ),
  BAD_LABEL_SET: createError<[string, string, string]>(
    'TELEMETRY_BAD_LABEL_SET',
    'Metric "%s" label "%s" has an invalid value set: %s.',
  ),
  BAD_BUCKETS: createError<[string, string]>(
    'TELEMETRY_BAD_BUCKETS',
    'Histogram "%s" has an invalid bucket list: %s.',
  ),
  ZERO_INIT_NEEDS_CLOSED_SETS: createError<[string, string]>(
    'TELEMETRY_ZERO_INIT_NEEDS_CLOSED_SETS',
    'Metric "%s" asks for zeroInit but label "%s" is not a closed set.',
  ),
  UNKNOWN_LABEL: createError<[string, string]>(
    'TELEMETRY_UNKNOWN_LABEL',
    'Metric "%s" was given label "%s", which it does not declare.',
  ),
  BAD_VALUE: createError<[string, string]>(
    'TELEMETRY_BAD_VALUE',
    'Metric "%s" was given an invalid value: %s.',
  ),
  BAD_CHECK_NAME: createError<[string]>(
    'TELEMETRY_BAD_CHECK_NAME',
    'Invalid readiness check name "%s": use 1-63 lowercase letters, digits, "_" or "-", starting with a letter.',
  ),
  DUPLICATE_CHECK: createError<[string]>(
    'TELEMETRY_DUPLICATE_CHECK',
    'Readiness check "%s" is already registered.',
  ),
  TOKEN_FILE_UNREADABLE: createError<[string, string]>(
    'TELEMETRY_TOKEN_FILE_UNREADABLE',
    'Cannot read the metrics bearer token file "%s": %s.',
  ),
  BAD_TOKEN: createError<[string, string]>(
    'TELEMETRY_BAD_TOKEN',
    'Invalid metrics bearer token from %s: %s.',
  ),
  CHECK_TIMEOUT: createError<[string, number]>(
    'TELEMETRY_CHECK_TIMEOUT',
    'Readiness check "%s" did not answer within %s ms.',
  ),
} as const;

export type TelemetryErrorCode = (typeof errors)[keyof typeof errors]['code'];

export function isTelemetryError(err: unknown): err is TelemetryError {
  const code: unknown = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('TELEMETRY_');
}
