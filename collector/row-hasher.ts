/**
 * Hashes batches of audit rows into COPY text on a worker thread. Building a batch (canonical text,
 * sha256 chain, COPY line per row) is about a quarter of the collector's work per event; on the
 * event loop it competes with validation, spooling and requests, while on a 2-core machine the
 * other core has room beside PostgreSQL. The chain is the same either way (one builder,
 * copy-batch.ts); when the worker cannot start or fails, the store hashes on its own thread.
 */
import { Worker } from 'node:worker_threads';
import type { AuditRow } from './audit-row';
import { workerSource } from './worker-source';

export interface HashRequest {
  id: number;
  rows: readonly AuditRow[];
  headSeq: number;
  headHashHex: string;
  recordedMs: number;
}

export type HashResponse =
  { id: number; ok: true; copy: Uint8Array; endSeq: number; endHashHex: string } | { id: number; ok: false };

export interface HashedBatch {
  copy: Buffer;
  endSeq: number;
  endHashHex: string;
}

interface Waiting {
  resolve(r: HashedBatch | null): void;
}

export class RowHasher {
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private failed = false;

  private constructor(
    private readonly worker: Worker,
    /** Told once when the worker fails (not when it is closed): batches are hashed inline from then on. */
    onFailure: (() => void) | undefined,
  ) {
    worker.on('message', (m: HashResponse) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      w.resolve(
        m.ok
          ? {
              copy: Buffer.from(m.copy.buffer, m.copy.byteOffset, m.copy.byteLength),
              endSeq: m.endSeq,
              endHashHex: m.endHashHex,
            }
          : null,
      );
    });
    const fail = () => {
      // close() sets `failed` before it terminates the worker: a closed hasher tells nothing.
      if (!this.failed) onFailure?.();
      this.failed = true;
      for (const w of this.waiting.values()) w.resolve(null);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    // An idle hasher must not keep the process alive.
    worker.unref();
  }

  /** A hasher on a new worker thread, or null when none can be started here. */
  static start(opts: { onFailure?: () => void } = {}): RowHasher | null {
    const w = workerSource('row-hasher-worker');
    if (!w) return null;
    try {
      return new RowHasher(new Worker(w.code, { eval: w.eval }), opts.onFailure);
    } catch {
      return null;
    }
  }

  /** Whether batches can still be sent (false once the worker failed or was closed). */
  usable(): boolean {
    return !this.failed;
  }

  /** The batch's COPY text chained from the head, or null when the worker failed (hash inline then). */
  build(
    rows: readonly AuditRow[],
    headSeq: number,
    headHashHex: string,
    recordedMs: number,
  ): Promise<HashedBatch | null> {
    if (this.failed) return Promise.resolve(null);
    const id = this.nextId;
    this.nextId += 1;
    return new Promise<HashedBatch | null>((resolve) => {
      this.waiting.set(id, { resolve });
      const req: HashRequest = { id, rows, headSeq, headHashHex, recordedMs };
      try {
        this.worker.postMessage(req);
      } catch {
        this.waiting.delete(id);
        resolve(null);
      }
    });
  }

  async close(): Promise<void> {
    this.failed = true;
    for (const w of this.waiting.values()) w.resolve(null);
    this.waiting.clear();
    await this.worker.terminate().catch(() => undefined);
  }
}
