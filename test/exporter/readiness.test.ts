import { createTelemetry } from '../../exporter';
import { express, listen, request, sampleValue } from './helpers';

async function appFor(t: ReturnType<typeof createTelemetry>) {
  const app = express();
  app.use(t.healthRouter());
  return listen(app);
}

describe('health and readiness', () => {
  it('answers liveness without calling any dependency, even when they are down', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    const check = jest.fn(async () => {
      throw new Error('db down');
    });
    t.readiness.register('database', check);
    const s = await appFor(t);
    try {
      const r = await request(s.port, '/api/health');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'ok' });
      expect(check).not.toHaveBeenCalled();
    } finally {
      await s.close();
    }
  });

  it('is ready when every check passes and sets dependency_up', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    t.readiness.register('database', async () => undefined);
    t.readiness.register('collector', async () => undefined);
    const s = await appFor(t);
    try {
      const r = await request(s.port, '/api/ready');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ status: 'ready', checks: { database: 'up', collector: 'up' } });
      expect(sampleValue(await t.render(), 'telehealth_dependency_up{dependency="database"}')).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('refreshes dependency_up on a scrape when no probe has run, and not more often than needed', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    let up = true;
    let calls = 0;
    t.readiness.register('database', async () => {
      calls++;
      if (!up) throw new Error('down');
    });
    // No probe has run: the scrape itself runs the check, so nothing reads 0 merely for want of a probe.
    expect(sampleValue(await t.render(), 'telehealth_dependency_up{dependency="database"}')).toBe(1);
    expect(calls).toBe(1);
    up = false;
    // Within the freshness window the last result stands.
    expect(sampleValue(await t.render(), 'telehealth_dependency_up{dependency="database"}')).toBe(1);
    expect(calls).toBe(1);
    // A probe refreshes it.
    await t.readiness.run();
    expect(sampleValue(await t.render(), 'telehealth_dependency_up{dependency="database"}')).toBe(0);
    expect(calls).toBe(2);
  });

  it('answers 503 naming the failing dependency, never its error text', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    t.readiness.register('database', async () => {
      throw new Error('connect ECONNREFUSED db.internal:5432 password=hunter2');
    });
    t.readiness.register('cache', () => {
      throw new Error('sync throw');
    });
    t.readiness.register('collector', async () => undefined);
    const s = await appFor(t);
    try {
      const r = await request(s.port, '/api/ready');
      expect(r.status).toBe(503);
      const body = JSON.parse(r.body);
      expect(body.status).toBe('not_ready');
      expect(body.failing.sort()).toEqual(['cache', 'database']);
      expect(body.checks.collector).toBe('up');
      expect(r.body).not.toMatch(/ECONNREFUSED|hunter2|internal|sync throw/);
      const text = await t.render();
      expect(sampleValue(text, 'telehealth_dependency_up{dependency="database"}')).toBe(0);
      expect(sampleValue(text, 'telehealth_dependency_up{dependency="collector"}')).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('times each check out on its own and runs them in parallel', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    const timers: NodeJS.Timeout[] = [];
    const hang = () => new Promise<void>((resolve) => timers.push(setTimeout(resolve, 5000)));
    // Timeouts long enough that a loaded machine's scheduling delays cannot blur one and two of them.
    t.readiness.register('slow_a', hang, { timeoutMs: 1000 });
    t.readiness.register('slow_b', hang, { timeoutMs: 1000 });
    t.readiness.register('fast', async () => undefined, { timeoutMs: 1000 });
    const s = await appFor(t);
    try {
      const started = Date.now();
      const r = await request(s.port, '/api/ready');
      const took = Date.now() - started;
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).failing).toEqual(['slow_a', 'slow_b']);
      expect(took).toBeGreaterThanOrEqual(980);
      expect(took).toBeLessThan(1900); // in parallel: about one timeout, not two (2000)
    } finally {
      timers.forEach(clearTimeout);
      await s.close();
    }
  });

  it('answers 503 while shutting down without running checks', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    const check = jest.fn(async () => undefined);
    t.readiness.register('database', check);
    const s = await appFor(t);
    try {
      expect((await request(s.port, '/api/ready')).status).toBe(200);
      t.readiness.beginShutdown();
      expect(t.readiness.isShuttingDown()).toBe(true);
      const r = await request(s.port, '/api/ready');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toEqual({ status: 'shutting_down' });
      expect(check).toHaveBeenCalledTimes(1);
      expect((await request(s.port, '/api/health')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('refuses bad and duplicate check names and bad timeouts', () => {
    const t = createTelemetry({ defaultMetrics: false });
    t.readiness.register('database', async () => undefined);
    expect(() => t.readiness.register('database', async () => undefined)).toThrow(
      expect.objectContaining({ code: 'TELEMETRY_DUPLICATE_CHECK' }),
    );
    expect(() => t.readiness.register('Bad Name', async () => undefined)).toThrow(/Bad Name/);
    expect(() => t.readiness.register('x', async () => undefined, { timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  it('shares one run between concurrent probes', async () => {
    const t = createTelemetry({ defaultMetrics: false });
    let calls = 0;
    t.readiness.register('database', async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
    });
    await Promise.all([t.readiness.run(), t.readiness.run(), t.readiness.run()]);
    expect(calls).toBe(1);
  });
});
