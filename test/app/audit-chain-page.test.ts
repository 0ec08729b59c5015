/**
 * The service's collector pages PagerDuty directly when the audit chain breaks (not through
 * Prometheus), with the routing key from PAGERDUTY_ROUTING_KEY_FILE; a bad key file stops start-up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startPagerDutyDouble, type PagerDutyDouble } from '../support/pagerduty-double';
import { defaultBackend, loginAs, startTestService, type TestService } from './helpers';

const KEY = 'AUDITPAGEKEY0123456789abcdefABCD';

let pd: PagerDutyDouble;
let dir: string;
beforeAll(async () => {
  pd = await startPagerDutyDouble();
  dir = mkdtempSync(join(tmpdir(), 'audit-page-'));
  writeFileSync(join(dir, 'routing.key'), `${KEY}\n`);
  writeFileSync(join(dir, 'short.key'), 'not-a-key\n');
});
afterAll(async () => {
  await pd?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a broken audit chain pages PagerDuty straight from the service', async () => {
  const t: TestService = await startTestService(defaultBackend(), {
    env: {
      PAGERDUTY_ROUTING_KEY_FILE: join(dir, 'routing.key'),
      PAGERDUTY_SERVER: pd.server,
      PAGERDUTY_CA_FILE: pd.caFile,
    },
  });
  try {
    // Some security events in the chain: a login and a PHI read.
    const token = await loginAs(t, 'demo-patient-1');
    const me = await request(t.service.apiUrl).get('/api/auth/me').set('Authorization', `Bearer ${token}`);
    expect(me.status).toBe(200);
    await t.service.collector.flush();
    expect((await t.service.collector.verifyChain({ full: true })).ok).toBe(true);
    await t.service.database.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = 'replica'");
      await tx.query(`UPDATE audit_events SET reason = 'bad_password' WHERE seq = 1`);
    });
    expect((await t.service.collector.verifyChain({ full: true })).ok).toBe(false);
    const page = await pd.waitForEvent((e) => e.event_action === 'trigger', 15_000);
    expect(page.routing_key).toBe(KEY);
    expect(page.payload).toMatchObject({
      summary: expect.stringMatching(/^Audit log hash chain broken/),
      severity: 'critical',
      source: expect.stringMatching(/-collector$/),
    });
  } finally {
    await t.stop();
  }
}, 120_000);

test('a routing key file that holds no key stops start-up, naming the file and not its content', async () => {
  await expect(
    startTestService(defaultBackend(), {
      env: { PAGERDUTY_ROUTING_KEY_FILE: join(dir, 'short.key') },
    }),
  ).rejects.toThrow(/routing key file .*short\.key must hold one 32-character key/);
}, 60_000);
