/**
 * Validates createTelemetry() options once and freezes the result (fastify initial-config-validation
 * style): a bad namespace, cap or limit stops start-up with a message naming the value.
 */
import { errors } from './errors';
import { DEFAULT_NAMESPACE, NAMESPACE_PATTERN } from './metric-names';

export interface TelemetryOptions {
  /** Prefix of every metric (default 'telehealth'). */
  namespace?: string;
  /** Service version for `<ns>_build_info{version}` (default: SERVICE_VERSION, npm_package_version, 'unknown'). */
  version?: string;
  /** Default per-metric series cap and per-label distinct-value cap (default 500). */
  defaultSeriesCap?: number;
  /** Prefixed prom-client process/runtime metrics (default true). */
  defaultMetrics?: boolean;
  /** Resource limits for `<ns>_process_cpu_limit_cores` / `<ns>_process_memory_limit_bytes` (default: cgroup, then host). */
  limits?: { cpuCores?: number; memoryBytes?: number };
}

export interface TelemetryConfig {
  readonly namespace: string;
  readonly version: string;
  readonly defaultSeriesCap: number;
  readonly defaultMetrics: boolean;
  readonly limits: Readonly<{ cpuCores?: number; memoryBytes?: number }>;
}

export const DEFAULT_SERIES_CAP = 500;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

function positive(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new errors.BAD_OPTION(name, `${String(value)} is not a positive finite number`);
  }
  return value;
}

export function validateTelemetryOptions(
  opts: TelemetryOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): TelemetryConfig {
  if (opts === null || typeof opts !== 'object') throw new errors.BAD_OPTION('options', 'must be an object');
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace) || namespace.length > 64) {
    throw new errors.BAD_NAMESPACE(String(namespace));
  }
  const version = opts.version ?? env.SERVICE_VERSION ?? env.npm_package_version ?? 'unknown';
  if (typeof version !== 'string' || !VERSION.test(version)) {
    throw new errors.BAD_OPTION(
      'version',
      `"${String(version)}" is not a version string (1-64 of A-Z a-z 0-9 . _ + -)`,
    );
  }
  const cap = opts.defaultSeriesCap ?? DEFAULT_SERIES_CAP;
  if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1 || cap > 100_000) {
    throw new errors.BAD_OPTION('defaultSeriesCap', `${String(cap)} is not an integer between 1 and 100000`);
  }
  const defaultMetrics = opts.defaultMetrics ?? true;
  if (typeof defaultMetrics !== 'boolean') {
    throw new errors.BAD_OPTION('defaultMetrics', `${String(defaultMetrics)} is not a boolean`);
  }
  const limits = opts.limits ?? {};
  if (limits === null || typeof limits !== 'object')
    throw new errors.BAD_OPTION('limits', 'must be an object');
  const frozenLimits = Object.freeze({
    cpuCores: positive('limits.cpuCores', limits.cpuCores),
    memoryBytes: positive('limits.memoryBytes', limits.memoryBytes),
  });
  return Object.freeze({ namespace, version, defaultSeriesCap: cap, defaultMetrics, limits: frozenLimits });
}
