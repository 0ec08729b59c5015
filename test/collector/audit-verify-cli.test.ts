/** `npm run audit:verify` (scripts/audit-verify.ts): exit codes, head hash output, anchors. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CHAIN_HEAD_FILE } from '../../collector';
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

async function verify(
  args: string[] = [],
  url = tdb.url,
  env: Record<string, string> = {},
): Promise<{ code: number; out: Record<string, unknown> }> {
  const parsed = (stdout: string) =>
    (stdout.trim() === '' ? {} : JSON.parse(stdout.trim())) as Record<string, unknown>;
  try {
    const { COLLECTOR_SPOOL_DIR: _unset, ...base } = process.env;
    const r = await run(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
      env: { ...base, DATABASE_URL: url, ...env },
      timeout: 60_000,
    });
    return { code: 0, out: parsed(r.stdout) };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: parsed(e.stdout) };
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

it('anchors on the head a collector stored, so a deleted tail or an emptied table is reported', async () => {
  const other = await createTestDatabase('cli_anchor');
  const odb = await openDatabase({ url: other.url });
  const dir = mkdtempSync(path.join(tmpdir(), 'head-dir-'));
  try {
    const { collector, close } = quietCollector(odb, 'spool-cli-anchor');
    for (let i = 0; i < 10; i++) collector.record(makeEvent('phi_access'));
    await collector.flush();
    expect((await collector.verifyChain({ full: true })).ok).toBe(true);
    writeFileSync(path.join(dir, CHAIN_HEAD_FILE), JSON.stringify(collector.chainHead()));
    await close();
    const at = (args: string[], env: Record<string, string> = {}) => verify(args, other.url, env);

    expect(await at(['--head-dir', dir])).toMatchObject({
      code: 0,
      out: { ok: true, anchor: { seq: 10, source: 'head_file' } },
    });
    await odb.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = 'replica'");
      await tx.query('DELETE FROM audit_events WHERE seq > 7');
    });
    // Unanchored, a shorter log verifies (and says it had no anchor); anchored, it does not.
    expect(await at([])).toMatchObject({ code: 0, out: { ok: true, verified: 7, anchor: null } });
    const tail = { code: 2, out: { ok: false, broken: { seq: 10, kind: 'anchor_mismatch' } } };
    expect(await at(['--head-dir', dir])).toMatchObject(tail);
    expect(await at([], { COLLECTOR_SPOOL_DIR: dir })).toMatchObject(tail);
    await odb.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = 'replica'");
      await tx.query('DELETE FROM audit_events');
    });
    expect(await at(['--head-dir', dir])).toMatchObject(tail);
    // A folder named on the command line must hold a head.
    expect((await at(['--head-dir', tmpdir()])).code).toBe(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await odb.close();
    await other.drop();
  }
}, 120_000);
