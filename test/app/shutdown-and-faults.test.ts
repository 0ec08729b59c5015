/**
 * The fault switch (FAULT_INJECTION=enabled only) and graceful shutdown: readiness turns 503, the
 * request in flight finishes, events are flushed to the audit store, the database is released.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { FolderInUseError, openDatabase } from '../../collector';
import { startService } from '../../app/service';
import {
  defaultBackend,
  loginAs,
  metricValue,
  startTestService,
  TEST_ENV,
  type TestService,
} from './helpers';

describe(`fault switch and graceful shutdown (${defaultBackend()})`, () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService(defaultBackend(), {
      faultInjection: true,
      env: { SHUTDOWN_DRAIN_DELAY_MS: '400' },
    });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
  }, 60_000);
  afterEach(() => {
    t.service.faults?.clear();
  });

  it('injects errors and latency while on, and stops when turned off or when it expires', async () => {
    const api = t.service.apiUrl;
    expect((await request(api).get('/api/_faults')).body).toMatchObject({ active: false });
    const bad = await request(api).post('/api/_faults').send({ errorRate: 2 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields[0].path).toBe('body.errorRate');

    await request(api).post('/api/_faults').send({ errorRate: 1, durationSeconds: 60 }).expect(200);
    const failed = await request(api).get('/api/ping');
    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('injected_fault');
    // Health and readiness are not faulted (probes must keep telling the truth).
    expect((await request(api).get('/api/health')).status).toBe(200);
    // Injected failures answer before routing: counted as 5xx of the unmatched route.
    expect(
      await metricValue(t, 'telehealth_http_requests_total', { status_code: '503' }),
    ).toBeGreaterThanOrEqual(1);
    await request(api).delete('/api/_faults').expect(200);
    expect((await request(api).get('/api/ping')).status).toBe(200);

    await request(api).post('/api/_faults').send({ latencyMs: 300, durationSeconds: 1 }).expect(200);
    const started = Date.now();
    expect((await request(api).get('/api/ping')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await new Promise((r) => setTimeout(r, 1100));
    const fast = Date.now();
    await request(api).get('/api/ping').expect(200);
    expect(Date.now() - fast).toBeLessThan(250);
  }, 30_000);

  it('refuses to start a second service on the same data folder, naming the process holding it', async () => {
    const second = startService({
      env: { ...TEST_ENV, SEED_DEMO_DATA: 'false' },
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      dataDir: t.dataDir,
      databaseUrl: t.databaseUrl,
      print: () => undefined,
    });
    await expect(second).rejects.toBeInstanceOf(FolderInUseError);
    await expect(second).rejects.toThrow(`in use by process ${process.pid}`);
    // The running one is untouched.
    expect((await request(t.service.apiUrl).get('/api/ready')).status).toBe(200);
  });

  it('closes itself when another process takes its data folder (frozen past its lease)', async () => {
    let told = 0;
    const other = await startTestService(defaultBackend(), {
      dataLease: { staleMs: 600, renewMs: 100 },
      onLeaseLost: () => (told += 1),
      env: { SEED_DEMO_DATA: 'false' },
    });
    try {
      expect((await request(other.service.apiUrl).get('/api/ready')).status).toBe(200);
      const mine = readdirSync(other.dataDir).find((n) => n.startsWith('data.lock.')) as string;
      writeFileSync(
        join(other.dataDir, `data.lock.${Number(mine.split('.').pop()) + 1}`),
        JSON.stringify({ pid: 1, host: 'other-node', token: 'theirs' }),
      );
      await new Promise((r) => setTimeout(r, 1500));
      expect(told).toBe(1);
      await expect(request(other.service.apiUrl).get('/api/health')).rejects.toThrow();
    } finally {
      await other.stop();
    }
  }, 60_000);

  it('drains on close: 503 readiness, the in-flight request completes, events are flushed', async () => {
    const api = t.service.apiUrl;
    const token = await loginAs(t, 'demo-patient-1');
    const pid = t.service.credentials!.users.find((u) => u.username === 'demo-patient-1')!.patientId!;
    await request(api).post('/api/_faults').send({ latencyMs: 1200, durationSeconds: 30 }).expect(200);
    const inFlight = request(api)
      .get(`/api/patients/${pid}`)
      .set('Authorization', `Bearer ${token}`)
      .then((r) => r);
    await new Promise((r) => setTimeout(r, 150));
    const closing = t.service.close();
    const ready = await request(api).get('/api/ready');
    expect(ready.status).toBe(503);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(pid);
    await closing;
    // The listener is gone.
    await expect(request(api).get('/api/health')).rejects.toThrow();
    // The data folder's lease is given back.
    expect(readdirSync(t.dataDir).filter((n) => n.startsWith('data.lock.'))).toEqual([]);

    // Every event reported (including the last PHI read) reached the audit store.
    const db = await openDatabase(
      t.databaseUrl ? { url: t.databaseUrl } : { dataDir: join(t.dataDir, 'pglite') },
    );
    try {
      const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_events`);
      expect(Number(rows[0]!.n)).toBe(t.events.length);
      expect(t.events.at(-1)).toMatchObject({ event_type: 'phi_access' });
    } finally {
      await db.close();
    }
  }, 60_000);
});
