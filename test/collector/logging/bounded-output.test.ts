/**
 * Bounded, non-blocking output: a stalled or slow sink costs counted drops, never unbounded
 * memory or a blocked caller, and close() returns within its deadline whatever the sink does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { createLogger, logCountersFromRegistry } from '../../../collector/logging';
import { captureTarget, stalledTarget, tick } from './capture-target';

async function dropped(registry: Registry, reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('telehealth_log_lines_dropped_total')!.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('bounded output', () => {
  test('a stalled sink: the buffer stays under its cap and the overflow is counted as buffer_full', async () => {
    const registry = new Registry();
    const target = stalledTarget();
    const cap = 256 * 1024;
    const log = createLogger({
      serviceName: 'svc',
      target,
      maxBufferBytes: cap,
      elasticsearch: false,
      counters: logCountersFromRegistry(registry),
    });
    // Zero-initialised before anything happened.
    expect(await dropped(registry, 'buffer_full')).toBe(0);
    expect(await dropped(registry, 'sink_error')).toBe(0);
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      log.info({ 'event.action': 'flood', 'telehealth.count': i }, 'flood line');
      if (i % 1000 === 0) await tick();
    }
    const stats = log.stats().sinks[0]!;
    expect(stats.bufferedBytes).toBeLessThanOrEqual(cap);
    expect(stats.peakBufferedBytes).toBeLessThanOrEqual(cap);
    expect(stats.droppedLines.buffer_full).toBeGreaterThan(total / 2);
    expect(await dropped(registry, 'buffer_full')).toBe(stats.droppedLines.buffer_full);

    const started = Date.now();
    const result = await log.close(500);
    expect(Date.now() - started).toBeLessThan(1500);
    // Everything still buffered or stuck in the target is reported lost, and the books balance.
    const after = log.stats().sinks[0]!;
    expect(result.lostLines).toBe(after.droppedLines.sink_error);
    expect(after.droppedLines.buffer_full + after.droppedLines.sink_error + after.writtenLines).toBe(total);
    expect(await dropped(registry, 'sink_error')).toBe(after.droppedLines.sink_error);
  });

  test('a working sink receives every line in order, and close() flushes the rest', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    for (let i = 0; i < 5000; i++) log.info({ 'telehealth.count': i }, 'line');
    const result = await log.close();
    expect(result.lostLines).toBe(0);
    const counts = target.lines().map((l) => l['telehealth.count']);
    expect(counts).toHaveLength(5000);
    expect(counts[4999]).toBe(4999);
    expect(counts.every((c, i) => c === i)).toBe(true);
  });

  test('lines written after close() are counted, not buffered', async () => {
    const registry = new Registry();
    const log = createLogger({
      serviceName: 'svc',
      target: captureTarget(),
      elasticsearch: false,
      counters: logCountersFromRegistry(registry),
    });
    await log.close();
    log.info({}, 'late');
    expect(await dropped(registry, 'sink_error')).toBe(1);
  });

  const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;
  (hasMkfifo ? test : test.skip)(
    'a real slow pipe: the caller never blocks, memory is capped, close() returns within 5 s',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'log-fifo-'));
      const fifo = path.join(dir, 'sink');
      spawnSync('mkfifo', [fifo]);
      // A reader that takes 4 KiB every 50 ms (~80 KiB/s): far slower than the logger.
      const reader = spawn(
        'sh',
        [
          '-c',
          `exec 3<"${fifo}"; while :; do dd bs=4096 count=1 <&3 >/dev/null 2>&1 || exit 0; sleep 0.05; done`,
        ],
        {
          stdio: 'ignore',
        },
      );
      try {
        await tick(100);
        const registry = new Registry();
        const cap = 1024 * 1024;
        const log = createLogger({
          serviceName: 'svc',
          destination: { path: fifo },
          maxBufferBytes: cap,
          elasticsearch: false,
          counters: logCountersFromRegistry(registry),
        });
        const total = 60_000;
        let worst = 0;
        for (let i = 0; i < total; i++) {
          const t0 = process.hrtime.bigint();
          log.info({ 'event.action': 'slow_sink', 'telehealth.count': i }, 'a line for a slow reader');
          const ns = Number(process.hrtime.bigint() - t0);
          if (ns > worst) worst = ns;
          if (i % 2000 === 0) await tick(5);
        }
        const stats = log.stats().sinks[0]!;
        expect(stats.peakBufferedBytes).toBeLessThanOrEqual(cap);
        expect(stats.droppedLines.buffer_full).toBeGreaterThan(0);
        // No call waited on the pipe: one blocking 1 MiB write to this reader would take ~12 s.
        // (The bound is loose because a GC pause or a busy CI core also shows up here.)
        expect(worst).toBeLessThan(500_000_000);
        const started = Date.now();
        await log.close(2000);
        expect(Date.now() - started).toBeLessThan(5000);
        const after = log.stats().sinks[0]!;
        expect(after.droppedLines.buffer_full + after.droppedLines.sink_error + after.writtenLines).toBe(
          total,
        );
      } finally {
        reader.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
