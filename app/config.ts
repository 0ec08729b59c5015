/**
 * The service's configuration: read once from the environment, validated with zod, then frozen
 * (fastify's initial-config-validation idea: a bad setting stops start-up with the variable's name,
 * never a request later). Secret values never appear in an error or a log line.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

export type NodeEnv = 'production' | 'development' | 'test';

export interface AppConfig {
  readonly nodeEnv: NodeEnv;
  readonly serviceName: string;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly metricsBearerTokenFile: string | undefined;
  /** The collector's direct page when the audit chain breaks (none without a routing key file). */
  readonly pagerDuty: { routingKeyFile: string; server?: string; caFile?: string } | undefined;
  readonly databaseUrl: string | undefined;
  readonly dbPoolMax: number;
  readonly dataDir: string;
  readonly jwtSecret: string;
  readonly jwtTtlSeconds: number;
  readonly sessionIdleSeconds: number;
  readonly encryptionKeyId: string;
  readonly encryptionKey: Buffer;
  /** Older keys, by id, still accepted for decryption during a key rotation. */
  readonly encryptionPreviousKeys: ReadonlyMap<string, Buffer>;
  readonly pseudonymKey: string;
  readonly lockoutThreshold: number;
  readonly lockoutSeconds: number;
  readonly argon2MemoryKiB: number;
  readonly argon2TimeCost: number;
  readonly bodyLimitBytes: number;
  readonly faultInjection: boolean;
  readonly seedDemoData: boolean;
  readonly devCredentialsFile: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly shutdownTimeoutMs: number;
  /** Time between readiness turning 503 and the listener closing, for load balancers to notice. */
  readonly shutdownDrainDelayMs: number;
  /** Names of the secrets that were generated for development (never their values). */
  readonly generatedSecrets: readonly string[];
}

export class ConfigError extends Error {
  constructor(readonly issues: ReadonlyArray<{ variable: string; message: string }>) {
    super(`Invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const port = int(0, 65535);

/** The environment variables, as strings. Defaults that depend on NODE_ENV are applied after parsing. */
const envSchema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  SERVICE_NAME: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes')
    .default('telehealth-app'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(3000),
  METRICS_HOST: z.string().min(1).optional(),
  METRICS_PORT: port.default(9464),
  METRICS_BEARER_TOKEN_FILE: z.string().min(1).optional(),
  PAGERDUTY_ROUTING_KEY_FILE: z.string().min(1).optional(),
  PAGERDUTY_SERVER: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be host or host:port')
    .optional(),
  PAGERDUTY_CA_FILE: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DB_POOL_MAX: int(1, 200).default(10),
  DATA_DIR: z.string().min(1).default('.data'),
  JWT_SECRET: z.string().optional(),
  JWT_TTL_SECONDS: int(30, 86400).default(900),
  SESSION_IDLE_SECONDS: int(1, 86400).default(900),
  ENCRYPTION_KEY: z.string().optional(),
  ENCRYPTION_KEY_ID: z
    .string()
    .regex(/^[a-z0-9]{1,16}$/, 'lower-case letters and digits, at most 16')
    .default('k1'),
  ENCRYPTION_PREVIOUS_KEYS: z.string().optional(),
  PSEUDONYM_KEY: z.string().optional(),
  LOCKOUT_THRESHOLD: int(1, 100).default(3),
  LOCKOUT_SECONDS: int(1, 7 * 86400).default(1800),
  ARGON2_MEMORY_KIB: int(1024, 1048576).default(19456),
  ARGON2_TIME_COST: int(1, 20).default(2),
  BODY_LIMIT_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  FAULT_INJECTION: z.enum(['enabled', 'disabled']).default('disabled'),
  SEED_DEMO_DATA: bool.optional(),
  DEV_CREDENTIALS_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(0, 120000).default(10000),
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 60000).default(0),
  npm_package_version: z.string().optional(),
});

const HEX64 = /^[0-9a-fA-F]{64}$/;

export interface LoadConfigOptions {
  /** Called with a warning (never with a secret value). Default: console.warn. */
  warn?: (message: string) => void;
  /** Base for relative paths (default: process.cwd()). */
  cwd?: string;
}

/**
 * Validates `env` and returns a frozen config, or throws a ConfigError naming every bad variable.
 * In development and test, missing secrets are generated; with a data folder they are kept in
 * `<DATA_DIR>/dev-secrets.json` (mode 0600) so that encrypted rows stay readable across restarts.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  opts: LoadConfigOptions = {},
): AppConfig {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  // Empty strings are "unset" (a blank line in an env file must not become an empty secret).
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const issues: Array<{ variable: string; message: string }> = [];
  const cwd = opts.cwd ?? process.cwd();
  const dataDir = isAbsolute(e.DATA_DIR) ? e.DATA_DIR : resolve(cwd, e.DATA_DIR);

  if (production) {
    if (e.JWT_SECRET === undefined || e.JWT_SECRET.length < 32)
      issues.push({ variable: 'JWT_SECRET', message: 'must be at least 32 characters in production' });
    if (e.ENCRYPTION_KEY === undefined || !HEX64.test(e.ENCRYPTION_KEY))
      issues.push({
        variable: 'ENCRYPTION_KEY',
        message: 'must be 64 hexadecimal characters (32 bytes) in production',
      });
    if (e.PSEUDONYM_KEY === undefined || e.PSEUDONYM_KEY.length < 32)
      issues.push({ variable: 'PSEUDONYM_KEY', message: 'must be at least 32 characters in production' });
    if (e.DATABASE_URL === undefined) {
      issues.push({ variable: 'DATABASE_URL', message: 'is required in production (with sslmode=require)' });
    } else if (!hasSslModeRequire(e.DATABASE_URL)) {
      issues.push({
        variable: 'DATABASE_URL',
        message: 'must set sslmode=require in production, once (the driver obeys the last sslmode)',
      });
    }
    if (e.FAULT_INJECTION === 'enabled')
      issues.push({ variable: 'FAULT_INJECTION', message: 'cannot be enabled in production' });
    if (e.SEED_DEMO_DATA === true)
      issues.push({ variable: 'SEED_DEMO_DATA', message: 'cannot be enabled in production' });
  } else {
    // Outside production a set-but-malformed key is still an error: it would silently be ignored.
    if (e.ENCRYPTION_KEY !== undefined && !HEX64.test(e.ENCRYPTION_KEY))
      issues.push({ variable: 'ENCRYPTION_KEY', message: 'must be 64 hexadecimal characters (32 bytes)' });
    if (e.JWT_SECRET !== undefined && e.JWT_SECRET.length < 16)
      issues.push({ variable: 'JWT_SECRET', message: 'must be at least 16 characters' });
  }
  const previousKeys = parsePreviousKeys(e.ENCRYPTION_PREVIOUS_KEYS, issues);
  if (previousKeys.has(e.ENCRYPTION_KEY_ID))
    issues.push({ variable: 'ENCRYPTION_PREVIOUS_KEYS', message: 'must not reuse ENCRYPTION_KEY_ID' });
  if (issues.length > 0) throw new ConfigError(issues);

  const generated: string[] = [];
  let jwtSecret = e.JWT_SECRET;
  let encryptionKey = e.ENCRYPTION_KEY;
  let pseudonymKey = e.PSEUDONYM_KEY;
  if (!production && (jwtSecret === undefined || encryptionKey === undefined || pseudonymKey === undefined)) {
    const dev = devSecrets(e.NODE_ENV === 'test' ? undefined : dataDir);
    if (jwtSecret === undefined) {
      jwtSecret = dev.JWT_SECRET;
      generated.push('JWT_SECRET');
    }
    if (encryptionKey === undefined) {
      encryptionKey = dev.ENCRYPTION_KEY;
      generated.push('ENCRYPTION_KEY');
    }
    if (pseudonymKey === undefined) {
      pseudonymKey = dev.PSEUDONYM_KEY;
      generated.push('PSEUDONYM_KEY');
    }
    warn(
      `[config] ${generated.join(', ')} not set: using generated development values` +
        (e.NODE_ENV === 'test'
          ? ' (in memory)'
          : ` kept in ${join(dataDir, 'dev-secrets.json')} (mode 0600)`) +
        '. Never use generated secrets in production.',
    );
  }

  // Key material stays inside this closure: a Buffer or a Map cannot be frozen, so the config hands
  // out copies, and nothing that reads it can change the keys every later reader gets.
  const key = Buffer.from(encryptionKey as string, 'hex');
  const config: AppConfig = {
    nodeEnv: e.NODE_ENV,
    serviceName: e.SERVICE_NAME,
    version: e.npm_package_version ?? '0.1.0',
    host: e.HOST,
    port: e.PORT,
    metricsHost: e.METRICS_HOST ?? e.HOST,
    metricsPort: e.METRICS_PORT,
    metricsBearerTokenFile: e.METRICS_BEARER_TOKEN_FILE,
    pagerDuty: e.PAGERDUTY_ROUTING_KEY_FILE
      ? Object.freeze({
          routingKeyFile: e.PAGERDUTY_ROUTING_KEY_FILE,
          ...(e.PAGERDUTY_SERVER ? { server: e.PAGERDUTY_SERVER } : {}),
          ...(e.PAGERDUTY_CA_FILE ? { caFile: e.PAGERDUTY_CA_FILE } : {}),
        })
      : undefined,
    databaseUrl: e.DATABASE_URL,
    dbPoolMax: e.DB_POOL_MAX,
    dataDir,
    jwtSecret: jwtSecret as string,
    jwtTtlSeconds: e.JWT_TTL_SECONDS,
    sessionIdleSeconds: e.SESSION_IDLE_SECONDS,
    encryptionKeyId: e.ENCRYPTION_KEY_ID,
    get encryptionKey() {
      return Buffer.from(key);
    },
    get encryptionPreviousKeys() {
      return new Map([...previousKeys].map(([id, k]) => [id, Buffer.from(k)]));
    },
    pseudonymKey: pseudonymKey as string,
    lockoutThreshold: e.LOCKOUT_THRESHOLD,
    lockoutSeconds: e.LOCKOUT_SECONDS,
    argon2MemoryKiB: e.ARGON2_MEMORY_KIB,
    argon2TimeCost: e.ARGON2_TIME_COST,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    faultInjection: e.FAULT_INJECTION === 'enabled',
    seedDemoData: e.SEED_DEMO_DATA ?? !production,
    devCredentialsFile: e.DEV_CREDENTIALS_FILE
      ? resolve(cwd, e.DEV_CREDENTIALS_FILE)
      : join(dataDir, 'dev-credentials.json'),
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS,
    generatedSecrets: Object.freeze(generated),
  };
  return Object.freeze(config);
}

function hasSslModeRequire(url: string): boolean {
  try {
    // Exactly once: with `sslmode=require&sslmode=disable` the driver takes the last, without TLS.
    const modes = new URL(url).searchParams.getAll('sslmode');
    const mode = modes.length === 1 ? modes[0] : undefined;
    // verify-ca and verify-full are stricter than require.
    return mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';
  } catch {
    return false;
  }
}

/** `id:hex64,id:hex64` */
function parsePreviousKeys(
  raw: string | undefined,
  issues: Array<{ variable: string; message: string }>,
): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  if (raw === undefined) return keys;
  for (const part of raw.split(',')) {
    const [id, hex, ...rest] = part.trim().split(':');
    if (!id || !hex || rest.length > 0 || !/^[a-z0-9]{1,16}$/.test(id) || !HEX64.test(hex)) {
      issues.push({ variable: 'ENCRYPTION_PREVIOUS_KEYS', message: 'must be a comma list of id:<64 hex>' });
      return new Map();
    }
    keys.set(id, Buffer.from(hex, 'hex'));
  }
  return keys;
}

interface DevSecrets {
  JWT_SECRET: string;
  ENCRYPTION_KEY: string;
  PSEUDONYM_KEY: string;
}

function devSecrets(dataDir: string | undefined): DevSecrets {
  const fresh = (): DevSecrets => ({
    JWT_SECRET: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    PSEUDONYM_KEY: randomBytes(32).toString('base64url'),
  });
  if (dataDir === undefined) return fresh();
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (
      stored.JWT_SECRET &&
      stored.ENCRYPTION_KEY &&
      HEX64.test(stored.ENCRYPTION_KEY) &&
      stored.PSEUDONYM_KEY
    )
      return stored as DevSecrets;
  }
  const secrets = fresh();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}
