/**
 * Starting the service for a test file: on the real PostgreSQL (a throwaway database of its own)
 * when `backend` is 'postgres', on embedded PGlite in a temp folder when 'pglite'.
 * `defaultBackend()` is PostgreSQL when DATABASE_URL is set (as in CI), PGlite otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startService, totpCode, type RunningService, type StartServiceOptions } from '../../app';
import type { DemoUser } from '../../app';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

export type Backend = 'postgres' | 'pglite';

export function defaultBackend(): Backend {
  return process.env.DATABASE_URL ? 'postgres' : 'pglite';
}

export interface TestService {
  service: RunningService;
  backend: Backend;
  events: Array<Record<string, unknown>>;
  dataDir: string;
  /** The test database's URL (postgres backend). */
  databaseUrl: string | undefined;
  stop(): Promise<void>;
}

/** Cheap argon2 for tests (the production cost is the config default). */
export const TEST_ENV = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  SEED_DEMO_DATA: 'true',
} as const;

export async function startTestService(
  backend: Backend,
  opts: Omit<StartServiceOptions, 'port' | 'metricsPort' | 'dataDir' | 'databaseUrl'> & {
    env?: Record<string, string>;
  } = {},
): Promise<TestService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'app-test-'));
  let db: TestDatabase | undefined;
  if (backend === 'postgres') db = await createTestDatabase('app');
  const events: Array<Record<string, unknown>> = [];
  try {
    const service = await startService({
      ...opts,
      // The revocation drain runs when a test says so (collector.runJob), not at a tick of its own
      // between what the test changes and what it counts.
      schedule: opts.schedule ?? { jobs: { account_change_events: false } },
      env: { ...TEST_ENV, ...(opts.env ?? {}) },
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      dataDir,
      databaseUrl: db?.url,
      print: () => undefined,
      onEvent: (e) => {
        events.push(e);
        opts.onEvent?.(e);
      },
    });
    return {
      service,
      backend,
      events,
      dataDir,
      databaseUrl: db?.url,
      async stop() {
        try {
          await service.close();
        } finally {
          await db?.drop();
          rmSync(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

export function demoUser(t: TestService, username: string): DemoUser {
  const u = t.service.credentials?.users.find((x) => x.username === username);
  if (!u) throw new Error(`no demo user ${username}`);
  return u;
}

/** Last TOTP step used per user in this process: a second login in one step needs the next code. */
const usedStep = new Map<string, number>();

export function freshTotp(u: DemoUser): string {
  const now = Math.floor(Date.now() / 30_000);
  const step = Math.max(now, (usedStep.get(u.userId) ?? -1) + 1);
  if (step > now + 1) throw new Error('test logged in too often within one TOTP step');
  usedStep.set(u.userId, step);
  return totpCode(u.totpSecret as string, step - now);
}

export async function loginAs(t: TestService, username: string): Promise<string> {
  const u = demoUser(t, username);
  const body: Record<string, string> = { username: u.username, password: u.password };
  if (u.totpSecret) body.totp = freshTotp(u);
  const res = await request(t.service.apiUrl).post('/api/auth/login').send(body);
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}

export function eventsOf(t: TestService, type: string): Array<Record<string, unknown>> {
  return t.events.filter((e) => e.event_type === type);
}

/** Reads one sample from the exposition (labels given as a subset to match). */
export async function metricValue(
  t: TestService,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await t.service.telemetry.render();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([^ ]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
