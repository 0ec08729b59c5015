import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPagerDutyDouble, type PagerDutyDouble } from '../support/pagerduty-double';

const ROOT = join(__dirname, '..', '..');
const KEY = 'DEADMANSCRIPTKEY0123456789abcdef';

let pd: PagerDutyDouble;
let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  pd = await startPagerDutyDouble();
  dir = mkdtempSync(join(tmpdir(), 'deadman-script-'));
  writeFileSync(join(dir, 'key'), KEY);
  writeFileSync(join(dir, 'token'), 'script-token\n');
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  await pd.close();
  rmSync(dir, { recursive: true, force: true });
});

test('npm run deadman: listens, takes heartbeats, pages when they stop, exits cleanly on SIGTERM', async () => {
  child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'deadman.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      DEADMAN_ROUTING_KEY_FILE: join(dir, 'key'),
      DEADMAN_TOKEN_FILE: join(dir, 'token'),
      DEADMAN_TIMEOUT_SECONDS: '2',
      DEADMAN_CHECK_SCHEDULE: '* * * * * *',
      DEADMAN_WEBHOOK_PORT: '0',
      DEADMAN_METRICS_PORT: '0',
      PAGERDUTY_SERVER: pd.server,
      PAGERDUTY_CA_FILE: pd.caFile,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = await new Promise<{ webhook: string; metrics: string }>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('deadman listening'));
      if (line) resolve(JSON.parse(line) as { webhook: string; metrics: string });
    });
    child!.once('exit', (code) => reject(new Error(`exited ${code}`)));
  });
  const beat = await fetch(started.webhook, {
    method: 'POST',
    headers: { authorization: 'Bearer script-token' },
    body: JSON.stringify({ alerts: [{ status: 'firing', labels: { alertname: 'Watchdog' } }] }),
  });
  expect(beat.status).toBe(200);
  const page = await pd.waitForEvent((e) => e.event_action === 'trigger', 10_000);
  expect(page.routing_key).toBe(KEY);
  const metrics = await (
    await fetch(started.metrics, { headers: { authorization: 'Bearer script-token' } })
  ).text();
  expect(metrics).toContain('telehealth_deadman_heartbeats_total 1');
  expect(metrics).toContain('telehealth_pagerduty_events_total{event_action="trigger",outcome="sent"} 1');
  const code = await new Promise<number | null>((resolve) => {
    child!.once('exit', resolve);
    child!.kill('SIGTERM');
  });
  expect(code).toBe(0);
}, 30_000);

test('a missing routing key file is a clear startup error', async () => {
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const c = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'deadman.ts')], {
      cwd: ROOT,
      env: { ...process.env, DEADMAN_ROUTING_KEY_FILE: join(dir, 'missing') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    c.once('exit', (code) => resolve({ code, err }));
  });
  expect(r.code).toBe(1);
  expect(r.err).toContain('cannot read routing key file');
}, 30_000);
