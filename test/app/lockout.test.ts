/**
 * Lockout under concurrency: 20 parallel wrong passwords never get more than 3 password checks
 * (one `bad_password` event per check), the account locks once, and then even the right password
 * is refused until the lock expires. Runs on both backends.
 */
import request from 'supertest';
import { isPostgresAvailable } from '../support/postgres';
import { demoUser, eventsOf, startTestService, type Backend, type TestService } from './helpers';

const backends: Backend[] = ['pglite', 'postgres'];

describe.each(backends)('lockout on %s', (backend) => {
  let t: TestService | undefined;

  beforeAll(async () => {
    if (backend === 'postgres' && !(await isPostgresAvailable())) return;
    t = await startTestService(backend);
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
  }, 60_000);

  it('20 parallel wrong passwords: at most 3 checks, one lock, the rest refused as locked', async () => {
    if (!t) return;
    const s = t;
    const u = demoUser(s, 'demo-patient-2');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(s.service.apiUrl)
          .post('/api/auth/login')
          .send({ username: u.username, password: `wrong-${i}` }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.every((x) => x === 401 || x === 423)).toBe(true);
    const checks = eventsOf(s, 'authn_login_fail').filter((e) => e.reason === 'bad_password');
    expect(checks.length).toBeLessThanOrEqual(3);
    expect(checks.length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((x) => x === 401).length).toBe(checks.length);
    expect(eventsOf(s, 'authn_login_lock')).toHaveLength(checks.length === 3 ? 1 : 0);
    expect(eventsOf(s, 'authn_login_fail').filter((e) => e.reason === 'account_locked')).toHaveLength(
      20 - checks.length,
    );
    const locked = results.find((r) => r.status === 423)!;
    expect(locked.body.error.code).toBe('account_locked');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);

    // Lock holds against the right password too, and ends after 30 minutes.
    const { rows } = await s.service.database.query<{ failed_attempts: number; secs: number }>(
      `SELECT failed_attempts, EXTRACT(EPOCH FROM (locked_until - now()))::int AS secs FROM users WHERE id = $1`,
      [u.userId],
    );
    expect(rows[0]!.failed_attempts).toBe(3);
    expect(Number(rows[0]!.secs)).toBeGreaterThan(1790);
    expect(Number(rows[0]!.secs)).toBeLessThanOrEqual(1800);
    const right = await request(s.service.apiUrl)
      .post('/api/auth/login')
      .send({ username: u.username, password: u.password });
    expect(right.status).toBe(423);
    await s.service.database.query(
      `UPDATE users SET locked_until = now() - interval '1 second' WHERE id = $1`,
      [u.userId],
    );
    const after = await request(s.service.apiUrl)
      .post('/api/auth/login')
      .send({ username: u.username, password: u.password });
    expect(after.status).toBe(200);
    // 20 refused in parallel + the right password refused while locked.
    expect(eventsOf(s, 'authn_login_fail')).toHaveLength(21);
  }, 60_000);

  it('three sequential failures lock; a success in between resets the count', async () => {
    if (!t) return;
    const s = t;
    const u = demoUser(s, 'demo-patient-3');
    const login = (password: string) =>
      request(s.service.apiUrl).post('/api/auth/login').send({ username: u.username, password });
    expect((await login('bad-1')).status).toBe(401);
    expect((await login('bad-2')).status).toBe(401);
    expect((await login(u.password)).status).toBe(200);
    expect((await login('bad-3')).status).toBe(401);
    expect((await login('bad-4')).status).toBe(401);
    expect((await login('bad-5')).status).toBe(401);
    expect((await login(u.password)).status).toBe(423);
  }, 60_000);

  it('wrong TOTP codes count towards the lock', async () => {
    if (!t) return;
    const s = t;
    const u = demoUser(s, 'demo-provider-2');
    const login = (totp: string) =>
      request(s.service.apiUrl)
        .post('/api/auth/login')
        .send({ username: u.username, password: u.password, totp });
    const results = await Promise.all(['000001', '000002', '000003', '000004', '000005'].map(login));
    expect(results.filter((r) => r.status === 401)).toHaveLength(3);
    expect(results.filter((r) => r.status === 423)).toHaveLength(2);
    expect(eventsOf(s, 'authn_mfa_fail').filter((e) => e.reason === 'bad_code')).toHaveLength(3);
  }, 60_000);

  it('a name that is no account answers as an account does: 401 three times, then 423 with Retry-After', async () => {
    if (!t) return;
    const s = t;
    const real = demoUser(s, 'demo-patient-5');
    const sequence = async (username: string) => {
      const out: Array<[number, number | null]> = [];
      for (let i = 0; i < 5; i++) {
        const r = await request(s.service.apiUrl)
          .post('/api/auth/login')
          .send({ username, password: `wrong-${i}` });
        const retry = r.headers['retry-after'];
        out.push([r.status, retry === undefined ? null : Number(retry) > 1790 ? 1 : 0]);
      }
      return out;
    };
    const expected = [
      [401, null],
      [401, null],
      [401, null],
      [423, 1],
      [423, 1],
    ];
    expect(await sequence(real.username)).toEqual(expected);
    expect(await sequence('nobody-at-all@example.test')).toEqual(expected);
    // A disabled account answers the same way (and its own counter is not touched).
    await s.service.database.query(`UPDATE users SET disabled = true WHERE lower(username) = 'demo-staff'`);
    try {
      expect(await sequence('demo-staff')).toEqual(expected);
    } finally {
      await s.service.database.query(
        `UPDATE users SET disabled = false WHERE lower(username) = 'demo-staff'`,
      );
    }
    // Parallel attempts on an unknown name get no more checks than an account's.
    const parallel = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(s.service.apiUrl)
          .post('/api/auth/login')
          .send({ username: 'nobody-parallel@example.test', password: `p-${i}` }),
      ),
    );
    expect(parallel.filter((r) => r.status === 401)).toHaveLength(3);
    expect(parallel.filter((r) => r.status === 423)).toHaveLength(7);
    // Attempted names are not stored, only an HMAC of them.
    const raw = JSON.stringify((await s.service.database.query('SELECT * FROM login_throttle')).rows);
    expect(raw).not.toContain('nobody');
  }, 60_000);

  it('a count left at the threshold with no lock (a request that never finished) does not refuse the account for good', async () => {
    if (!t) return;
    const s = t;
    const u = demoUser(s, 'demo-patient-4');
    // What a process restarted during the third check left under the rule before: three claims, no lock.
    await s.service.database.query(
      `UPDATE users SET failed_attempts = 3, locked_until = NULL WHERE id = $1`,
      [u.userId],
    );
    const r = await request(s.service.apiUrl)
      .post('/api/auth/login')
      .send({ username: u.username, password: u.password });
    expect(r.status).toBe(200);
  }, 60_000);

  it('the last slot, handed back by a login that only asked for the code, takes its lock with it', async () => {
    if (!t) return;
    const s = t;
    const u = demoUser(s, 'demo-provider-1');
    const login = (body: Record<string, string>) =>
      request(s.service.apiUrl)
        .post('/api/auth/login')
        .send({ username: u.username, password: u.password, ...body });
    expect((await login({ totp: '000001' })).status).toBe(401);
    expect((await login({ totp: '000002' })).status).toBe(401);
    const asked = await login({});
    expect(asked.status).toBe(401);
    expect(asked.body.error.code).toBe('mfa_required');
    expect((await login({ totp: '000003' })).status).toBe(401);
    expect((await login({ totp: '000004' })).status).toBe(423);
  }, 60_000);
});
