/**
 * The generated routing, live: a real Alertmanager 0.25 with the test variant of the shipped config
 * (Events API URL pointed at the local double, its CA trusted, short timings) pages the double with
 * the right routing key, severity, summary, links and dedup_key, inhibits the warning of the same
 * family and service, sends info nowhere, resolves on the same key, and feeds the dead man's switch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import {
  createDeadmanSwitch,
  createPager,
  createPagerDutyClient,
  renderAlertmanagerConfig,
  resolveCatalogue,
  type DeadmanSwitch,
  type PagerDutyClient,
} from '../../alerts';
import { startPagerDutyDouble, type PagerDutyDouble } from '../support/pagerduty-double';

const HIGH = 'HIGHURGENCYKEY0123456789abcdefAB';
const LOW = 'LOWURGENCYKEY0123456789abcdefABC';
const DEADMAN_TOKEN = 'deadman-test-token';

let dir: string;
let pd: PagerDutyDouble;
let am: ChildProcess;
let amUrl: string;
let deadman: DeadmanSwitch;
let deadmanClient: PagerDutyClient;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function alert(labels: Record<string, string>, annotations: Record<string, string> = {}, endsAt?: string) {
  return {
    labels,
    annotations,
    startsAt: new Date(Date.now() - 1000).toISOString(),
    ...(endsAt ? { endsAt } : {}),
  };
}

async function post(alerts: unknown[]): Promise<void> {
  const res = await fetch(`${amUrl}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  expect(res.status).toBe(200);
}

const catalogue = resolveCatalogue();
const byName = (name: string) => catalogue.find((a) => a.name === name)!;
function labelsOf(name: string, extra: Record<string, string> = {}) {
  const a = byName(name);
  return { alertname: a.name, ...a.labels, service: 'telehealth-api', ...extra };
}
function annotationsOf(name: string) {
  const a = byName(name);
  return {
    summary: `${a.name} test summary`,
    description: 'test',
    runbook_url: a.runbookUrl,
    dashboard_url: a.annotations.dashboard_url!,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'am-pd-'));
  pd = await startPagerDutyDouble();
  writeFileSync(join(dir, 'high.key'), `${HIGH}\n`);
  writeFileSync(join(dir, 'low.key'), `${LOW}\n`);
  writeFileSync(join(dir, 'deadman.token'), `${DEADMAN_TOKEN}\n`);
  deadmanClient = createPagerDutyClient({ server: pd.server, ca: pd.ca });
  deadman = createDeadmanSwitch({
    pager: createPager({ client: deadmanClient, routingKey: HIGH, source: 'telehealth-deadman' }),
    timeoutSeconds: 3600,
    checkSchedule: '0 0 1 1 *',
    token: DEADMAN_TOKEN,
    registry: new Registry(),
  });
  const { webhookUrl } = await deadman.listen({ webhookPort: 0, metricsPort: 0 });
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    renderAlertmanagerConfig(catalogue, {
      pagerDutyUrl: pd.url,
      pagerDutyTls: { caFile: pd.caFile },
      routingKeyFiles: { high: join(dir, 'high.key'), low: join(dir, 'low.key') },
      deadmanUrl: webhookUrl,
      deadmanCredentialsFile: join(dir, 'deadman.token'),
      timings: {
        groupWait: '1s',
        groupInterval: '2s',
        repeatInterval: '1h',
        watchdogGroupInterval: '1s',
        watchdogRepeatInterval: '2s',
      },
    }),
  );
  const port = await freePort();
  amUrl = `http://127.0.0.1:${port}`;
  am = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  am.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  await until(
    async () => ((await fetch(`${amUrl}/-/ready`)).ok ? true : undefined),
    15_000,
    `alertmanager ready (${log})`,
  );
}, 30_000);

afterAll(async () => {
  if (am && am.exitCode === null) {
    const exited = new Promise((r) => am.once('exit', r));
    am.kill('SIGTERM');
    await exited;
  }
  await deadman?.close();
  deadmanClient?.close();
  await pd?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('critical -> high-urgency key with summary, runbook link and a stable dedup_key; resolve on the same key', async () => {
  await post([alert(labelsOf('HighErrorRate', { job: 'telehealth-api' }), annotationsOf('HighErrorRate'))]);
  const t = await pd.waitForEvent(
    (e) => e.event_action === 'trigger' && e.payload?.class === 'HighErrorRate',
    15_000,
  );
  expect(t.routing_key).toBe(HIGH);
  expect(t.payload).toMatchObject({
    severity: 'critical',
    summary: 'HighErrorRate test summary',
    source: 'telehealth-api',
    group: 'errors',
  });
  expect(t.links).toEqual(
    expect.arrayContaining([{ href: byName('HighErrorRate').runbookUrl, text: 'Runbook' }]),
  );
  expect(t.payload!.custom_details).toMatchObject({
    runbook_url: byName('HighErrorRate').runbookUrl,
    family: 'errors',
  });
  expect(t.dedup_key).toMatch(/^[0-9a-f]{64}$/);

  await post([
    alert(
      labelsOf('HighErrorRate', { job: 'telehealth-api' }),
      annotationsOf('HighErrorRate'),
      new Date(Date.now() - 500).toISOString(),
    ),
  ]);
  const r = await pd.waitForEvent((e) => e.event_action === 'resolve' && e.dedup_key === t.dedup_key, 15_000);
  expect(r.routing_key).toBe(HIGH);
}, 40_000);

test("an environment's label prefixes the page's summary and is in its details (staging is told apart)", async () => {
  await post([
    alert(
      labelsOf('DependencyDown', { job: 'telehealth-api', dependency: 'database', environment: 'staging' }),
      annotationsOf('DependencyDown'),
    ),
  ]);
  const t = await pd.waitForEvent(
    (e) => e.event_action === 'trigger' && e.payload?.class === 'DependencyDown',
    15_000,
  );
  expect(t.payload!.summary).toBe('[staging] DependencyDown test summary');
  expect(t.payload!.custom_details).toMatchObject({ environment: 'staging' });
}, 30_000);

test('a critical alert inhibits the warning of its family and service; another family still pages low urgency', async () => {
  const critical = alert(
    labelsOf('AvailabilityErrorBudgetBurn', { long_window: '1h', short_window: '5m', job: 'telehealth-api' }),
    annotationsOf('AvailabilityErrorBudgetBurn'),
  );
  const ticket = alert(
    {
      ...labelsOf('AvailabilityErrorBudgetBurn', {
        long_window: '1d',
        short_window: '2h',
        job: 'telehealth-api',
      }),
      severity: 'warning',
    },
    annotationsOf('AvailabilityErrorBudgetBurn'),
  );
  const otherFamily = alert(
    labelsOf('HighLatencyP95', { job: 'telehealth-api' }),
    annotationsOf('HighLatencyP95'),
  );
  // The critical first: Alertmanager's inhibitor learns of alerts asynchronously, so a warning that
  // arrives in the same instant and is flushed at once could slip through (group_wait covers it in production).
  await post([critical]);
  await pd.waitForEvent(
    (e) => e.event_action === 'trigger' && e.payload?.class === 'AvailabilityErrorBudgetBurn',
    15_000,
  );
  await post([ticket, otherFamily]);
  const low = await pd.waitForEvent(
    (e) => e.event_action === 'trigger' && e.payload?.class === 'HighLatencyP95',
    15_000,
  );
  expect(low.routing_key).toBe(LOW);
  expect(low.payload!.severity).toBe('warning');
  await pd.waitForEvent(
    (e) => e.event_action === 'trigger' && e.payload?.class === 'AvailabilityErrorBudgetBurn',
    15_000,
  );

  // The warning's own route group flushes on its own schedule; the inhibition is marked then.
  const warning = await until(
    async () => {
      const res = await fetch(
        `${amUrl}/api/v2/alerts?inhibited=true&filter=alertname%3D%22AvailabilityErrorBudgetBurn%22`,
      );
      const listed = (await res.json()) as Array<{
        labels: Record<string, string>;
        status: { state: string; inhibitedBy: string[] };
      }>;
      const w = listed.find((a) => a.labels.severity === 'warning');
      return w && w.status.state === 'suppressed' ? w : undefined;
    },
    15_000,
    'the warning to be inhibited',
  );
  expect(warning.status.inhibitedBy.length).toBe(1);
  await new Promise((r) => setTimeout(r, 2500)); // a group interval: nothing may reach the low-urgency key
  expect(
    pd.events.filter((e) => e.payload?.class === 'AvailabilityErrorBudgetBurn' && e.routing_key === LOW),
  ).toHaveLength(0);
}, 40_000);

test("info goes nowhere; the Watchdog reaches the dead man's switch with its bearer token", async () => {
  const before = pd.events.length;
  await post([
    alert(labelsOf('MetricLabelOverflow', { job: 'telehealth-api' }), annotationsOf('MetricLabelOverflow')),
  ]);
  await post([alert({ alertname: 'Watchdog', ...byName('Watchdog').labels }, annotationsOf('Watchdog'))]);
  await until(async () => (deadman.state().heartbeats >= 1 ? true : undefined), 15_000, 'a heartbeat');
  await new Promise((r) => setTimeout(r, 3000));
  expect(pd.events.slice(before).filter((e) => e.payload?.class === 'MetricLabelOverflow')).toHaveLength(0);
  expect(pd.events.slice(before).filter((e) => e.payload?.class === 'Watchdog')).toHaveLength(0);
}, 40_000);

test("Alertmanager failing to deliver to PagerDuty stops the Watchdog's heartbeats, so the dead man's switch pages", async () => {
  const watchdog = alert({ alertname: 'Watchdog', ...byName('Watchdog').labels }, annotationsOf('Watchdog'));
  const failing = alert(
    labelsOf('AlertmanagerFailedToSendAlerts', {
      job: 'alertmanager',
      instance: 'alertmanager:9093',
      integration: 'pagerduty',
    }),
    annotationsOf('AlertmanagerFailedToSendAlerts'),
  );
  const heartbeats = () => deadman.state().heartbeats;
  await post([watchdog]);
  const flowing = heartbeats();
  await until(async () => (heartbeats() > flowing ? true : undefined), 15_000, 'a heartbeat');

  await post([failing, watchdog]);
  await until(
    async () => {
      const res = await fetch(`${amUrl}/api/v2/alerts?inhibited=true&filter=alertname%3D%22Watchdog%22`);
      const listed = (await res.json()) as Array<{ status: { state: string } }>;
      return listed[0]?.status.state === 'suppressed' ? true : undefined;
    },
    15_000,
    'the Watchdog to be inhibited',
  );
  const stopped = heartbeats();
  // Three repeat intervals of the Watchdog's route: none may reach the switch.
  for (let i = 0; i < 3; i++) {
    await post([watchdog]);
    await new Promise((r) => setTimeout(r, 2000));
  }
  expect(heartbeats()).toBe(stopped);

  // Another integration failing (the webhook itself) does not stop them.
  await post([{ ...failing, endsAt: new Date().toISOString() }]);
  await post([
    alert({ ...failing.labels, integration: 'webhook' }, annotationsOf('AlertmanagerFailedToSendAlerts')),
    watchdog,
  ]);
  await until(async () => (heartbeats() > stopped ? true : undefined), 15_000, 'the heartbeats to resume');
}, 60_000);
