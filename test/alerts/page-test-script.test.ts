import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startPagerDutyDouble, type PagerDutyDouble } from '../support/pagerduty-double';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const KEY = 'PAGETESTKEY0123456789abcdefABCDE';

let pd: PagerDutyDouble;
let dir: string;
beforeAll(async () => {
  pd = await startPagerDutyDouble();
  dir = mkdtempSync(join(tmpdir(), 'page-test-'));
});
afterAll(async () => {
  await pd.close();
  rmSync(dir, { recursive: true, force: true });
});

async function pageTest(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [join(ROOT, 'scripts', 'page-test.ts'), ...args], {
      cwd: ROOT,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('sends a trigger and its resolve on one dedup_key, and exits 0', async () => {
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, `${KEY}\n`);
  const r = await pageTest(['--routing-key-file', keyFile, '--server', pd.server, '--ca-file', pd.caFile]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('trigger accepted');
  expect(r.stdout).toContain('resolve accepted');
  const [t, res] = pd.events;
  expect(t).toMatchObject({ event_action: 'trigger', routing_key: KEY, payload: { severity: 'info' } });
  expect(res).toMatchObject({ event_action: 'resolve', dedup_key: t!.dedup_key });
}, 30_000);

test('a malformed key file fails with a clear message that does not echo the key', async () => {
  const keyFile = join(dir, 'bad');
  writeFileSync(keyFile, 'not-a-valid-routing-key-secretvalue-xx');
  const r = await pageTest(['--routing-key-file', keyFile, '--server', pd.server, '--ca-file', pd.caFile]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('must hold one 32-character key');
  expect(r.stderr).not.toContain('secretvalue');
}, 30_000);

test('PagerDuty refusing the event exits 1 with the status', async () => {
  const keyFile = join(dir, 'key');
  pd.script({ kind: 'status', status: 400 });
  const r = await pageTest(['--routing-key-file', keyFile, '--server', pd.server, '--ca-file', pd.caFile]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('HTTP 400');
}, 30_000);

test('without --routing-key-file it prints the usage and exits 2', async () => {
  const r = await pageTest([]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('usage: npm run page:test');
}, 30_000);
