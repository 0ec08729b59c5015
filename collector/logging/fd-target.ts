/**
 * Writes batches to a file descriptor with fs.write, which runs on libuv's thread pool: a slow
 * reader (a full pipe) never blocks the event loop. EAGAIN on a non-blocking pipe is retried.
 */
import * as fs from 'node:fs';
import type { LogTarget } from './log-target';

const RETRY_MS = 10;

export interface FdTargetOptions {
  /** `stdout`, `stderr`, a numeric fd (not closed here), or `{ path }` of a file opened for append. */
  destination: 'stdout' | 'stderr' | number | { path: string };
}

export function createFdTarget(opts: FdTargetOptions): LogTarget {
  const dest = opts.destination;
  const ownsFd = typeof dest === 'object';
  const fd = dest === 'stdout' ? 1 : dest === 'stderr' ? 2 : typeof dest === 'number' ? dest : fs.openSync(dest.path, 'a');
  const name = typeof dest === 'string' ? dest : typeof dest === 'number' ? 'fd' : 'file';
  let inFlight: Promise<void> | undefined;
  let closed = false;

  function write(chunk: string, lines: number, done: (lost: number) => void): void {
    if (closed) return done(lines);
    const buf = Buffer.from(chunk);
    inFlight = new Promise<void>((resolve) => {
      const finish = (lost: number): void => {
        inFlight = undefined;
        resolve();
        done(lost);
      };
      const writeFrom = (offset: number): void => {
        fs.write(fd, buf, offset, buf.length - offset, null, (err, written) => {
          if (err) {
            if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && !closed) {
              setTimeout(writeFrom, RETRY_MS, offset).unref();
              return;
            }
            return finish(lines);
          }
          if (offset + written < buf.length) return writeFrom(offset + written);
          finish(0);
        });
      };
      writeFrom(0);
    });
  }

  async function close(deadline: number): Promise<number> {
    if (inFlight) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        inFlight,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
    closed = true;
    if (ownsFd && !inFlight) fs.closeSync(fd);
    // A write still stuck in the thread pool is counted by the queue (its callback never came).
    return 0;
  }

  return { name, write, close };
}
