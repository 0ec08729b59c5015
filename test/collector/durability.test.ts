/**
 * Durability under failure: PostgreSQL stopped for 30 s during 500 events/s, and kill -9 of a
 * collector process mid-ingest. Every accepted event must end up stored exactly once.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createCollector } from '../../collector/collector';
import { openDatabase, type Database } from '../../collector/database';
import { sha256Hex } from '../../collector/source-auth';
import { createTelemetry } from '../../exporter';
import { createTestDatabase } from '../support/postgres';
import { makeEvent, tempDir } from './helpers';
import { createCluster } from './throwaway-cluster';

const NO_JOBS = { verify: false, verifyFull: false, gauges: false } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function idCounts(db: Database, ids: string[]): Promise<{ rows: number; distinct: number }> {
  const r = await db.query<{ rows: string; distinct: string }>(
    `SELECT count(*) AS rows, count(DISTINCT event_id) AS distinct FROM audit_events WHERE event_id = ANY($1::uuid[])`,
    [ids],
  );
  return { rows: Number(r.rows[0]?.rows), distinct: Number(r.rows[0]?.distinct) };
}

describe('PostgreSQL outage', () => {
  jest.setTimeout(150_000);

  it('loses and duplicates nothing when PostgreSQL stops for 30 s during 500 events/s', async () => {
    const cluster = await createCluster();
    const tmp = tempDir('spool-outage');
    const db = await openDatabase({ url: cluster.url, connectionTimeoutMillis: 1000, poolMax: 4 });
    const telemetry = createTelemetry({ defaultMetrics: false });
    const collector = createCollector({
      telemetry,
      database: db,
      spoolDir: tmp.dir,
      schedule: NO_JOBS,
      retryMaxMs: 1000,
    });
    try {
      const ids: string[] = [];
      let refused = 0;
      const produce = async (ms: number) => {
        // 5 events every 10 ms = 500 events/s, paced against the clock.
        const start = Date.now();
        let sent = 0;
        while (Date.now() - start < ms) {
          const due = Math.floor(((Date.now() - start) / 1000) * 500);
          while (sent < due) {
            const e = makeEvent(sent % 3 ? 'authn_login_fail' : 'payment_captured');
            if (collector.record(e).accepted) ids.push(e.event_id);
            else refused += 1;
            sent += 1;
          }
          await sleep(10);
        }
      };
      await produce(3000);
      cluster.stop();
      await produce(30_000);
      const duringOutage = collector.stats();
      expect(duringOutage.storeHealthy).toBe(false);
      expect(duringOutage.spoolBytes).toBeGreaterThan(10_000 * 300);
      cluster.start();
      await produce(3000);
      await collector.flush({ timeoutMs: 60_000 });
      expect(refused).toBe(0);
      expect(ids.length).toBeGreaterThan(17_000);
      expect(await idCounts(db, ids)).toEqual({ rows: ids.length, distinct: ids.length });
      const total = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events');
      expect(Number(total.rows[0]?.n)).toBe(ids.length);
      // Backlog drained: nothing in memory, spool down to at most the open segment.
      expect(collector.stats()).toMatchObject({ inMemory: 0, spilled: false, storeHealthy: true });
      expect((await collector.verifyChain({ full: true })).ok).toBe(true);
      const text = await telemetry.render();
      expect(text).toMatch(/telehealth_collector_store_errors_total [1-9]/);
      expect(text).toContain(
        'telehealth_collector_events_dropped_total{event_class="security",reason="spool_full"} 0',
      );
    } finally {
      await collector.close();
      await db.close();
      cluster.destroy();
      tmp.remove();
    }
  });
});

describe('kill -9 of the collector process', () => {
  jest.setTimeout(150_000);

  const API_KEY = 'kill9-test-api-key-0123456789abcdef';

  /** Resolves when the child has exited (a signalled child keeps exitCode null: check both). */
  function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => child.once('exit', () => r()));
  }

  function startChild(
    env: Record<string, string>,
  ): Promise<{ child: ChildProcessWithoutNullStreams; port: number }> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '../../scripts/collector.ts')],
      {
        env: { ...process.env, ...env },
      },
    );
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`collector did not start: ${out}`)), 60_000);
      let ready = false;
      child.stdout.on('data', (d: Buffer) => {
        // After the ready line the child logs one ECS line per stored event: read and discard.
        if (ready) return;
        out += d.toString();
        const m = /"msg":"collector listening","port":(\d+)/.exec(out);
        if (m) {
          ready = true;
          out = '';
          clearTimeout(timer);
          resolve({ child, port: Number(m[1]) });
        }
      });
      child.stderr.on('data', (d: Buffer) => {
        if (out.length < 100_000) out += d.toString();
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`collector exited: ${out}`));
      });
    });
  }

  it('stores every acknowledged event after kill -9 and restart', async () => {
    const tdb = await createTestDatabase('kill9');
    const tmp = tempDir('spool-kill9');
    const sourcesFile = path.join(tmp.dir, 'sources.json');
    writeFileSync(sourcesFile, JSON.stringify([{ id: 'app', apiKeySha256: sha256Hex(API_KEY) }]));
    const env = {
      DATABASE_URL: tdb.url,
      COLLECTOR_SPOOL_DIR: path.join(tmp.dir, 'spool'),
      COLLECTOR_SOURCES_FILE: sourcesFile,
      COLLECTOR_PORT: '0',
      COLLECTOR_METRICS_PORT: '0',
    };
    const db = await openDatabase({ url: tdb.url });
    let child: ChildProcessWithoutNullStreams | null = null;
    try {
      const first = await startChild(env);
      child = first.child;
      const acked: string[] = [];
      let killed = false;
      const sender = async () => {
        while (!killed) {
          const batch = Array.from({ length: 100 }, () => makeEvent('phi_access'));
          try {
            const r = await fetch(`http://127.0.0.1:${first.port}/v1/events`, {
              method: 'POST',
              headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
              body: JSON.stringify(batch),
            });
            if (r.status === 202) acked.push(...batch.map((e) => e.event_id));
          } catch {
            // The process died under this request: not acknowledged, nothing to check.
          }
        }
      };
      const senders = Array.from({ length: 8 }, sender);
      while (acked.length < 5000) await sleep(20);
      first.child.kill('SIGKILL');
      killed = true;
      await Promise.all(senders);
      await exited(first.child);
      const storedBeforeRestart = (await idCounts(db, acked)).rows;
      const second = await startChild(env);
      child = second.child;
      const deadline = Date.now() + 60_000;
      let counts = await idCounts(db, acked);
      while (counts.rows < acked.length && Date.now() < deadline) {
        await sleep(200);
        counts = await idCounts(db, acked);
      }
      expect(counts).toEqual({ rows: acked.length, distinct: acked.length });
      // Some acknowledged events were only in the spool when the process died.
      expect(storedBeforeRestart).toBeLessThanOrEqual(acked.length);
      const verify = createCollector({
        telemetry: createTelemetry({ defaultMetrics: false }),
        database: db,
        spoolDir: path.join(tmp.dir, 'verify-spool'),
        schedule: NO_JOBS,
        migrate: false,
      });
      expect((await verify.verifyChain({ full: true })).ok).toBe(true);
      await verify.close();
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) {
        const done = exited(child);
        child.kill('SIGTERM');
        await done;
      }
      await db.close();
      await tdb.drop();
      tmp.remove();
    }
  });
});
