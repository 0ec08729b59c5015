import { Registry } from 'prom-client';
import {
  createDeadmanSwitch,
  createPager,
  createPagerDutyClient,
  DEADMAN_DEDUP_KEY,
  type DeadmanSwitch,
  type PagerDutyClient,
} from '../../alerts';
import { startPagerDutyDouble, type PagerDutyDouble } from '../support/pagerduty-double';

const KEY = 'DEADMANKEY0123456789abcdefABCDEF';
const TOKEN = 'test-webhook-token';

let pd: PagerDutyDouble;
let client: PagerDutyClient;
let sw: DeadmanSwitch | undefined;
let clock = 1_000_000;

const watchdog = (status = 'firing') =>
  JSON.stringify({
    version: '4',
    status,
    receiver: 'deadman',
    alerts: [{ status, labels: { alertname: 'Watchdog', severity: 'info' } }],
  });

async function start(opts: { timeoutSeconds?: number; checkSchedule?: string; realClock?: boolean } = {}) {
  sw = createDeadmanSwitch({
    pager: createPager({ client, routingKey: KEY, source: 'telehealth-deadman', severity: 'critical' }),
    timeoutSeconds: opts.timeoutSeconds ?? 60,
    checkSchedule: opts.checkSchedule ?? '0 0 1 1 *',
    token: TOKEN,
    registry: new Registry(),
    ...(opts.realClock ? {} : { now: () => clock }),
  });
  return sw.listen({ webhookPort: 0, metricsPort: 0 });
}

function beat(url: string, body = watchdog(), token = TOKEN) {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
}

beforeEach(async () => {
  pd = await startPagerDutyDouble();
  client = createPagerDutyClient({
    server: pd.server,
    ca: pd.ca,
    attemptTimeoutMs: 1000,
    maxAttempts: 2,
    backoffBaseMs: 10,
  });
  clock = 1_000_000;
});
afterEach(async () => {
  await sw?.close();
  sw = undefined;
  client.close();
  await pd.close();
});

test('heartbeats keep it quiet; silence past the timeout pages once; a heartbeat resolves the same incident', async () => {
  const { webhookUrl, metricsUrl } = await start();
  expect((await beat(webhookUrl)).status).toBe(200);
  clock += 59_000;
  await sw!.check();
  expect(pd.events).toHaveLength(0);

  clock += 2_000; // 61 s since the last heartbeat
  await sw!.check();
  await sw!.check();
  expect(pd.events.map((e) => e.event_action)).toEqual(['trigger']);
  expect(pd.events[0]).toMatchObject({
    dedup_key: DEADMAN_DEDUP_KEY,
    payload: { severity: 'critical', source: 'telehealth-deadman' },
  });
  expect(pd.events[0]!.payload!.summary).toMatch(/No Watchdog heartbeat from Alertmanager for 61 s/);
  const metrics = await (await fetch(metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  expect(metrics).toMatch(/telehealth_deadman_triggered 1/);
  expect(metrics).toMatch(/telehealth_deadman_heartbeats_total 1/);

  expect((await beat(webhookUrl)).status).toBe(200);
  const resolved = await pd.waitForEvent((e) => e.event_action === 'resolve', 3000);
  expect(resolved.dedup_key).toBe(DEADMAN_DEDUP_KEY);
  await sw!.check(); // joins the check the heartbeat started
  expect(sw!.state().triggered).toBe(false);
  expect(pd.events.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
});

test('no heartbeat ever: the grace period counts from start-up', async () => {
  await start({ timeoutSeconds: 30 });
  clock += 29_000;
  await sw!.check();
  expect(pd.events).toHaveLength(0);
  clock += 2_000;
  await sw!.check();
  expect(pd.events[0]!.payload!.custom_details).toMatchObject({ last_heartbeat: 'none since start' });
});

test('a failed page is retried at the next check instead of being forgotten', async () => {
  await start({ timeoutSeconds: 10 });
  pd.script(...Array.from({ length: 2 }, () => ({ kind: 'status' as const, status: 503 })));
  clock += 11_000;
  await sw!.check();
  expect(sw!.state().triggered).toBe(false);
  expect(pd.events).toHaveLength(0);
  await sw!.check();
  expect(sw!.state().triggered).toBe(true);
  expect(pd.events).toHaveLength(1);
});

test('the webhook refuses a wrong token, non-JSON and bodies without a firing Watchdog', async () => {
  const { webhookUrl, metricsUrl } = await start();
  expect((await beat(webhookUrl, watchdog(), 'wrong')).status).toBe(401);
  expect((await beat(webhookUrl, 'nope')).status).toBe(400);
  expect((await beat(webhookUrl, watchdog('resolved'))).status).toBe(400);
  const other = JSON.stringify({ alerts: [{ status: 'firing', labels: { alertname: 'HighErrorRate' } }] });
  expect((await beat(webhookUrl, other)).status).toBe(400);
  expect((await fetch(metricsUrl)).status).toBe(401);
  expect(sw!.state().heartbeats).toBe(0);
});

test('the node-cron schedule runs the check by itself', async () => {
  await start({ timeoutSeconds: 1, checkSchedule: '* * * * * *', realClock: true });
  const page = await pd.waitForEvent((e) => e.event_action === 'trigger', 5000);
  expect(page.dedup_key).toBe(DEADMAN_DEDUP_KEY);
}, 10_000);

test("/metrics can take its own token (Prometheus' metrics token, not Alertmanager's webhook token)", async () => {
  sw = createDeadmanSwitch({
    pager: createPager({ client, routingKey: KEY, source: 'x' }),
    timeoutSeconds: 60,
    checkSchedule: '0 0 1 1 *',
    token: TOKEN,
    metricsToken: 'metrics-token',
  });
  const { metricsUrl } = await sw.listen({ webhookPort: 0, metricsPort: 0 });
  expect((await fetch(metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
  expect((await fetch(metricsUrl, { headers: { authorization: 'Bearer metrics-token' } })).status).toBe(200);
});

test('configuration errors are reported, not crashed on later', () => {
  const pager = createPager({ client, routingKey: KEY, source: 'x' });
  expect(() => createDeadmanSwitch({ pager, timeoutSeconds: 0 })).toThrow('timeoutSeconds');
  expect(() => createDeadmanSwitch({ pager, timeoutSeconds: 5, checkSchedule: 'every minute' })).toThrow(
    'cron',
  );
});
