/**
 * The core API suite, run on both backends (api-postgres.test.ts, api-pglite.test.ts): every
 * endpoint and rule of the service, through HTTP, with the events it reports.
 */
import { connect } from 'node:net';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { pseudonymousRef } from '../../collector';
import {
  demoUser,
  eventsOf,
  freshTotp,
  loginAs,
  metricValue,
  startTestService,
  type Backend,
  type TestService,
} from './helpers';

const REF = /^[0-9a-f]{32}$/;

export function describeApi(backend: Backend): void {
  describe(`app API on ${backend}`, () => {
    let t: TestService;
    let api: string;
    let patient1: string; // token of demo-patient-1
    let provider1: string;
    let admin: string;
    let staff: string;
    let loginPatient2: string;
    let p1: string; // patient id of demo-patient-1 (assigned to provider 1)
    let p2: string; // demo-patient-2
    let unassigned: string; // patient 16: assigned to nobody

    beforeAll(async () => {
      t = await startTestService(backend);
      api = t.service.apiUrl;
      [patient1, provider1, admin, staff, loginPatient2] = await Promise.all([
        loginAs(t, 'demo-patient-1'),
        loginAs(t, 'demo-provider-1'),
        loginAs(t, 'demo-admin'),
        loginAs(t, 'demo-staff'),
        loginAs(t, 'demo-patient-2'),
      ]);
      p1 = demoUser(t, 'demo-patient-1').patientId as string;
      p2 = demoUser(t, 'demo-patient-2').patientId as string;
      unassigned = t.service.credentials!.patientIds[15] as string;
    }, 120_000);

    afterAll(async () => {
      await t?.stop();
    }, 60_000);

    const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

    describe('health, headers and errors', () => {
      it('answers /api/health and /api/ready with the database and collector checks', async () => {
        expect((await request(api).get('/api/health')).status).toBe(200);
        const ready = await request(api).get('/api/ready');
        expect(ready.status).toBe(200);
        expect(JSON.stringify(ready.body)).toMatch(/database/);
        expect(JSON.stringify(ready.body)).toMatch(/collector/);
      });

      it('sets the security headers and no-store', async () => {
        const res = await request(api).get('/api/ping');
        expect(res.status).toBe(200);
        expect(res.headers['strict-transport-security']).toMatch(/max-age=31536000/);
        expect(res.headers['content-security-policy']).toContain("default-src 'none'");
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['referrer-policy']).toBe('no-referrer');
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['x-powered-by']).toBeUndefined();
      });

      it('answers an unknown route with the error shape', async () => {
        const res = await request(api).get('/api/nope');
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
      });

      it('answers 400 with the failing fields and never echoes a value', async () => {
        const secret = 'ECHO-CANARY-123-45-6789';
        const res = await request(api)
          .post('/api/auth/login')
          .send({ username: 123456, password: '', extra: secret, [secret]: 1 });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('validation_failed');
        const paths = (res.body.error.fields as Array<{ path: string }>).map((f) => f.path);
        expect(paths).toEqual(expect.arrayContaining(['body.username', 'body.password']));
        expect(JSON.stringify(res.body)).not.toContain(secret);
        expect(JSON.stringify(res.body)).not.toContain('123456');
        expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules/);
      });

      it('answers 400, not 500, to a login name with a control character (NUL reaches no query)', async () => {
        for (const username of ['a\u0000b', 'ad\u001bmin', '\u0000']) {
          const res = await request(api).post('/api/auth/login').send({ username, password: 'x' });
          expect(res.status).toBe(400);
          expect(res.body.error.code).toBe('validation_failed');
          expect(res.body.error.fields).toEqual([
            { path: 'body.username', message: 'must not contain control characters' },
          ]);
        }
      });

      it('answers 400 to malformed JSON and 413 to an oversize body', async () => {
        const bad = await request(api)
          .post('/api/auth/login')
          .set('content-type', 'application/json')
          .send('{"a":');
        expect(bad.status).toBe(400);
        expect(bad.body.error.code).toBe('invalid_json');
        const big = await request(api)
          .post('/api/auth/login')
          .send({ username: 'x', password: 'y'.repeat(t.service.config.bodyLimitBytes + 10) });
        expect(big.status).toBe(413);
        expect(big.body.error.code).toBe('payload_too_large');
      });

      it('validates route parameters and query strings', async () => {
        const res = await request(api).get('/api/patients/not-a-uuid').set(auth(admin));
        expect(res.status).toBe(400);
        expect(res.body.error.fields[0].path).toBe('params.id');
        const q = await request(api).get('/api/orders?limit=1000').set(auth(staff));
        expect(q.status).toBe(400);
        expect(q.body.error.fields[0]).toEqual({ path: 'query.limit', message: 'must be at most 100' });
      });

      it('tells a missing field from one of the wrong type, and refuses a body that is not JSON (415)', async () => {
        const res = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p1, amountMinor: '100', currency: 'USD' });
        expect(res.status).toBe(400);
        expect(res.body.error.fields).toEqual([{ path: 'body.amountMinor', message: 'must be a number' }]);
        const fraction = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p1, amountMinor: 0.5, currency: 'USD' });
        expect(fraction.body.error.fields).toEqual([
          { path: 'body.amountMinor', message: 'must be an integer' },
        ]);
        const missing = await request(api).post('/api/auth/login').send({ password: 'x' });
        expect(missing.body.error.fields).toEqual([{ path: 'body.username', message: 'is required' }]);
        const repeated = await request(api).get('/api/orders?limit=1&limit=2').set(auth(staff));
        expect(repeated.body.error.fields).toEqual([{ path: 'query.limit', message: 'must be a number' }]);
        const plain = await request(api)
          .post('/api/auth/login')
          .set('content-type', 'text/plain')
          .send('{"username":"demo-patient-1","password":"x"}');
        expect(plain.status).toBe(415);
        expect(plain.body.error.code).toBe('unsupported_media_type');
        expect(plain.headers['x-frame-options']).toBe('DENY');
      });

      it('answers requests Node refuses before the app (headers too large) in the error shape, with the security headers', async () => {
        const url = new URL(api);
        const raw = await new Promise<string>((resolve, reject) => {
          const socket = connect(Number(url.port), url.hostname, () => {
            socket.write(`GET /api/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
          });
          let data = '';
          socket.on('data', (d) => (data += d.toString()));
          socket.on('close', () => resolve(data));
          socket.on('error', reject);
        });
        const [head, body] = raw.split('\r\n\r\n');
        expect(head).toMatch(/^HTTP\/1\.1 431 /);
        expect(head).toMatch(/\r\nx-frame-options: DENY\r\n/i);
        expect(head).toMatch(/\r\nstrict-transport-security: max-age=31536000/i);
        expect(head).toMatch(/\r\ncache-control: no-store/i);
        expect(JSON.parse(body as string)).toEqual({
          error: { code: 'headers_too_large', message: expect.any(String) },
        });
      });

      it('has no fault switch unless FAULT_INJECTION=enabled', async () => {
        expect((await request(api).post('/api/_faults').send({ errorRate: 1 })).status).toBe(404);
      });
    });

    describe('authentication', () => {
      it('logs a patient in with a password and reports authn_login_success', async () => {
        const u = demoUser(t, 'demo-patient-3');
        const res = await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: u.password });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { role: 'patient' } });
        const claims = jwt.decode(res.body.token) as { exp: number; iat: number; jti: string };
        expect(claims.exp - claims.iat).toBe(900);
        const ev = eventsOf(t, 'authn_login_success').at(-1)!;
        expect(ev).toMatchObject({ reason: 'password', outcome: 'success', actor: { role: 'patient' } });
        expect((ev.actor as { ref: string }).ref).toMatch(REF);
        expect(JSON.stringify(ev)).not.toContain(u.userId);
        expect(JSON.stringify(ev)).not.toContain(u.username);
      });

      it('refuses a wrong password and an unknown user alike (401) and reports both', async () => {
        const u = demoUser(t, 'demo-patient-4');
        const wrong = await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: 'wrong-password' });
        const unknown = await request(api)
          .post('/api/auth/login')
          .send({ username: 'nobody@example.test', password: 'x' });
        expect(wrong.status).toBe(401);
        expect(unknown.status).toBe(401);
        expect(wrong.body).toEqual(unknown.body);
        const fails = eventsOf(t, 'authn_login_fail');
        expect(fails.some((e) => e.reason === 'bad_password')).toBe(true);
        const anon = fails.find((e) => e.reason === 'unknown_user')!;
        expect(anon.actor).toEqual({ role: 'anonymous', ref: expect.stringMatching(REF) });
        expect(JSON.stringify(anon)).not.toContain('nobody');
        // A success resets the counter: the next wrong password does not count towards a lock.
        await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: u.password })
          .expect(200);
      });

      it('requires TOTP for providers and admins: missing, wrong and replayed codes', async () => {
        const u = demoUser(t, 'demo-provider-2');
        const missing = await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: u.password });
        expect(missing.status).toBe(401);
        expect(missing.body.error.code).toBe('mfa_required');
        const good = freshTotp(u);
        const wrongCode = good === '000000' ? '111111' : '000000';
        const wrong = await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: u.password, totp: wrongCode });
        expect(wrong.status).toBe(401);
        const ok = await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: u.password, totp: good });
        expect(ok.status).toBe(200);
        const replay = await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: u.password, totp: good });
        expect(replay.status).toBe(401);
        expect(replay.body.error.code).toBe('mfa_code_reused');
        const reasons = eventsOf(t, 'authn_mfa_fail').map((e) => e.reason);
        expect(reasons).toEqual(expect.arrayContaining(['missing_code', 'bad_code', 'replayed_code']));
        expect(eventsOf(t, 'authn_login_success').some((e) => e.reason === 'password_and_totp')).toBe(true);
        // The failures counted towards the lock; unlock for the other tests.
        await request(api).post(`/api/users/${u.userId}/unlock`).set(auth(admin)).expect(204);
      });

      it("audits an admin's unlock that lifted a lock or counted failures, and only those", async () => {
        const u = demoUser(t, 'demo-patient-3');
        const adminId = demoUser(t, 'demo-admin').userId;
        const unlocks = () => eventsOf(t, 'user_updated').filter((e) => e.reason === 'unlocked');
        const before = unlocks().length;
        for (let i = 0; i < 3; i++) {
          await request(api)
            .post('/api/auth/login')
            .send({ username: u.username, password: 'wrong-password' });
        }
        const locked = await request(api)
          .post('/api/auth/login')
          .send({ username: u.username, password: u.password });
        expect(locked.status).toBe(423);
        await request(api).post(`/api/users/${u.userId}/unlock`).set(auth(admin)).expect(204);
        expect(unlocks().slice(before)).toEqual([
          expect.objectContaining({
            outcome: 'success',
            actor: { role: 'admin', ref: pseudonymousRef(t.service.config.pseudonymKey, `actor:${adminId}`) },
            resource: {
              type: 'user_account',
              ref: pseudonymousRef(t.service.config.pseudonymKey, `user_account:${u.userId}`),
            },
          }),
        ]);
        expect(
          (await request(api).post('/api/auth/login').send({ username: u.username, password: u.password }))
            .status,
        ).toBe(200);
        // Nothing to lift: no event.
        await request(api).post(`/api/users/${u.userId}/unlock`).set(auth(admin)).expect(204);
        expect(unlocks().length).toBe(before + 1);
        // Only admins may unlock.
        const staffUnlock = await request(api).post(`/api/users/${u.userId}/unlock`).set(auth(staff));
        expect(staffUnlock.status).toBe(403);
        expect(unlocks().length).toBe(before + 1);
      });

      it('refuses requests without a valid token', async () => {
        expect((await request(api).get('/api/auth/me')).status).toBe(401);
        const garbage = await request(api)
          .get('/api/auth/me')
          .set('Authorization', 'Bearer abc.def.ghijklmnopqrstuvwxyz');
        expect(garbage.status).toBe(401);
        expect(garbage.body.error.code).toBe('invalid_token');
        const forged = jwt.sign({ role: 'admin' }, 'another-secret-of-sufficient-length', {
          subject: demoUser(t, 'demo-admin').userId,
          jwtid: '00000000-0000-4000-8000-000000000000',
          expiresIn: 900,
        });
        expect((await request(api).get('/api/users').set(auth(forged))).status).toBe(401);
        const none = jwt.sign({ role: 'admin', sub: 'x', jti: 'y' }, '', {
          algorithm: 'none' as jwt.Algorithm,
        });
        expect((await request(api).get('/api/users').set('Authorization', `Bearer ${none}x`)).status).toBe(
          401,
        );
      });

      it('takes the Bearer scheme in any case (RFC 7235)', async () => {
        const token = await loginAs(t, 'demo-patient-5');
        for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
          const res = await request(api).get('/api/auth/me').set('Authorization', `${scheme} ${token}`);
          expect(res.status).toBe(200);
        }
        expect((await request(api).get('/api/auth/me').set('Authorization', `Basic ${token}`)).status).toBe(
          401,
        );
      });

      it('revokes the token at logout', async () => {
        const token = await loginAs(t, 'demo-patient-5');
        expect((await request(api).get('/api/auth/me').set(auth(token))).status).toBe(200);
        expect((await request(api).post('/api/auth/logout').set(auth(token))).status).toBe(204);
        const after = await request(api).get('/api/auth/me').set(auth(token));
        expect(after.status).toBe(401);
        expect(after.body.error.code).toBe('token_revoked');
        expect(eventsOf(t, 'authn_token_revoked').some((e) => e.reason === 'logout')).toBe(true);
      });

      it('ends the sessions of an account disabled, or given another role, since the token was issued', async () => {
        const db = t.service.database;
        const patient = await loginAs(t, 'demo-patient-5');
        const staffToken = await loginAs(t, 'demo-staff');
        const idOf = (token: string) => (jwt.decode(token) as { sub: string }).sub;
        const me = (token: string) => request(api).get('/api/auth/me').set(auth(token));
        expect((await me(patient)).status).toBe(200);
        expect((await me(staffToken)).status).toBe(200);
        try {
          await db.query(`UPDATE users SET disabled = true WHERE id = $1`, [idOf(patient)]);
          await db.query(`UPDATE users SET role = 'provider' WHERE id = $1`, [idOf(staffToken)]);
          for (const token of [patient, staffToken]) {
            const r = await me(token);
            expect(r.status).toBe(401);
            expect(r.body.error.code).toBe('token_revoked');
          }
        } finally {
          await db.query(`UPDATE users SET disabled = false WHERE id = $1`, [idOf(patient)]);
          await db.query(`UPDATE users SET role = 'staff' WHERE id = $1`, [idOf(staffToken)]);
        }
        // Ended for good: enabling the account again, or restoring its role, does not revive the tokens.
        for (const token of [patient, staffToken]) expect((await me(token)).status).toBe(401);
        // Even when a token was not used while the account was disabled.
        const unused = await loginAs(t, 'demo-patient-5');
        await db.query(`UPDATE users SET disabled = true WHERE id = $1`, [idOf(unused)]);
        await db.query(`UPDATE users SET disabled = false WHERE id = $1`, [idOf(unused)]);
        const r = await me(unused);
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe('token_revoked');
        expect((await me(await loginAs(t, 'demo-patient-5'))).status).toBe(200);
        // The suite's own staff token ended with the role change: the later tests log in again.
        staff = await loginAs(t, 'demo-staff');
      });

      it('reports an account changed by SQL as user_updated, and the sessions it ended as one authn_token_revoked event', async () => {
        const db = t.service.database;
        const collector = t.service.collector;
        const tokens = [await loginAs(t, 'demo-patient-5'), await loginAs(t, 'demo-patient-5')];
        const userId = (jwt.decode(tokens[0]!) as { sub: string }).sub;
        const bySystem = (type: string) =>
          eventsOf(t, type).filter((e) => (e.actor as { role: string }).role === 'system');
        // What the test before left (its accounts disabled and given other roles), reported first.
        expect(await collector.runJob('account_change_events')).toBe('success');
        expect((await db.query(`SELECT 1 FROM account_change_outbox`)).rowCount).toBe(0);
        const revokedBefore = bySystem('authn_token_revoked').length;
        const updatedBefore = bySystem('user_updated').length;
        await db.query(`UPDATE users SET disabled = true WHERE id = $1`, [userId]);
        await db.query(`UPDATE users SET disabled = false WHERE id = $1`, [userId]);
        // Left by the trigger in each change's transaction: one row per change, not one per session.
        const outbox = await db.query<{
          id: string;
          change: string;
          sessions: number;
          revoked_event_id: string;
        }>(
          `SELECT id, change, sessions, revoked_event_id FROM account_change_outbox WHERE user_id = $1 ORDER BY changed_at`,
          [userId],
        );
        expect(outbox.rows.map((r) => r.change)).toEqual(['disabled', 'enabled']);
        expect(Number(outbox.rows[0]!.sessions)).toBeGreaterThanOrEqual(2);
        expect(Number(outbox.rows[1]!.sessions)).toBe(0);
        expect(await collector.runJob('account_change_events')).toBe('success');
        const updated = bySystem('user_updated').slice(updatedBefore);
        expect(updated.map((e) => [e.event_id, e.reason])).toEqual([
          [outbox.rows[0]!.id, 'disabled'],
          [outbox.rows[1]!.id, 'enabled'],
        ]);
        const revoked = bySystem('authn_token_revoked').slice(revokedBefore);
        expect(revoked).toHaveLength(1);
        expect(revoked[0]).toMatchObject({
          event_id: outbox.rows[0]!.revoked_event_id,
          reason: 'admin_revoked',
          actor: { role: 'system', ref: null },
          resource: { type: 'user_account' },
        });
        // No user id in the events: a pseudonymous reference.
        expect(JSON.stringify([...updated, ...revoked])).not.toContain(userId);
        expect((await db.query(`SELECT 1 FROM account_change_outbox`)).rowCount).toBe(0);
        // Stored by the collector before the rows were deleted.
        const stored = await db.query(`SELECT 1 FROM audit_events WHERE event_id = ANY($1::uuid[])`, [
          [outbox.rows[0]!.id, outbox.rows[1]!.id, outbox.rows[0]!.revoked_event_id],
        ]);
        expect(stored.rowCount).toBe(3);
        // Nothing left: a second run reports nothing.
        expect(await collector.runJob('account_change_events')).toBe('success');
        expect(bySystem('user_updated').length).toBe(updatedBefore + 2);
        const metrics = await t.service.telemetry.registry.metrics();
        expect(metrics).toMatch(
          /scheduled_job_runs_total\{task="account_change_events",outcome="success"\} 3\n/,
        );
      });

      it('lets an admin disable and enable an account; its sessions end, reported with the admin as actor', async () => {
        const collector = t.service.collector;
        expect(await collector.runJob('account_change_events')).toBe('success');
        const token = await loginAs(t, 'demo-patient-5');
        const { sub: userId } = jwt.decode(token) as { sub: string };
        const { sub: adminId } = jwt.decode(admin) as { sub: string };
        const me = (tk: string) => request(api).get('/api/auth/me').set(auth(tk));
        const patch = (tk: string, id: string, body: object) =>
          request(api).patch(`/api/users/${id}`).set(auth(tk)).send(body);
        const before = eventsOf(t, 'authn_token_revoked').length;
        const updatesBefore = eventsOf(t, 'user_updated').length;
        try {
          expect((await patch(admin, userId, { disabled: true })).body).toEqual({
            id: userId,
            disabled: true,
          });
          expect((await me(token)).body.error.code).toBe('token_revoked');
          const listed = await request(api).get('/api/users?role=patient&limit=100').set(auth(admin));
          expect(listed.body.users.find((u: { id: string }) => u.id === userId)).toMatchObject({
            disabled: true,
          });
          // A disabled account cannot log in.
          await expect(loginAs(t, 'demo-patient-5')).rejects.toThrow();
          // Again: nothing more to end, still 200.
          expect((await patch(admin, userId, { disabled: true })).status).toBe(200);
          expect(await collector.runJob('account_change_events')).toBe('success');
          const events = eventsOf(t, 'authn_token_revoked').slice(before);
          expect(events).toHaveLength(1);
          expect(events[0]).toMatchObject({ reason: 'admin_revoked', actor: { role: 'admin' } });
          // The admin's pseudonymous reference, the same one their other events carry.
          const adminRef = (events[0]!.actor as { ref: string }).ref;
          expect(adminRef).toMatch(/^[A-Za-z0-9_-]+$/);
          expect(JSON.stringify(events[0])).not.toContain(adminId);
          // Refused: a bad body, an unknown account, an admin disabling themselves, a non-admin.
          const bad = await patch(admin, userId, { disabled: 'yes' });
          expect(bad.status).toBe(400);
          expect(bad.body.error.fields.map((f: { path: string }) => f.path)).toEqual(['body.disabled']);
          expect(
            (await patch(admin, '0f8fad5b-d9cb-469f-a165-70867728950e', { disabled: true })).status,
          ).toBe(404);
          const self = await patch(admin, adminId, { disabled: true });
          expect(self.status).toBe(409);
          expect(self.body.error.code).toBe('cannot_disable_self');
          expect((await patch(staff, userId, { disabled: false })).status).toBe(403);
        } finally {
          expect((await patch(admin, userId, { disabled: false })).status).toBe(200);
        }
        expect((await me(await loginAs(t, 'demo-patient-5'))).status).toBe(200);
        expect(await collector.runJob('account_change_events')).toBe('success');
        // The account changes themselves, once each (disabling again changed nothing), the admin as actor.
        expect(
          eventsOf(t, 'user_updated')
            .slice(updatesBefore)
            .map((e) => [e.reason, (e.actor as { role: string }).role]),
        ).toEqual([
          ['disabled', 'admin'],
          ['enabled', 'admin'],
        ]);
      });

      it('ends a session after 15 minutes without a request', async () => {
        const token = await loginAs(t, 'demo-patient-5');
        const { jti } = jwt.decode(token) as { jti: string };
        await request(api).get('/api/auth/me').set(auth(token)).expect(200);
        await t.service.database.query(
          `UPDATE sessions SET last_seen_at = now() - interval '14 minutes' WHERE id = $1`,
          [jti],
        );
        await request(api).get('/api/auth/me').set(auth(token)).expect(200); // activity renews it
        const seen = await t.service.database.query<{ recent: boolean }>(
          `SELECT last_seen_at > now() - interval '5 seconds' AS recent FROM sessions WHERE id = $1`,
          [jti],
        );
        expect(seen.rows[0]!.recent).toBe(true);
        await t.service.database.query(
          `UPDATE sessions SET last_seen_at = now() - interval '901 seconds' WHERE id = $1`,
          [jti],
        );
        const res = await request(api).get('/api/auth/me').set(auth(token));
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('session_expired');
        expect(eventsOf(t, 'session_expired').some((e) => e.reason === 'inactivity')).toBe(true);
        expect((await request(api).get('/api/auth/me').set(auth(token))).status).toBe(401);
      });

      it('refuses an expired token and reports session_expired once', async () => {
        const u = demoUser(t, 'demo-patient-4');
        const { rows } = await t.service.database.query<{ id: string }>(
          `INSERT INTO sessions (id, user_id, expires_at) VALUES (gen_random_uuid(), $1, now()) RETURNING id`,
          [u.userId],
        );
        const sid = rows[0]!.id;
        const token = jwt.sign(
          { role: 'patient', pid: u.patientId, exp: Math.floor(Date.now() / 1000) - 5 },
          t.service.config.jwtSecret,
          {
            subject: u.userId,
            jwtid: sid,
            issuer: t.service.config.serviceName,
            audience: 'telehealth-api',
          },
        );
        const before = eventsOf(t, 'session_expired').filter((e) => e.reason === 'token_expired').length;
        for (let i = 0; i < 2; i++) {
          const res = await request(api).get('/api/auth/me').set(auth(token));
          expect(res.status).toBe(401);
          expect(res.body.error.code).toBe('session_expired');
        }
        expect(eventsOf(t, 'session_expired').filter((e) => e.reason === 'token_expired').length).toBe(
          before + 1,
        );
      });

      it('bounds a session by its own end, not the token alone: no exp is refused, a past expires_at ends it', async () => {
        const u = demoUser(t, 'demo-patient-4');
        const session = async (ends: string) =>
          (
            await t.service.database.query<{ id: string }>(
              `INSERT INTO sessions (id, user_id, expires_at) VALUES (gen_random_uuid(), $1, ${ends}) RETURNING id`,
              [u.userId],
            )
          ).rows[0]!.id;
        // Signed with the service's own secret (what a leaked secret or a signing bug would give).
        const sign = (sid: string, opts: jwt.SignOptions) =>
          jwt.sign({ role: 'patient', pid: u.patientId }, t.service.config.jwtSecret, {
            subject: u.userId,
            jwtid: sid,
            issuer: t.service.config.serviceName,
            audience: 'telehealth-api',
            ...opts,
          });
        const noExp = await request(api)
          .get('/api/auth/me')
          .set(auth(sign(await session(`now() + interval '15 minutes'`), {})));
        expect(noExp.status).toBe(401);
        expect(noExp.body.error.code).toBe('invalid_token');

        const ended = await session(`now() - interval '1 second'`);
        const before = eventsOf(t, 'session_expired').filter((e) => e.reason === 'token_expired').length;
        const late = sign(ended, { expiresIn: 86_400 });
        for (let i = 0; i < 2; i++) {
          const res = await request(api).get('/api/auth/me').set(auth(late));
          expect(res.status).toBe(401);
          expect(res.body.error.code).toBe(i === 0 ? 'session_expired' : 'token_revoked');
        }
        expect(eventsOf(t, 'session_expired').filter((e) => e.reason === 'token_expired').length).toBe(
          before + 1,
        );
        // A session within its end still works with the same kind of token.
        const live = sign(await session(`now() + interval '15 minutes'`), { expiresIn: 900 });
        expect((await request(api).get('/api/auth/me').set(auth(live))).status).toBe(200);
      });

      it('lets an admin revoke all sessions of a user', async () => {
        const token = await loginAs(t, 'demo-patient-3');
        const u = demoUser(t, 'demo-patient-3');
        const res = await request(api).post(`/api/users/${u.userId}/revoke-sessions`).set(auth(admin));
        expect(res.status).toBe(200);
        expect(res.body.revoked).toBeGreaterThanOrEqual(1);
        expect((await request(api).get('/api/auth/me').set(auth(token))).status).toBe(401);
        expect(eventsOf(t, 'authn_token_revoked').some((e) => e.reason === 'admin_revoked')).toBe(true);
      });
    });

    describe('PHI access', () => {
      it('reports every role-gated 403 as authz_fail (role_forbidden), so the snooping alert sees it', async () => {
        const someId = '0f8fad5b-d9cb-469f-a165-70867728950e';
        const cases: Array<[string, 'get' | 'post' | 'patch' | 'put' | 'delete', string]> = [
          [patient1, 'post', '/api/invoices'],
          [provider1, 'get', '/api/invoices'],
          [provider1, 'post', `/api/invoices/${someId}/payments`],
          [patient1, 'get', '/api/orders'],
          [patient1, 'patch', `/api/orders/${someId}`],
          [patient1, 'post', `/api/prescriptions/${someId}/fill`],
          [provider1, 'post', '/api/patients'],
          [staff, 'put', `/api/patients/${p1}/providers/${someId}`],
          [staff, 'delete', `/api/patients/${p1}/providers/${someId}`],
          [admin, 'post', `/api/patients/${p1}/soap-notes`],
          [patient1, 'get', '/api/users'],
        ];
        for (const [token, method, path] of cases) {
          const before = eventsOf(t, 'authz_fail').length;
          const res = await request(api)[method](path).set(auth(token)).send({});
          expect({ path, method, status: res.status }).toEqual({ path, method, status: 403 });
          const reported = eventsOf(t, 'authz_fail').slice(before);
          expect({ path, method, reasons: reported.map((e) => e.reason) }).toEqual({
            path,
            method,
            reasons: ['role_forbidden'],
          });
        }
      });

      it('lets the patient read their own record (decrypted) and reports phi_access', async () => {
        const res = await request(api).get(`/api/patients/${p1}`).set(auth(patient1));
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: p1, name: 'Demo Patient 01', email: 'patient01@example.test' });
        expect(res.body.ssn).toMatch(/^9\d\d-\d\d-\d{4}$/);
        const ev = eventsOf(t, 'phi_access').at(-1)!;
        expect(ev).toMatchObject({ reason: 'own_record', resource: { type: 'patient_record' } });
        expect((ev.resource as { ref: string }).ref).toMatch(REF);
        expect(JSON.stringify(ev)).not.toContain(p1);
      });

      it('takes a patient id in upper case as the same patient (read, update, owner check, pseudonym)', async () => {
        const upper = p1.toUpperCase();
        const ref = (e: Record<string, unknown>) => (e.resource as { ref: string }).ref;
        const lower = await request(api).get(`/api/patients/${p1}`).set(auth(provider1));
        expect(lower.status).toBe(200);
        const lowerRef = ref(eventsOf(t, 'phi_access').at(-1)!);
        const read = await request(api).get(`/api/patients/${upper}`).set(auth(provider1));
        expect(read.status).toBe(200);
        expect(read.body).toMatchObject({ id: p1, name: 'Demo Patient 01' });
        expect(ref(eventsOf(t, 'phi_access').at(-1)!)).toBe(lowerRef);
        expect((await request(api).get(`/api/patients/${upper}`).set(auth(patient1))).status).toBe(200);
        await request(api)
          .patch(`/api/patients/${upper}`)
          .set(auth(admin))
          .send({ phone: '+1 555 0101' })
          .expect(204);
        const after = await request(api).get(`/api/patients/${p1}`).set(auth(admin));
        expect(after.status).toBe(200);
        expect(after.body.phone).toBe('+1 555 0101');
        expect(eventsOf(t, 'phi_integrity_fail')).toEqual([]);
      });

      it('lets assigned providers and admins read, and refuses everyone else with 403 + authz_fail', async () => {
        expect((await request(api).get(`/api/patients/${p1}`).set(auth(provider1))).status).toBe(200);
        expect((await request(api).get(`/api/patients/${unassigned}`).set(auth(admin))).status).toBe(200);
        const cases: Array<[string, string, string]> = [
          [patient1, p2, 'not_owner'],
          [provider1, unassigned, 'not_assigned'],
          [staff, p1, 'role_forbidden'],
        ];
        for (const [token, id, reason] of cases) {
          const before = eventsOf(t, 'authz_fail').filter((e) => e.reason === reason).length;
          const res = await request(api).get(`/api/patients/${id}`).set(auth(token));
          expect(res.status).toBe(403);
          expect(res.body.error.code).toBe('forbidden');
          expect(JSON.stringify(res.body)).not.toContain('Demo Patient');
          expect(eventsOf(t, 'authz_fail').filter((e) => e.reason === reason).length).toBe(before + 1);
        }
        const reasons = eventsOf(t, 'phi_access').map((e) => e.reason);
        expect(reasons).toEqual(expect.arrayContaining(['assigned_provider', 'admin_access']));
      });

      it('a provider can read a patient after assignment and not after unassignment', async () => {
        const provider1Id = demoUser(t, 'demo-provider-1').userId;
        await request(api)
          .put(`/api/patients/${unassigned}/providers/${provider1Id}`)
          .set(auth(admin))
          .expect(204);
        expect((await request(api).get(`/api/patients/${unassigned}`).set(auth(provider1))).status).toBe(200);
        await request(api)
          .delete(`/api/patients/${unassigned}/providers/${provider1Id}`)
          .set(auth(admin))
          .expect(204);
        expect((await request(api).get(`/api/patients/${unassigned}`).set(auth(provider1))).status).toBe(403);
        expect(
          (await request(api).put(`/api/patients/${unassigned}/providers/${provider1Id}`).set(auth(staff)))
            .status,
        ).toBe(403);
      });

      it('lists only the patients a caller may see', async () => {
        const mine = await request(api).get('/api/patients').set(auth(provider1));
        expect(mine.status).toBe(200);
        expect(mine.body.patients.map((p: { id: string }) => p.id)).toContain(p1);
        expect(mine.body.patients.map((p: { id: string }) => p.id)).not.toContain(unassigned);
        const own = await request(api).get('/api/patients').set(auth(patient1));
        expect(own.body.patients).toEqual([{ id: p1, createdAt: expect.any(String) }]);
      });

      it('reports reads of orders and invoices as phi_access: staff as billing_access, one per patient for work queues', async () => {
        const ref = (kind: string, id: string) =>
          pseudonymousRef(t.service.config.pseudonymKey, `${kind}:${id}`);
        const since = (n: number) => eventsOf(t, 'phi_access').slice(n);
        const order = await request(api)
          .post('/api/orders')
          .set(auth(staff))
          .send({
            patientId: p2,
            currency: 'USD',
            items: [{ sku: 'KIT-BP', quantity: 1, unitPriceMinor: 500 }],
          });
        const invoice = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p2, amountMinor: 500, currency: 'USD' });
        expect([order.status, invoice.status]).toEqual([201, 201]);

        const single: Array<[string, string, string, string]> = [
          [staff, `/api/orders/${order.body.id}`, 'billing_access', ref('order', order.body.id)],
          [admin, `/api/invoices/${invoice.body.id}`, 'admin_access', ref('invoice', invoice.body.id)],
          [loginPatient2, `/api/invoices/${invoice.body.id}`, 'own_record', ref('invoice', invoice.body.id)],
          [staff, `/api/orders?patientId=${p2}`, 'billing_access', ref('order', p2)],
          [staff, `/api/invoices?patientId=${p2}`, 'billing_access', ref('invoice', p2)],
        ];
        for (const [token, path, reason, resourceRef] of single) {
          const before = eventsOf(t, 'phi_access').length;
          expect({ path, status: (await request(api).get(path).set(auth(token))).status }).toEqual({
            path,
            status: 200,
          });
          expect({
            path,
            reported: since(before).map((e) => [e.reason, (e.resource as { ref: string }).ref]),
          }).toEqual({ path, reported: [[reason, resourceRef]] });
        }

        // A work queue spanning patients: one event per patient whose records it returned.
        await request(api)
          .post('/api/orders')
          .set(auth(staff))
          .send({
            patientId: p2,
            currency: 'USD',
            items: [{ sku: 'KIT-BP', quantity: 1, unitPriceMinor: 1 }],
          })
          .expect(201);
        const before = eventsOf(t, 'phi_access').length;
        const queue = await request(api).get('/api/orders?status=open&limit=100').set(auth(staff));
        expect(queue.status).toBe(200);
        const patients = [
          ...new Set(queue.body.orders.map((o: { patientId: string }) => o.patientId as string)),
        ];
        expect(patients).toContain(p2);
        expect(
          queue.body.orders.filter((o: { patientId: string }) => o.patientId === p2).length,
        ).toBeGreaterThan(1);
        const reported = since(before);
        expect(reported.map((e) => e.reason)).toEqual(patients.map(() => 'billing_access'));
        expect(reported.map((e) => (e.resource as { ref: string }).ref).sort()).toEqual(
          patients.map((id) => ref('order', id as string)).sort(),
        );

        // Writes report their own events, not a read.
        const beforeWrite = eventsOf(t, 'phi_access').length;
        await request(api)
          .patch(`/api/orders/${order.body.id}`)
          .set(auth(staff))
          .send({ status: 'cancelled' })
          .expect(200);
        expect(since(beforeWrite)).toEqual([]);
      });

      it('creates and updates patients (staff intake, admin or the patient update), each reported as phi_write', async () => {
        const ref = (kind: string, id: string) =>
          pseudonymousRef(t.service.config.pseudonymKey, `${kind}:${id}`);
        const writes = () => eventsOf(t, 'phi_write').length;
        const before = writes();
        const created = await request(api)
          .post('/api/patients')
          .set(auth(staff))
          .send({ name: 'Intake Person', dateOfBirth: '1980-02-29', email: 'intake@example.test' });
        expect(created.status).toBe(201);
        const id = created.body.id as string;
        expect(
          (
            await request(api)
              .post('/api/patients')
              .set(auth(patient1))
              .send({ name: 'x', dateOfBirth: '1980-01-01' })
          ).status,
        ).toBe(403);
        const bad = await request(api)
          .post('/api/patients')
          .set(auth(staff))
          .send({ name: 'x', dateOfBirth: '2999-01-01', ssn: '123456789' });
        expect(bad.status).toBe(400);
        expect(bad.body.error.fields.map((f: { path: string }) => f.path)).toEqual([
          'body.dateOfBirth',
          'body.ssn',
        ]);
        const surrogate = await request(api)
          .post('/api/patients')
          .set(auth(staff))
          .set('content-type', 'application/json')
          .send('{"name":"Ann \\ud83d Lee","dateOfBirth":"1980-01-01"}');
        expect(surrogate.status).toBe(400);
        expect(surrogate.body.error.fields).toEqual([
          { path: 'body.name', message: 'must be valid Unicode text' },
        ]);
        // Only the intake was written: refused writes report nothing.
        expect(eventsOf(t, 'phi_write').slice(before)).toEqual([
          expect.objectContaining({
            actor: expect.objectContaining({ role: 'staff' }),
            reason: 'intake',
            resource: { type: 'patient_record', ref: ref('patient_record', id) },
          }),
        ]);
        await request(api)
          .patch(`/api/patients/${id}`)
          .set(auth(admin))
          .send({ phone: '+1 555 0199' })
          .expect(204);
        expect(eventsOf(t, 'phi_write').at(-1)).toMatchObject({
          reason: 'admin_access',
          resource: { type: 'patient_record', ref: ref('patient_record', id) },
        });
        const read = await request(api).get(`/api/patients/${id}`).set(auth(admin));
        expect(read.body).toMatchObject({ name: 'Intake Person', phone: '+1 555 0199', ssn: null });
        await request(api)
          .patch(`/api/patients/${p1}`)
          .set(auth(patient1))
          .send({ address: '2 New Road, Testville' })
          .expect(204);
        expect(eventsOf(t, 'phi_write').at(-1)).toMatchObject({
          reason: 'own_record',
          resource: { ref: ref('patient_record', p1) },
        });
        const writesSoFar = writes();
        expect(
          (await request(api).patch(`/api/patients/${p2}`).set(auth(patient1)).send({ address: 'x' })).status,
        ).toBe(403);
        expect((await request(api).patch(`/api/patients/${p1}`).set(auth(patient1)).send({})).status).toBe(
          400,
        );
        expect(writes()).toBe(writesSoFar);
      });

      it('keeps SOAP notes for the assigned provider and the patient', async () => {
        const note = {
          subjective: 'Cough',
          objective: 'Clear lungs',
          assessment: 'Viral URI',
          plan: 'Fluids',
        };
        const created = await request(api)
          .post(`/api/patients/${p1}/soap-notes`)
          .set(auth(provider1))
          .send(note);
        expect(created.status).toBe(201);
        expect(eventsOf(t, 'phi_write').at(-1)).toMatchObject({
          actor: { role: 'provider' },
          reason: 'assigned_provider',
          resource: {
            type: 'soap_note',
            ref: pseudonymousRef(t.service.config.pseudonymKey, `soap_note:${p1}`),
          },
        });
        expect(
          (await request(api).post(`/api/patients/${unassigned}/soap-notes`).set(auth(provider1)).send(note))
            .status,
        ).toBe(403);
        expect(
          (await request(api).post(`/api/patients/${p1}/soap-notes`).set(auth(staff)).send(note)).status,
        ).toBe(403);
        const read = await request(api).get(`/api/patients/${p1}/soap-notes`).set(auth(patient1));
        expect(read.status).toBe(200);
        expect(read.body.notes[0]).toMatchObject({ id: created.body.id, ...note });
        expect((await request(api).get(`/api/patients/${p1}/soap-notes`).set(auth(staff))).status).toBe(403);
      });

      it('fails closed (500, generic message) when a stored ciphertext was tampered with, and reports phi_integrity_fail', async () => {
        const created = await request(api)
          .post('/api/patients')
          .set(auth(admin))
          .send({ name: 'Tamper Target', dateOfBirth: '1990-01-01' });
        const id = created.body.id as string;
        // Moves another row's ciphertext here: the associated data (table, column, row) no longer matches.
        await t.service.database.query(
          `UPDATE patients SET name_enc = (SELECT name_enc FROM patients WHERE id = $2) WHERE id = $1`,
          [id, p1],
        );
        const before = eventsOf(t, 'phi_integrity_fail').length;
        const res = await request(api).get(`/api/patients/${id}`).set(auth(admin));
        expect(res.status).toBe(500);
        expect(res.body).toEqual({ error: { code: 'internal_error', message: 'Internal server error' } });
        // Reported once, with who read what, so that the integrity alert pages on it.
        const reported = eventsOf(t, 'phi_integrity_fail').slice(before);
        expect(reported).toHaveLength(1);
        expect(reported[0]).toMatchObject({
          reason: 'authentication_failed',
          actor: { role: 'admin' },
          resource: {
            type: 'patient_record',
            ref: pseudonymousRef(t.service.config.pseudonymKey, `patient_record:${id}`),
          },
        });
        expect(
          await metricValue(t, 'telehealth_events_total', {
            event_type: 'phi_integrity_fail',
            reason: 'authentication_failed',
          }),
        ).toBe(1);
      });
    });

    describe('users (admin)', () => {
      /** Runs the account change drain: it must succeed and leave the outbox empty. */
      const drainAccountChanges = async () => {
        expect(await t.service.collector.runJob('account_change_events')).toBe('success');
        expect((await t.service.database.query(`SELECT 1 FROM account_change_outbox`)).rowCount).toBe(0);
      };
      it('creates users; MFA roles get a TOTP secret once', async () => {
        const res = await request(api)
          .post('/api/users')
          .set(auth(admin))
          .send({ username: 'new.provider', password: 'a-long-enough-password', role: 'provider' });
        expect(res.status).toBe(201);
        // Audited from the outbox, as an operator's INSERT is: who created which account, with its role
        // as the reason (no id or name in the event).
        await drainAccountChanges();
        const reported = eventsOf(t, 'user_created').length;
        const created = eventsOf(t, 'user_created').at(-1);
        expect(created).toMatchObject({
          reason: 'provider',
          actor: { role: 'admin', ref: expect.any(String) },
          resource: {
            type: 'user_account',
            ref: pseudonymousRef(t.service.config.pseudonymKey, `user_account:${res.body.id}`),
          },
        });
        // Stored in the audit table under the outbox row's id.
        const stored = await t.service.database.query(`SELECT 1 FROM audit_events WHERE event_id = $1`, [
          created!.event_id,
        ]);
        expect(stored.rowCount).toBe(1);
        expect(JSON.stringify(created)).not.toContain(res.body.id);
        expect(JSON.stringify(created)).not.toContain('new.provider');
        expect(res.body.totpSecret).toMatch(/^[A-Z2-7]+$/);
        expect(res.body.otpauthUrl).toMatch(/^otpauth:\/\/totp\//);
        expect(
          (
            await request(api)
              .post('/api/users')
              .set(auth(admin))
              .send({ username: 'New.Provider', password: 'a-long-enough-password', role: 'staff' })
          ).status,
        ).toBe(409);
        expect(
          (
            await request(api)
              .post('/api/users')
              .set(auth(admin))
              .send({ username: 'pat', password: 'a-long-enough-password', role: 'patient' })
          ).status,
        ).toBe(400);
        expect(
          (
            await request(api)
              .post('/api/users')
              .set(auth(staff))
              .send({ username: 'x12', password: 'a-long-enough-password', role: 'staff' })
          ).status,
        ).toBe(403);
        const list = await request(api).get('/api/users?role=provider').set(auth(admin));
        expect(list.body.users.map((u: { username: string }) => u.username)).toContain('new.provider');
        expect(JSON.stringify(list.body)).not.toMatch(/password|totp/i);
        // Reported once, and the refused creations left nothing to report.
        await drainAccountChanges();
        expect(eventsOf(t, 'user_created').length).toBe(reported);
      });

      it('answers 409, never 500, when requests race to create the same username', async () => {
        const create = () =>
          request(api)
            .post('/api/users')
            .set(auth(admin))
            .send({ username: 'race.staff', password: 'a-long-enough-password', role: 'staff' });
        await drainAccountChanges();
        const before = eventsOf(t, 'user_created').length;
        const results = await Promise.all(Array.from({ length: 6 }, create));
        const statuses = results.map((r) => r.status).sort();
        expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
        for (const r of results.filter((x) => x.status === 409))
          expect(r.body.error.code).toBe('username_taken');
        // The losers' INSERTs failed with their trigger's rows: one account, one event, the admin as actor.
        await drainAccountChanges();
        expect(eventsOf(t, 'user_created').slice(before)).toEqual([
          expect.objectContaining({ reason: 'staff', actor: expect.objectContaining({ role: 'admin' }) }),
        ]);
      });
    });

    describe('orders, prescriptions, invoices, payments', () => {
      const ref = (kind: string, id: string) =>
        pseudonymousRef(t.service.config.pseudonymKey, `${kind}:${id}`);
      /** The events of these types reported since `mark` (a length of t.events), as [type, reason, ref]. */
      const lifecycle = ['order_updated', 'invoice_issued', 'invoice_voided', 'prescription_filled'];
      const lifecycleSince = (mark: number) =>
        t.events
          .slice(mark)
          .filter((e) => lifecycle.includes(e.event_type as string))
          .map((e) => [e.event_type, e.reason, (e.resource as { ref: string }).ref]);
      /** An order of patient 2 in GBP, made by staff: its id. */
      const newOrder = async (items: object[] = [{ sku: 'LAB-PANEL', quantity: 1, unitPriceMinor: 900 }]) =>
        (
          await request(api)
            .post('/api/orders')
            .set(auth(staff))
            .send({ patientId: p2, currency: 'GBP', items })
            .expect(201)
        ).body.id as string;

      it('creates an order (order_created), reads it and changes its status once', async () => {
        const res = await request(api)
          .post('/api/orders')
          .set(auth(staff))
          .send({
            patientId: p1,
            currency: 'USD',
            items: [{ sku: 'KIT-BP', quantity: 2, unitPriceMinor: 1999 }],
          });
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ status: 'open', totalMinor: 3998, currency: 'USD' });
        expect(eventsOf(t, 'order_created').at(-1)).toMatchObject({
          actor: { role: 'staff' },
          resource: { type: 'order' },
        });
        expect(
          (await request(api).get(`/api/orders/${res.body.id}`).set(auth(patient1))).body.totalMinor,
        ).toBe(3998);
        expect(
          (await request(api).get(`/api/orders?patientId=${p1}`).set(auth(patient1))).body.orders.length,
        ).toBeGreaterThan(0);
        expect((await request(api).get('/api/orders').set(auth(patient1))).status).toBe(403);
        // Another patient's order answers as a missing one does: its id is not confirmed.
        const othersOrder = await request(api).get(`/api/orders/${res.body.id}`).set(auth(loginPatient2));
        expect(othersOrder.status).toBe(404);
        expect(othersOrder.body).toEqual(
          (
            await request(api)
              .get('/api/orders/0f8fad5b-d9cb-469f-a165-70867728950e')
              .set(auth(loginPatient2))
          ).body,
        );
        const mark = t.events.length;
        await request(api)
          .patch(`/api/orders/${res.body.id}`)
          .set(auth(staff))
          .send({ status: 'fulfilled' })
          .expect(200);
        expect(eventsOf(t, 'order_updated').at(-1)).toMatchObject({
          actor: { role: 'staff' },
          reason: 'fulfilled',
        });
        expect(
          (
            await request(api)
              .patch(`/api/orders/${res.body.id}`)
              .set(auth(staff))
              .send({ status: 'cancelled' })
          ).status,
        ).toBe(409);
        // The refused change reports nothing.
        expect(lifecycleSince(mark)).toEqual([['order_updated', 'fulfilled', ref('order', res.body.id)]]);
        const other = await request(api)
          .post('/api/orders')
          .set(auth(patient1))
          .send({
            patientId: p2,
            currency: 'USD',
            items: [{ sku: 'KIT-BP', quantity: 1, unitPriceMinor: 1 }],
          });
        expect(other.status).toBe(403);
        const badCurrency = await request(api)
          .post('/api/orders')
          .set(auth(staff))
          .send({
            patientId: p1,
            currency: 'XYZ',
            items: [{ sku: 'KIT-BP', quantity: 1, unitPriceMinor: 1.5 }],
          });
        expect(badCurrency.status).toBe(400);
        expect(badCurrency.body.error.fields.map((f: { path: string }) => f.path)).toEqual([
          'body.currency',
          'body.items.0.unitPriceMinor',
        ]);
      });

      it('issues prescriptions only as an assigned provider (prescription_issued) and fills them', async () => {
        const body = { patientId: p1, medication: 'Amoxicillin 500 mg', dosage: 'Twice daily', refills: 1 };
        const res = await request(api).post('/api/prescriptions').set(auth(provider1)).send(body);
        expect(res.status).toBe(201);
        expect(eventsOf(t, 'prescription_issued').at(-1)).toMatchObject({
          actor: { role: 'provider' },
          resource: { type: 'prescription' },
        });
        expect(
          (
            await request(api)
              .post('/api/prescriptions')
              .set(auth(provider1))
              .send({ ...body, patientId: unassigned })
          ).status,
        ).toBe(403);
        expect((await request(api).post('/api/prescriptions').set(auth(admin)).send(body)).status).toBe(403);
        // The caller is judged before the rest of the body: a forbidden one is refused and reported
        // whatever the body lacks.
        for (const [token, path] of [
          [loginPatient2, '/api/prescriptions'],
          [patient1, '/api/orders'],
        ] as const) {
          const denials = eventsOf(t, 'authz_fail').length;
          const r = await request(api).post(path).set(auth(token)).send({ patientId: p2 });
          expect(r.status).toBe(403);
          expect(eventsOf(t, 'authz_fail').length).toBe(denials + 1);
        }
        const list = await request(api).get(`/api/patients/${p1}/prescriptions`).set(auth(patient1));
        expect(list.body.prescriptions[0]).toMatchObject({
          id: res.body.id,
          medication: 'Amoxicillin 500 mg',
          status: 'pending',
        });
        const mark = t.events.length;
        await request(api).post(`/api/prescriptions/${res.body.id}/fill`).set(auth(staff)).expect(200);
        expect(
          (await request(api).post(`/api/prescriptions/${res.body.id}/fill`).set(auth(staff))).status,
        ).toBe(409);
        expect(
          (await request(api).post(`/api/prescriptions/${res.body.id}/fill`).set(auth(patient1))).status,
        ).toBe(403);
        // Filled once: the refused fills report nothing.
        expect(lifecycleSince(mark)).toEqual([
          ['prescription_filled', 'none', ref('prescription', res.body.id)],
        ]);
        expect(eventsOf(t, 'prescription_filled').at(-1)).toMatchObject({ actor: { role: 'staff' } });
      });

      it('captures, fails and refunds payments in integer minor units', async () => {
        const inv = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p1, amountMinor: 12_345, currency: 'EUR' });
        expect(inv.status).toBe(201);
        const invoiceId = inv.body.id as string;
        expect(eventsOf(t, 'invoice_issued').at(-1)).toMatchObject({
          actor: { role: 'staff' },
          reason: 'manual',
          resource: { type: 'invoice', ref: ref('invoice', invoiceId) },
        });
        expect((await request(api).get(`/api/invoices/${invoiceId}`).set(auth(patient1))).body).toMatchObject(
          { status: 'unpaid', amountMinor: 12_345 },
        );
        expect(
          (await request(api).get(`/api/invoices?status=unpaid`).set(auth(staff))).body.invoices.some(
            (i: { id: string }) => i.id === invoiceId,
          ),
        ).toBe(true);

        const declined = await request(api)
          .post(`/api/invoices/${invoiceId}/payments`)
          .set(auth(patient1))
          .send({ paymentMethod: 'pm_card_declined' });
        expect(declined.status).toBe(402);
        expect(eventsOf(t, 'payment_failed').at(-1)).toMatchObject({
          reason: 'card_declined',
          amount: { minor_units: 12_345, currency: 'EUR' },
        });

        const paid = await request(api)
          .post(`/api/invoices/${invoiceId}/payments`)
          .set(auth(patient1))
          .send({ paymentMethod: 'pm_card_visa' });
        expect(paid.status).toBe(201);
        expect(eventsOf(t, 'payment_captured').at(-1)).toMatchObject({
          amount: { minor_units: 12_345, currency: 'EUR' },
        });
        expect(
          (
            await request(api)
              .post(`/api/invoices/${invoiceId}/payments`)
              .set(auth(patient1))
              .send({ paymentMethod: 'pm_card_visa' })
          ).status,
        ).toBe(409);
        // Another patient's invoice answers as a missing one (its id is not confirmed), and the
        // denial is still reported.
        const deniedBefore = eventsOf(t, 'authz_fail').length;
        const othersInvoice = await request(api)
          .post(`/api/invoices/${invoiceId}/payments`)
          .set(auth(loginPatient2))
          .send({ paymentMethod: 'pm_card_visa' });
        const madeUp = await request(api)
          .post('/api/invoices/0f8fad5b-d9cb-469f-a165-70867728950e/payments')
          .set(auth(loginPatient2))
          .send({ paymentMethod: 'pm_card_visa' });
        expect([othersInvoice.status, othersInvoice.body]).toEqual([madeUp.status, madeUp.body]);
        expect(othersInvoice.status).toBe(404);
        expect(
          eventsOf(t, 'authz_fail')
            .slice(deniedBefore)
            .map((e) => e.reason),
        ).toEqual(['not_owner']);
        for (const path of [`/api/invoices/${invoiceId}`]) {
          const r = await request(api).get(path).set(auth(loginPatient2));
          expect(r.status).toBe(404);
        }

        const paymentId = paid.body.id as string;
        expect(
          (
            await request(api)
              .post(`/api/payments/${paymentId}/refunds`)
              .set(auth(staff))
              .send({ reason: 'duplicate' })
          ).status,
        ).toBe(403);
        const part = await request(api)
          .post(`/api/payments/${paymentId}/refunds`)
          .set(auth(admin))
          .send({ amountMinor: 345, reason: 'service_issue' });
        expect(part.status).toBe(201);
        expect(part.body.paymentStatus).toBe('partially_refunded');
        const tooMuch = await request(api)
          .post(`/api/payments/${paymentId}/refunds`)
          .set(auth(admin))
          .send({ amountMinor: 20_000, reason: 'service_issue' });
        expect(tooMuch.status).toBe(400);
        const rest = await request(api)
          .post(`/api/payments/${paymentId}/refunds`)
          .set(auth(admin))
          .send({ reason: 'customer_request' });
        expect(rest.body).toMatchObject({ amountMinor: 12_000, paymentStatus: 'refunded' });
        expect(
          (
            await request(api)
              .post(`/api/payments/${paymentId}/refunds`)
              .set(auth(admin))
              .send({ reason: 'customer_request' })
          ).status,
        ).toBe(409);
        const refunds = eventsOf(t, 'payment_refunded')
          .slice(-2)
          .map((e) => [e.reason, (e.amount as { minor_units: number }).minor_units]);
        expect(refunds).toEqual([
          ['service_issue', 345],
          ['customer_request', 12_000],
        ]);
        expect((await request(api).get(`/api/invoices/${invoiceId}`).set(auth(staff))).body.status).toBe(
          'refunded',
        );
      });

      it('captures an invoice once when two payments race', async () => {
        const inv = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p1, amountMinor: 500, currency: 'USD' });
        const before = eventsOf(t, 'payment_captured').length;
        const results = await Promise.all(
          [0, 1, 2].map(() =>
            request(api)
              .post(`/api/invoices/${inv.body.id}/payments`)
              .set(auth(patient1))
              .send({ paymentMethod: 'pm_card_visa' }),
          ),
        );
        expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
        expect(eventsOf(t, 'payment_captured').length).toBe(before + 1);
        const { rows } = await t.service.database.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM payments WHERE invoice_id = $1 AND status = 'captured'`,
          [inv.body.id],
        );
        expect(Number(rows[0]!.n)).toBe(1);
      });

      it('voids an unpaid invoice when its order is cancelled, and refuses to cancel a paid order', async () => {
        const invoicedOrder = async () => {
          const orderId = await newOrder();
          const inv = await request(api)
            .post('/api/invoices')
            .set(auth(staff))
            .send({ patientId: p2, orderId })
            .expect(201);
          return { orderId, invoiceId: inv.body.id as string };
        };
        const invoiceStatus = async (id: string) =>
          (await request(api).get(`/api/invoices/${id}`).set(auth(staff))).body.status as string;
        const orderStatus = async (id: string) =>
          (await request(api).get(`/api/orders/${id}`).set(auth(staff))).body.status as string;

        // Unpaid: cancelled with its order, and no longer payable.
        const a = await invoicedOrder();
        const markA = t.events.length;
        const cancel = await request(api)
          .patch(`/api/orders/${a.orderId}`)
          .set(auth(staff))
          .send({ status: 'cancelled' });
        expect(cancel.status).toBe(200);
        expect(cancel.body).toEqual({ id: a.orderId, status: 'cancelled', voidedInvoiceIds: [a.invoiceId] });
        expect(await invoiceStatus(a.invoiceId)).toBe('void');
        expect(lifecycleSince(markA)).toEqual([
          ['order_updated', 'cancelled', ref('order', a.orderId)],
          ['invoice_voided', 'order_cancelled', ref('invoice', a.invoiceId)],
        ]);
        const pay = await request(api)
          .post(`/api/invoices/${a.invoiceId}/payments`)
          .set(auth(staff))
          .send({ paymentMethod: 'pm_card_visa' });
        expect(pay.status).toBe(409);
        expect(pay.body.error.code).toBe('invoice_not_unpaid');

        // Paid: the order stays open and its invoice paid until the payment is refunded.
        const b = await invoicedOrder();
        await request(api)
          .post(`/api/invoices/${b.invoiceId}/payments`)
          .set(auth(staff))
          .send({ paymentMethod: 'pm_card_visa' })
          .expect(201);
        const markB = t.events.length;
        const refused = await request(api)
          .patch(`/api/orders/${b.orderId}`)
          .set(auth(staff))
          .send({ status: 'cancelled' });
        expect(refused.status).toBe(409);
        expect(refused.body.error.code).toBe('order_paid');
        expect([await orderStatus(b.orderId), await invoiceStatus(b.invoiceId)]).toEqual(['open', 'paid']);
        expect(lifecycleSince(markB)).toEqual([]);

        // Fulfilling leaves the invoice as it is.
        const c = await invoicedOrder();
        const markC = t.events.length;
        expect(
          (
            await request(api)
              .patch(`/api/orders/${c.orderId}`)
              .set(auth(staff))
              .send({ status: 'fulfilled' })
          ).body,
        ).toEqual({ id: c.orderId, status: 'fulfilled' });
        expect(await invoiceStatus(c.invoiceId)).toBe('unpaid');
        expect(lifecycleSince(markC)).toEqual([['order_updated', 'fulfilled', ref('order', c.orderId)]]);

        // A cancellation racing a capture: exactly one wins, and the end state is consistent.
        for (let i = 0; i < 3; i += 1) {
          const d = await invoicedOrder();
          const markD = t.events.length;
          const [cancelled, paid] = await Promise.all([
            request(api).patch(`/api/orders/${d.orderId}`).set(auth(staff)).send({ status: 'cancelled' }),
            request(api)
              .post(`/api/invoices/${d.invoiceId}/payments`)
              .set(auth(staff))
              .send({ paymentMethod: 'pm_card_visa' }),
          ]);
          expect([cancelled.status, paid.status]).toEqual(cancelled.status === 200 ? [200, 409] : [409, 201]);
          const end = [await orderStatus(d.orderId), await invoiceStatus(d.invoiceId)];
          expect(end).toEqual(cancelled.status === 200 ? ['cancelled', 'void'] : ['open', 'paid']);
          expect(lifecycleSince(markD)).toEqual(
            cancelled.status === 200
              ? [
                  ['order_updated', 'cancelled', ref('order', d.orderId)],
                  ['invoice_voided', 'order_cancelled', ref('invoice', d.invoiceId)],
                ]
              : [],
          );
        }
      });

      it('invoices an order for its total', async () => {
        const orderId = await newOrder([{ sku: 'LAB-PANEL', quantity: 3, unitPriceMinor: 700 }]);
        const mark = t.events.length;
        const inv = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p2, orderId });
        expect(inv.status).toBe(201);
        expect(inv.body).toMatchObject({ amountMinor: 2100, currency: 'GBP' });
        expect(lifecycleSince(mark)).toEqual([['invoice_issued', 'order', ref('invoice', inv.body.id)]]);
        expect(
          (await request(api).post('/api/invoices').set(auth(staff)).send({ patientId: p2 })).status,
        ).toBe(400);
        expect(
          (await request(api).post('/api/invoices').set(auth(staff)).send({ patientId: p1, orderId })).status,
        ).toBe(404);
        // Once per order: again, or racing, is 409.
        const again = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p2, orderId });
        expect(again.status).toBe(409);
        expect(again.body.error.code).toBe('order_invoiced');
        const raced = await newOrder([{ sku: 'LAB-PANEL', quantity: 1, unitPriceMinor: 500 }]);
        const racing = await Promise.all(
          Array.from({ length: 4 }, () =>
            request(api).post('/api/invoices').set(auth(staff)).send({ patientId: p2, orderId: raced }),
          ),
        );
        expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
        // Issued once, and only the issued one reported (nothing for the refused ones).
        const won = racing.find((r) => r.status === 201)!.body.id as string;
        expect(lifecycleSince(mark)).toEqual([
          ['invoice_issued', 'order', ref('invoice', inv.body.id)],
          ['invoice_issued', 'order', ref('invoice', won)],
        ]);
        // The order's own amount and currency, or none.
        const other = await newOrder([{ sku: 'LAB-PANEL', quantity: 2, unitPriceMinor: 500 }]);
        const wrongAmount = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p2, orderId: other, amountMinor: 1 });
        expect(wrongAmount.status).toBe(400);
        expect(wrongAmount.body.error.fields).toEqual([
          { path: 'body.amountMinor', message: 'must match the order total' },
        ]);
        // Not a cancelled order.
        await request(api)
          .patch(`/api/orders/${other}`)
          .set(auth(staff))
          .send({ status: 'cancelled' })
          .expect(200);
        const cancelled = await request(api)
          .post('/api/invoices')
          .set(auth(staff))
          .send({ patientId: p2, orderId: other });
        expect(cancelled.status).toBe(409);
        expect(cancelled.body.error.code).toBe('order_cancelled');
        // An order's total must fit an invoice.
        const huge = await request(api)
          .post('/api/orders')
          .set(auth(staff))
          .send({
            patientId: p2,
            currency: 'GBP',
            items: Array.from({ length: 20 }, () => ({
              sku: 'LAB-PANEL',
              quantity: 100,
              unitPriceMinor: 10_000_000,
            })),
          });
        expect(huge.status).toBe(400);
        expect(huge.body.error.fields).toEqual([
          { path: 'body.items', message: 'total must be at most 10000000000' },
        ]);
      });
    });

    describe('instrumentation', () => {
      it('exports RED metrics by route template and event counters on the metrics port', async () => {
        const res = await request(t.service.metricsUrl!.replace(/\/metrics$/, '')).get('/metrics');
        expect(res.status).toBe(200);
        expect(res.text).toMatch(/telehealth_http_requests_total\{[^}]*route="\/api\/patients\/:id"/);
        expect(res.text).not.toContain(p1);
        // Tracing's sampling counter exists only where the tracing preload runs (not in these tests).
        expect(res.text).not.toContain('trace_sampling_decisions_total');
        expect(
          await metricValue(t, 'telehealth_events_total', { event_type: 'authz_fail' }),
        ).toBeGreaterThanOrEqual(3);
        expect(await metricValue(t, 'telehealth_db_pool_connections', {})).toBeGreaterThanOrEqual(1);
      });

      it('refreshes the business gauges from the database', async () => {
        await t.service.collector.refreshGauges();
        const { rows } = await t.service.database.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM orders WHERE status = 'open'`,
        );
        expect(await metricValue(t, 'telehealth_orders_open')).toBe(Number(rows[0]!.n));
        expect(await metricValue(t, 'telehealth_orders_open')).toBeGreaterThan(0);
      });

      it('stores the events in the audit table and the collector refused none', async () => {
        await t.service.collector.flush();
        const { rows } = await t.service.database.query<{ n: string }>(
          `SELECT count(*) AS n FROM audit_events`,
        );
        expect(Number(rows[0]!.n)).toBe(t.events.length);
        expect(t.service.rejectedEvents()).toBe(0);
      });
    });
  });
}
