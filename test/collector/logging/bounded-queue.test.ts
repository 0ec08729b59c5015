/**
 * The queue's batching: small batches wait `lingerMs` for more lines (one write instead of one per
 * event-loop turn), a full batch goes at once, and close() does not wait for the linger.
 */
import { BoundedQueue } from '../../../collector/logging/bounded-queue';
import type { LogTarget } from '../../../collector/logging/log-target';

function recordingTarget(): LogTarget & { writes: Array<{ at: number; lines: number; chunk: string }> } {
  const writes: Array<{ at: number; lines: number; chunk: string }> = [];
  return {
    name: 'memory',
    writes,
    write(chunk, lines, done) {
      writes.push({ at: performance.now(), lines, chunk });
      setImmediate(() => done(0));
    },
    close: async () => 0,
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('BoundedQueue batching', () => {
  it('gathers lines pushed over several event-loop turns into one write after lingerMs', async () => {
    const target = recordingTarget();
    // A linger long enough that ten event-loop turns on a loaded machine stay well inside it.
    const q = new BoundedQueue(target, { maxBytes: 1 << 20, lingerMs: 300, onDrop: () => undefined });
    const start = performance.now();
    for (let i = 0; i < 10; i++) {
      q.push(`{"n":${i}}\n`);
      await tick();
    }
    expect(target.writes).toHaveLength(0);
    await sleep(450);
    expect(target.writes).toHaveLength(1);
    expect(target.writes[0]!.lines).toBe(10);
    expect(target.writes[0]!.at - start).toBeGreaterThanOrEqual(290);
    await q.close(Date.now() + 1000);
  });

  it('writes at once when minBatchBytes are waiting', async () => {
    const target = recordingTarget();
    const q = new BoundedQueue(target, {
      maxBytes: 1 << 20,
      lingerMs: 10_000,
      minBatchBytes: 1024,
      onDrop: () => undefined,
    });
    q.push(`${'x'.repeat(600)}\n`);
    await tick();
    expect(target.writes).toHaveLength(0);
    q.push(`${'y'.repeat(600)}\n`);
    await tick();
    expect(target.writes).toHaveLength(1);
    expect(target.writes[0]!.lines).toBe(2);
    await q.close(Date.now() + 1000);
  });

  it('close() writes a lingering batch without waiting for it', async () => {
    const target = recordingTarget();
    const q = new BoundedQueue(target, { maxBytes: 1 << 20, lingerMs: 10_000, onDrop: () => undefined });
    q.push('{"last":true}\n');
    const t0 = Date.now();
    const { lost } = await q.close(Date.now() + 5000);
    expect(lost).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(target.writes.map((w) => w.chunk)).toEqual(['{"last":true}\n']);
  });

  it('lingerMs 0 keeps one write per event-loop turn', async () => {
    const target = recordingTarget();
    const q = new BoundedQueue(target, { maxBytes: 1 << 20, lingerMs: 0, onDrop: () => undefined });
    q.push('{"a":1}\n');
    await tick();
    expect(target.writes).toHaveLength(1);
    await q.close(Date.now() + 1000);
  });
});
