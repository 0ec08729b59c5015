/** Config validation: production refuses weak or missing secrets by variable name; development generates them. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../app';

const GOOD_PROD = {
  NODE_ENV: 'production',
  JWT_SECRET: 'j'.repeat(32),
  ENCRYPTION_KEY: 'ab'.repeat(32),
  PSEUDONYM_KEY: 'p'.repeat(32),
  DATABASE_URL: 'postgres://app@db.internal.example:5432/app?sslmode=require',
};

/** Every secret given, with a previous key for rotation (development: nothing generated). */
const GIVEN_SECRETS = {
  NODE_ENV: 'test',
  JWT_SECRET: 'x'.repeat(40),
  ENCRYPTION_KEY: '01'.repeat(32),
  ENCRYPTION_KEY_ID: 'k2',
  ENCRYPTION_PREVIOUS_KEYS: `k1:${'02'.repeat(32)}`,
  PSEUDONYM_KEY: 'y'.repeat(40),
};

function issuesOf(env: Record<string, string | undefined>): Array<{ variable: string; message: string }> {
  try {
    loadConfig(env, { warn: () => undefined });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues as Array<{ variable: string; message: string }>;
  }
  return [];
}

describe('loadConfig', () => {
  it('accepts a complete production config and freezes it', () => {
    const c = loadConfig(GOOD_PROD);
    expect(c.nodeEnv).toBe('production');
    expect(c.seedDemoData).toBe(false);
    expect(c.faultInjection).toBe(false);
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it.each([
    ['JWT_SECRET', { JWT_SECRET: 'short' }, /at least 32/],
    ['JWT_SECRET', { JWT_SECRET: undefined }, /at least 32/],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: 'zz'.repeat(32) }, /64 hexadecimal/],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: 'ab'.repeat(31) }, /64 hexadecimal/],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://app@db/app' }, /sslmode=require/],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://app@db/app?sslmode=prefer' }, /sslmode=require/],
    [
      'DATABASE_URL',
      { DATABASE_URL: 'postgres://app@db/app?sslmode=require&sslmode=disable' },
      /sslmode=require.*once/,
    ],
    ['DATABASE_URL', { DATABASE_URL: undefined }, /required/],
    ['FAULT_INJECTION', { FAULT_INJECTION: 'enabled' }, /production/],
    ['SEED_DEMO_DATA', { SEED_DEMO_DATA: 'true' }, /production/],
    ['PSEUDONYM_KEY', { PSEUDONYM_KEY: 'x' }, /at least 32/],
  ])('production refuses a bad %s', (variable, change, message) => {
    const issues = issuesOf({ ...GOOD_PROD, ...change });
    expect(issues).toEqual([{ variable, message: expect.stringMatching(message) }]);
  });

  it('names every bad variable at once and never the secret value', () => {
    const secret = 'not-long-enough-secret';
    let error: unknown;
    try {
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: secret,
        ENCRYPTION_KEY: secret,
        DATABASE_URL: `postgres://u:${secret}@h/d`,
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.issues.map((i) => i.variable).sort()).toEqual([
      'DATABASE_URL',
      'ENCRYPTION_KEY',
      'JWT_SECRET',
      'PSEUDONYM_KEY',
    ]);
    expect(e.message).not.toContain(secret);
  });

  it('validates types and ranges with the variable name', () => {
    expect(issuesOf({ PORT: '70000' })[0]?.variable).toBe('PORT');
    expect(issuesOf({ FAULT_INJECTION: 'yes' })[0]?.variable).toBe('FAULT_INJECTION');
    expect(issuesOf({ DATABASE_URL: 'mysql://x' })[0]?.variable).toBe('DATABASE_URL');
    expect(issuesOf({ NODE_ENV: 'test', ENCRYPTION_KEY: 'abc' })[0]?.variable).toBe('ENCRYPTION_KEY');
    expect(issuesOf({ NODE_ENV: 'test', ENCRYPTION_PREVIOUS_KEYS: 'k0:abc' })[0]?.variable).toBe(
      'ENCRYPTION_PREVIOUS_KEYS',
    );
  });

  it('development generates missing secrets once, keeps them in a 0600 file and warns without printing them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'app-config-'));
    try {
      const warnings: string[] = [];
      const a = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir }, { warn: (m) => warnings.push(m) });
      expect(a.generatedSecrets).toEqual(['JWT_SECRET', 'ENCRYPTION_KEY', 'PSEUDONYM_KEY']);
      expect(a.jwtSecret.length).toBeGreaterThanOrEqual(32);
      expect(a.encryptionKey).toHaveLength(32);
      expect(a.seedDemoData).toBe(true);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/JWT_SECRET/);
      expect(warnings[0]).not.toContain(a.jwtSecret);
      expect(warnings[0]).not.toContain(a.encryptionKey.toString('hex'));
      const file = join(dir, 'dev-secrets.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toContain(a.encryptionKey.toString('hex'));
      // A restart reads the same secrets, so encrypted rows stay readable.
      const b = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir }, { warn: () => undefined });
      expect(b.encryptionKey.equals(a.encryptionKey)).toBe(true);
      expect(b.jwtSecret).toBe(a.jwtSecret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses given secrets as they are and parses previous keys for rotation', () => {
    const c = loadConfig(GIVEN_SECRETS, { warn: () => undefined });
    expect(c.generatedSecrets).toEqual([]);
    expect(c.encryptionPreviousKeys.get('k1')?.toString('hex')).toBe('02'.repeat(32));
  });

  it('is frozen all the way down: its key material cannot be changed through what it hands out', () => {
    const c = loadConfig(
      { ...GIVEN_SECRETS, PAGERDUTY_ROUTING_KEY_FILE: '/run/secrets/pd' },
      { warn: () => undefined },
    );
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.pagerDuty)).toBe(true);
    expect(() => {
      (c as { jwtSecret: string }).jwtSecret = 'changed';
    }).toThrow(TypeError);
    c.encryptionKey.fill(0);
    c.encryptionPreviousKeys.get('k1')!.fill(0);
    (c.encryptionPreviousKeys as Map<string, Buffer>).set('k9', Buffer.alloc(32));
    expect(c.encryptionKey.toString('hex')).toBe('01'.repeat(32));
    expect([...c.encryptionPreviousKeys.keys()]).toEqual(['k1']);
    expect(c.encryptionPreviousKeys.get('k1')!.toString('hex')).toBe('02'.repeat(32));
  });
});
