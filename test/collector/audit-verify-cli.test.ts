/** `npm run audit:verify` (scripts/audit-verify.ts): exit codes, head hash output, anchors. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase, type Database } from '../../collector/database';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { makeEvent, quietCollector } from './helpers';

const run = promisify(execFile);
const SCRIPT = path.join(__dirname, '../../scripts/audit-verify.ts');

let tdb: TestDatabase;
let db: Database;
beforeAll(async () => {
  tdb = await createTestDatabase('cli');
  db = await openDatabase({ url: tdb.url });
});
afterAll(async () => {
  await db.close();
  await tdb.drop();
});

async function verify(args: string[] = []): Promise<{ code: number; out: Record<string, unknown> }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
      env: { ...process.env, DATABASE_URL: tdb.url },
      timeout: 60_000,
    });
    return { code: 0, out: JSON.parse(r.stdout.trim()) as Record<string, unknown> };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: JSON.parse(e.stdout.trim()) as Record<string, unknown> };
  }
}

it('verifies the chain, prints the head for anchoring, and exits 2 on tampering', async () => {
  const { collector, close } = quietCollector(db, 'spool-cli');
  const events = Array.from({ length: 50 }, () => makeEvent('phi_access'));
  for (const e of events) collector.record(e);
  await collector.flush();
  const inProcess = await collector.verifyChain({ full: true });
  const head = collector.chainHead();
  await close();

  const ok = await verify();
  expect(ok.code).toBe(0);
  expect(ok.out).toMatchObject({ ok: true, verified: 50, head: inProcess.head, broken: null });
  expect(head.seq).toBe(50);
  const anchored = await verify(['--anchor-seq', '50', '--anchor-hash', inProcess.head.hash]);
  expect(anchored).toMatchObject({ code: 0, out: { ok: true } });
  const wrongAnchor = await verify(['--anchor-seq', '50', '--anchor-hash', 'ab'.repeat(32)]);
  expect(wrongAnchor).toMatchObject({
    code: 2,
    out: { ok: false, broken: { seq: 50, kind: 'anchor_mismatch' } },
  });

  await db.transaction(async (tx) => {
    await tx.query("SET LOCAL session_replication_role = 'replica'");
    await tx.query('DELETE FROM audit_events WHERE event_id = $1', [events[20]?.event_id]);
  });
  const broken = await verify();
  expect(broken).toMatchObject({ code: 2, out: { ok: false, broken: { seq: 22, kind: 'seq_gap' } } });
  expect((broken.out.head as { seq: number }).seq).toBe(20);
}, 120_000);
