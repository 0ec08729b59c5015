/**
 * The chain verifier on a worker thread with its own database connection (chain-verifier-worker.ts).
 * Verification reads and hashes every row the store writes: on the event loop that is as much work
 * per event as ingest itself, and the minutely run after a burst held acknowledgements for seconds.
 * The thread remembers where it stopped; this side keeps the last head it reported, so that if the
 * thread fails, verification goes on in this thread from there (the request in flight included).
 */
import { Worker } from 'node:worker_threads';
import { ChainVerifier, GENESIS_HEAD, type ChainHead, type VerifyResult } from './chain-verifier';
import type { Database } from './database';
import { workerSource } from './worker-source';

export type VerifierRequest =
  { id: number; op: 'incremental'; maxRows?: number } | { id: number; op: 'full'; anchor?: ChainHead };

export type VerifierResponse =
  { id: number; ok: true; result: VerifyResult } | { id: number; ok: false; code: string };

/** What the collector needs of a verifier, in this thread or another. */
export interface ChainVerification {
  /** Whether the work runs off this thread (the caller need not slice it). */
  readonly offThread: boolean;
  head(): ChainHead;
  incremental(opts?: { maxRows?: number }): Promise<VerifyResult>;
  full(opts?: { anchor?: ChainHead }): Promise<VerifyResult>;
  close(): Promise<void>;
}

interface Pending {
  request: VerifierRequest;
  resolve(r: VerifyResult): void;
  reject(err: Error): void;
}

/** A verifier in this thread (PGlite, a wrapped database, or no worker possible). */
export function inlineVerifier(db: Database, from?: ChainHead): ChainVerification {
  const v = new ChainVerifier(db, from);
  return {
    offThread: false,
    head: () => v.head(),
    incremental: (o) => v.incremental(o),
    full: (o) => v.full(o),
    close: async () => undefined,
  };
}

export class VerifierThread implements ChainVerification {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastHead: ChainHead;
  private fallback: ChainVerification | null = null;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly db: Database,
    from: ChainHead,
    /** Told once when the thread fails (not when it is closed). */
    private readonly onFailure: (() => void) | undefined,
  ) {
    this.lastHead = from;
    worker.on('message', (m: VerifierResponse) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) {
        this.lastHead = m.result.head;
        p.resolve(m.result);
      } else {
        p.reject(Object.assign(new Error(`chain verification failed (${m.code})`), { code: m.code }));
      }
    });
    const fail = () => {
      if (this.fallback) return;
      this.fallback = inlineVerifier(this.db, this.lastHead);
      const inFlight = [...this.pending.values()];
      this.pending.clear();
      if (this.closed) {
        // Closing (a run still in flight when the thread was stopped): not a failure, and not a
        // reason to start the run again on the event loop of a process that is shutting down.
        for (const p of inFlight)
          p.reject(Object.assign(new Error('chain verifier closed'), { code: 'CLOSED' }));
        return;
      }
      this.onFailure?.();
      for (const p of inFlight) this.runInline(p);
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    // An idle verifier must not keep the process alive.
    worker.unref();
  }

  /**
   * A verifier on a new thread when this database can be opened from one (PostgreSQL), else one
   * in this thread. `from`: a head already verified.
   */
  static start(db: Database, opts: { from?: ChainHead; onFailure?: () => void } = {}): ChainVerification {
    const from = opts.from ?? GENESIS_HEAD;
    const src = workerSource('chain-verifier-worker');
    const options = db.connectOptions?.();
    if (!src || !options) return inlineVerifier(db, opts.from);
    try {
      const worker = new Worker(src.code, { eval: src.eval, workerData: { options, from } });
      return new VerifierThread(worker, db, from, opts.onFailure);
    } catch {
      return inlineVerifier(db, opts.from);
    }
  }

  get offThread(): boolean {
    return this.fallback === null;
  }

  head(): ChainHead {
    return this.fallback ? this.fallback.head() : this.lastHead;
  }

  incremental(opts: { maxRows?: number } = {}): Promise<VerifyResult> {
    return this.send({ id: 0, op: 'incremental', maxRows: opts.maxRows });
  }

  full(opts: { anchor?: ChainHead } = {}): Promise<VerifyResult> {
    return this.send({ id: 0, op: 'full', anchor: opts.anchor });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.fallback) return;
    // Let the thread close its connection; terminate it if it does not exit in time.
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('close');
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }

  private send(request: VerifierRequest): Promise<VerifyResult> {
    return new Promise<VerifyResult>((resolve, reject) => {
      const p: Pending = { request, resolve, reject };
      if (this.fallback) {
        this.runInline(p);
        return;
      }
      request.id = this.nextId;
      this.nextId += 1;
      this.pending.set(request.id, p);
      this.worker.postMessage(request);
    });
  }

  private runInline(p: Pending): void {
    const f = this.fallback as ChainVerification;
    const r = p.request;
    (r.op === 'full' ? f.full({ anchor: r.anchor }) : f.incremental({ maxRows: r.maxRows })).then(
      p.resolve,
      p.reject,
    );
  }
}
