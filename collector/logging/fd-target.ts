/**
 * Writes batches to a file descriptor with fs.write on libuv's thread pool. Pipes (FIFOs) are
 * written in non-blocking mode, with EAGAIN retried on an unref'd timer: a slow or stuck reader
 * never blocks the event loop, never pins a thread-pool thread, and never holds the process open
 * at exit. Regular files and terminals are written as they are.
 */
import * as fs from 'node:fs';
import type { LogTarget } from './log-target';

const RETRY_MS = 10;
const { O_WRONLY, O_APPEND, O_CREAT, O_NONBLOCK } = fs.constants;

export interface FdTargetOptions {
  /** `stdout`, `stderr`, a numeric fd (left open), or `{ path }` of a file or FIFO to append to. */
  destination: 'stdout' | 'stderr' | number | { path: string };
}

function isFifo(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFIFO();
  } catch {
    return false;
  }
}

/** A FIFO inherited as fd N is reopened through /proc with O_NONBLOCK (a new open file description, so the original fd keeps its flags). */
function nonBlockingFifo(fd: number): number | undefined {
  if (!isFifo(fd)) return undefined;
  try {
    return fs.openSync(`/proc/self/fd/${fd}`, O_WRONLY | O_NONBLOCK);
  } catch {
    return undefined;
  }
}

function openPath(path: string): number {
  const stat = fs.statSync(path, { throwIfNoEntry: false });
  if (stat?.isFIFO()) {
    try {
      return fs.openSync(path, O_WRONLY | O_NONBLOCK);
    } catch (err) {
      throw new Error(
        `logging destination ${path}: FIFO has no reader (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  return fs.openSync(path, O_WRONLY | O_APPEND | O_CREAT, 0o640);
}

export function createFdTarget(opts: FdTargetOptions): LogTarget {
  const dest = opts.destination;
  let fd: number;
  let ownsFd = false;
  if (typeof dest === 'object') {
    fd = openPath(dest.path);
    ownsFd = true;
  } else {
    const base = dest === 'stdout' ? 1 : dest === 'stderr' ? 2 : dest;
    const reopened = nonBlockingFifo(base);
    fd = reopened ?? base;
    ownsFd = reopened !== undefined;
  }
  const name = typeof dest === 'string' ? dest : typeof dest === 'number' ? 'fd' : 'file';
  let inFlight: Promise<void> | undefined;
  let closed = false;

  function write(chunk: string, lines: number, done: (lost: number) => void): void {
    if (closed) return done(lines);
    const buf = Buffer.from(chunk);
    inFlight = new Promise<void>((resolve) => {
      const finish = (lost: number): void => {
        inFlight = undefined;
        if (closed && ownsFd) fs.closeSync(fd); // close() left it open for this write
        resolve();
        done(lost);
      };
      const writeFrom = (offset: number): void => {
        if (closed) return finish(lines);
        fs.write(fd, buf, offset, buf.length - offset, null, (err, written) => {
          if (err) {
            if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
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
        }),
      ]);
      clearTimeout(timer);
    }
    closed = true;
    if (ownsFd && !inFlight) fs.closeSync(fd);
    // A write still stuck is counted by the queue (its callback never came).
    return 0;
  }

  return { name, write, close };
}
