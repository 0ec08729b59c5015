/**
 * The queue's batching: small batches wait `lingerMs` for more lines (one write instead of one per
 * event-loop turn), also those that arrived while a write was in flight; a full batch goes at once,
 * and close() does not wait for the linger.
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

  it('lines that arrive during a write wait for the linger too, not just the first batch', async () => {
    // The target completes a write only when told, so a line can arrive while one is in flight.
    const writes: Array<{ lines: number; chunk: string }> = [];
    let complete: (() => void) | undefined;
    const target: LogTarget = {
      name: 'manual',
      write(chunk, lines, done) {
        writes.push({ lines, chunk });
        complete = () => done(0);
      },
      close: async () => 0,
    };
    const q = new BoundedQueue(target, { maxBytes: 1 << 20, lingerMs: 200, onDrop: () => undefined });
    q.push('{"n":1}\n');
    await sleep(300);
    expect(writes).toHaveLength(1);
    q.push('{"n":2}\n');
    complete!();
    await tick();
    // Written at once, this line would go alone and the next one in a write of its own.
    expect(writes).toHaveLength(1);
    q.push('{"n":3}\n');
    await sleep(300);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toEqual({ lines: 2, chunk: '{"n":2}\n{"n":3}\n' });
    complete!();
    await q.close(Date.now() + 1000);
  });

  it('a write in flight at close() is followed at once by the lines behind it', async () => {
    const writes: string[] = [];
    let complete: (() => void) | undefined;
    const target: LogTarget = {
      name: 'manual',
      write(chunk, _lines, done) {
        writes.push(chunk);
        complete = () => done(0);
      },
      close: async () => 0,
    };
    const q = new BoundedQueue(target, {
      maxBytes: 1 << 20,
      lingerMs: 10_000,
      minBatchBytes: 16,
      onDrop: () => undefined,
    });
    // A full batch goes at once; the small line behind it would linger 10 s without close().
    q.push('{"n":1,"pad":"xxxxxxxxxx"}\n');
    await tick();
    expect(writes).toEqual(['{"n":1,"pad":"xxxxxxxxxx"}\n']);
    q.push('{"n":2}\n');
    const t0 = Date.now();
    const closing = q.close(Date.now() + 5000);
    complete!();
    await tick();
    complete!();
    expect((await closing).lost).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(writes).toEqual(['{"n":1,"pad":"xxxxxxxxxx"}\n', '{"n":2}\n']);
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
