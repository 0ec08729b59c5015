/**
 * The collector: validate -> metrics -> durable spool -> audit store -> log.
 *
 * The caller's path (record(), or the HTTP handler) only validates, counts and appends to an
 * in-memory write buffer. A writer loop appends the buffer to the spool with one fdatasync per group
 * (group commit: every request waiting meanwhile shares the next fsync), then hands the records to
 * the store queue. A store loop writes them to PostgreSQL in batches; a spool segment is deleted only
 * once every event in it is committed. When the database is down or slow the store queue stops
 * growing at its capacity and the backlog stays on disk ("spilled"), to be read back in order.
 * Replays are exactly-once per event_id because the store skips ids it already has.
 */
import { AsyncResource } from 'node:async_hooks';
import { promises as fsp } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Router } from 'express';
import cron, { type ScheduledTask } from 'node-cron';
import type { Telemetry } from '../exporter';
import {
  auditRowOf,
  rowEventId,
  rowEventType,
  rowFields,
  rowOfSpoolPayload,
  type AuditRow,
} from './audit-row';
import { AuditStore, type PreparedBatch } from './audit-store';
import { GENESIS_HEAD, type ChainHead, type VerifyResult } from './chain-verifier';
import {
  collectorMetrics,
  AMOUNT_EVENT_TYPES,
  type BusinessGauge,
  type CollectorMetrics,
  type ScheduledJob,
} from './collector-metrics';
import type { Database } from './database';
import {
  CURRENCY_MINOR_EXPONENT,
  eventClass,
  ID_CONFLICT_MESSAGE,
  parseEvent,
  type AuditEvent,
  type EventIssue,
} from './events';
import { createEventsListener, createEventsRouter, type EventsRouterOptions } from './http-router';
import { SERVICE_JOBS, type EventClass, type EventType, type ServiceJob } from './metric-names';
import type { Logger } from './logging';
import { migrate } from './migrations';
import { RowHasher } from './row-hasher';
import { readChainHead, writeChainHead } from './chain-head-file';
import { FolderLease } from './folder-lease';
import { appendQuarantine } from './quarantine';
import { Spool } from './spool';
import { inlineVerifier, VerifierThread, type ChainVerification } from './verifier-thread';

/** The logger the collector uses: collector/logging's allow-listed ECS logger (or any with its shape). */
export type CollectorLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

/** Paging hook (the app wires its PagerDuty client to it). Details never carry row contents. */
/**
 * Pages straight to PagerDuty (alerts' createDirectPager). `trigger` may resolve to `{ ok: false }`
 * (or throw) when the page was not delivered: the next verification tries again.
 */
export interface CollectorPager {
  trigger(dedupKey: string, summary: string, details?: Record<string, string | number>): unknown;
  resolve(dedupKey: string): unknown;
}

export interface CollectorOptions {
  telemetry: Telemetry;
  database: Database;
  /**
   * Folder of the spool (created 0700). One collector process per folder, enforced by a lease
   * (folder-lease.ts): a second one fails to start with FolderInUseError.
   */
  spoolDir: string;
  /** The spool lease's timing (folder-lease.ts; defaults: stale after 30 s, renewed every 5 s). */
  spoolLease?: { staleMs?: number; renewMs?: number };
  /** When set, record() accepts only events of this source. */
  source?: string;
  /**
   * Events held in memory before refusing (queue_full); default 50,000. Spooled events wait for the
   * store in memory up to the same number (as audit rows, ~350 bytes each: ~17 MB), the rest on disk.
   */
  queueCapacity?: number;
  /** Most rows per store batch; default 5000 (a batch takes what is queued, so small loads stay fast). */
  batchSize?: number;
  /** Spool size limit; default 256 MiB. */
  spoolCapacityBytes?: number;
  /** Share of the spool kept for security events: business events are refused above 1 - share. Default 0.2. */
  securityReserveRatio?: number;
  /** Spool segment size; default min(8 MiB, capacity / 8). */
  segmentBytes?: number;
  /** How long an HTTP request waits for its fsync before answering 503; default 10 s. */
  ackTimeoutMs?: number;
  /** Store retry backoff; default 50 ms doubling to 2 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Build COPY batches (canonical rows, hash chain) on a worker thread (default true; PostgreSQL
   * only). Off, or when the worker cannot start, the store does it on the event loop in slices.
   */
  hashWorker?: boolean;
  /**
   * Verify the hash chain on a worker thread with a connection of its own (default true; PostgreSQL
   * only), started at the first verification. Off, the verifier reads and hashes on the event loop.
   */
  verifyWorker?: boolean;
  /** Run the migrations before the first write (default true). */
  migrate?: boolean;
  logger?: CollectorLogger;
  /** Log one line per stored event (default true when a logger is given). */
  logEvents?: boolean;
  pager?: CollectorPager;
  schedule?: CollectorSchedule;
  /** Dedup key of the chain-broken page. */
  pagerDedupKey?: string;
}

/** node-cron expressions; `false` disables a job. `jobs`: those the service registers (registerJob). */
export interface CollectorSchedule {
  verify?: string | false;
  verifyFull?: string | false;
  gauges?: string | false;
  jobs?: Partial<Record<ServiceJob, string | false>>;
}

export type RejectReason = 'invalid' | 'queue_full' | 'spool_full' | 'closed' | 'id_conflict';

export type RecordResult =
  { accepted: true } | { accepted: false; errors: EventIssue[]; reason?: RejectReason };

export type AdmitResult =
  | { ok: true; durable: Promise<void> }
  | {
      ok: false;
      reason: Exclude<RejectReason, 'invalid'>;
      /** With `id_conflict`: the indexes of the events whose id was lately accepted for another event. */
      conflicts?: number[];
    };

export interface CollectorStats {
  accepted: number;
  stored: number;
  duplicates: number;
  inMemory: number;
  spoolBytes: number;
  spilled: boolean;
  storeHealthy: boolean;
}

export interface Collector {
  /** Validates and enqueues one event; never throws, never waits. */
  record(event: unknown): RecordResult;
  /** Resolves when every event accepted before the call is in the audit store. */
  flush(opts?: { timeoutMs?: number }): Promise<void>;
  /** Stops accepting, spools what is buffered, drains the store for up to `drainTimeoutMs` (5 s). */
  close(opts?: { drainTimeoutMs?: number }): Promise<void>;
  /** Throws when the collector cannot accept events (closed, spool failing, spool or buffer full). */
  readinessCheck(): Promise<void>;
  /** `POST /v1/events` as an Express router, for an app that serves ingest beside other routes. */
  router(opts: EventsRouterOptions): Router;
  /**
   * `POST /v1/events` as a plain request listener that passes every other request to `next` (an
   * Express app, say): for a server whose main job is ingest, where Express would cost each event
   * request several times what its handling does.
   */
  listener(
    opts: EventsRouterOptions,
    next: (req: IncomingMessage, res: ServerResponse) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void;
  /** Admits already-validated events; `durable` resolves once they are fsynced to the spool. */
  admit(events: readonly AuditEvent[]): AdmitResult;
  /** A business gauge refreshed by the scheduled job: SQL returning one row with a `value` column, or a function. */
  registerGauge(name: BusinessGauge, query: string | (() => Promise<number>)): void;
  /**
   * A job of the service run on the collector's scheduler (every 30 s unless `schedule.jobs` says
   * otherwise), with its runs and last success in the scheduled-job metrics; stopped on close.
   */
  registerJob(job: ServiceJob, fn: () => Promise<void>): void;
  /** Runs a registered job now, as its schedule would (counted): how the run ended, or that none is registered. */
  runJob(job: ServiceJob): Promise<'success' | 'failure' | 'not_registered'>;
  refreshGauges(): Promise<void>;
  /** Verifies the hash chain (incremental unless `full`), updates metrics and pages on a break. */
  verifyChain(opts?: { full?: boolean; anchor?: ChainHead }): Promise<VerifyResult>;
  /** The last verified head of the chain (for anchoring outside the database). */
  chainHead(): ChainHead;
  /** Resolves when the spool is recovered and the loops run. */
  readonly started: Promise<void>;
  stats(): CollectorStats;
}

/**
 * An event in the store queue: its audit row (audit-row.ts), all the store needs of it. The row is
 * also the spool record, hence the field's name (the spool's input shape).
 */
interface Queued {
  seq: number;
  payload: AuditRow;
}

/** An accepted event: in the write buffer until spooled, then (the same object) in the store queue. */
interface Pending extends Queued {
  ord: number;
  cls: EventClass;
  bytes: number;
}

interface Waiter {
  target: number;
  resolve(): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

const RECORD_HEADER_BYTES = 16;
const MAX_GROUP = 20_000;
/** How many recently counted event ids are remembered, so that a retried event is counted once. */
const RECENT_IDS = 65_536;
/** Rows the chain verifier hashes between two yields to the event loop (a few ms of work). */
const VERIFY_SLICE_ROWS = 500;

/** Conflicting rows could not be made durable aside: the batch stays in the spool and is retried. */
class QuarantineFailed extends Error {
  constructor(cause: unknown) {
    super('quarantine append failed', { cause });
  }
}

/** SQLSTATE classes that a retry cannot fix (bad data), as opposed to connection or resource errors. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || (code.startsWith('23') && code !== '23505'));
}

/** A code safe to log: SQLSTATE or errno names only (messages may quote values). */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'unknown';
}

export function createCollector(opts: CollectorOptions): Collector {
  const metrics: CollectorMetrics = collectorMetrics(opts.telemetry);
  const queueCapacity = opts.queueCapacity ?? 50_000;
  // Rows are small flat strings (audit-row.ts), so the store queue holds as many as the write buffer
  // may: a burst that fits in memory is not read back from disk.
  const storeQueueCapacity = queueCapacity;
  const batchSize = opts.batchSize ?? 5000;
  const spoolCapacity = opts.spoolCapacityBytes ?? 256 * 1024 * 1024;
  const reserve = opts.securityReserveRatio ?? 0.2;
  const businessLimit = Math.floor(spoolCapacity * (1 - reserve));
  const segmentBytes =
    opts.segmentBytes ?? Math.max(4096, Math.min(8 * 1024 * 1024, Math.floor(spoolCapacity / 8)));
  const ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
  const retryMin = opts.retryMinMs ?? 50;
  const retryMax = opts.retryMaxMs ?? 2000;
  const logger = opts.logger;
  const logEvents = opts.logEvents ?? logger !== undefined;
  const dedupKey = opts.pagerDedupKey ?? 'telehealth-audit-chain-broken';

  metrics.queueCapacityEvents.set(queueCapacity);
  metrics.spoolCapacityBytes.set(spoolCapacity);

  let spool: Spool | null = null;
  let store: AuditStore | null = null;
  // Started now, so that the worker has booted by the first batch. PGlite has no COPY (its batches
  // are INSERT parameters, built on the event loop).
  const hasher: RowHasher | null =
    opts.hashWorker !== false && opts.database.kind === 'postgres'
      ? RowHasher.start({
          onFailure: () =>
            logger?.warn({}, 'hashing worker stopped; audit batches are hashed on the event loop'),
        })
      : null;
  // Started at the first verification (most collectors in tests never verify).
  let verifierInstance: ChainVerification | null = null;
  // The head verified before this process started (chain-head-file.ts), read at start-up.
  let storedHead: ChainHead | undefined;
  const verifier = (): ChainVerification =>
    (verifierInstance ??=
      opts.verifyWorker === false
        ? inlineVerifier(opts.database, storedHead)
        : VerifierThread.start(opts.database, {
            from: storedHead,
            onFailure: () =>
              logger?.warn({}, 'chain verifier thread stopped; the chain is verified on the event loop'),
          }));
  let chainBroken = false;

  let closing = false;
  let stopped = false;
  let spoolLock: FolderLease | null = null;
  const lockLost = (): boolean => spoolLock?.lost === true;
  let startError: unknown = null;
  let spoolError: unknown = null;
  let storeHealthy = false;

  // Sequence numbers: seq = ord + offset, offset fixed once the spool is recovered.
  let nextOrd = 0;
  let offset = -1;
  const writeBuffer: Pending[] = [];
  let writeBufferBytes = 0;
  let durableOrd = -1;
  let durableSeq = 0;
  let committedSeq = 0;
  /** Committed and logged: what flush() waits for. */
  let flushedSeq = 0;
  const storeQueue: Queued[] = [];
  let spilled = false;
  let loadFromSeq = 0;
  let stored = 0;
  let duplicates = 0;

  const ackWaiters: Waiter[] = [];
  const flushWaiters: Waiter[] = [];
  let writerRunning = false;
  let storeRunning = false;
  let writerDone: Promise<void> = Promise.resolve();
  let storeDone: Promise<void> = Promise.resolve();
  const sleepers = new Set<() => void>();
  const gauges = new Map<BusinessGauge, string | (() => Promise<number>)>();
  const tasks: ScheduledTask[] = [];

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      sleepers.add(done);
    });

  const updateGauges = () => {
    metrics.queueEvents.set(writeBuffer.length + storeQueue.length);
    metrics.spoolBytes.set((spool?.bytes() ?? 0) + writeBufferBytes);
    metrics.backlogEvents.set(writeBuffer.length + Math.max(0, durableSeq - committedSeq));
  };

  const settle = (waiters: Waiter[], reached: number) => {
    while (waiters.length > 0 && (waiters[0] as Waiter).target <= reached) {
      const w = waiters.shift() as Waiter;
      if (w.timer) clearTimeout(w.timer);
      w.resolve();
    }
  };

  const releaseFlush = (seq: number) => {
    flushedSeq = Math.max(flushedSeq, seq);
    settle(flushWaiters, seq);
  };

  const wait = (waiters: Waiter[], target: number, timeoutMs: number, what: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const w: Waiter = { target, resolve, reject };
      w.timer = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(Object.assign(new Error(`${what} timed out after ${timeoutMs} ms`), { code: 'WAIT_TIMEOUT' }));
      }, timeoutMs);
      // Targets are requested in increasing order except for flush after ack; keep the list sorted.
      let i = waiters.length;
      while (i > 0 && (waiters[i - 1] as Waiter).target > target) i -= 1;
      waiters.splice(i, 0, w);
    });

  // The writer and store loops run in the async context the collector was created in (start-up),
  // not in that of whichever request's record() happened to start them: a loop keeps its context
  // for as long as it runs, so under steady load every later batch's queries (pg spans) and log
  // lines would be attributed to that one request's trace.
  const detached = new AsyncResource('TelehealthCollector');

  // ---------------------------------------------------------------- writer: buffer -> spool (fsync)
  const kickWriter = () => {
    if (writerRunning || offset < 0 || !spool || stopped) return;
    writerRunning = true;
    writerDone = detached.runInAsyncScope(runWriter).finally(() => {
      writerRunning = false;
      if (writeBuffer.length > 0 && !stopped) kickWriter();
    });
  };

  async function runWriter(): Promise<void> {
    let backoff = retryMin;
    while (writeBuffer.length > 0 && !stopped && spool) {
      // Written only while the lease is ours: after a freeze, a successor may have recovered the
      // spool, and records appended to its segments now would shadow its own on its next recovery.
      if (!(await leaseConfirmed())) return;
      const group = writeBuffer.slice(0, MAX_GROUP);
      for (const p of group) p.seq = p.ord + offset;
      const t0 = process.hrtime.bigint();
      try {
        await spool
          .append(group)
          .finally(() =>
            metrics.spoolWriteDurationSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9),
          );
      } catch (err) {
        spoolError = err;
        logger?.error({ 'error.code': errorCode(err) }, 'spool write failed; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, retryMax);
        continue;
      }
      spoolError = null;
      backoff = retryMin;
      // Acknowledged only if written while the lease was ours: after a freeze, a successor may have
      // taken the spool and recovered it already, and would never read these records.
      if (!(await leaseConfirmed())) return;
      writeBuffer.splice(0, group.length);
      for (const p of group) writeBufferBytes -= p.bytes + RECORD_HEADER_BYTES;
      const last = group[group.length - 1] as Pending;
      durableOrd = last.ord;
      durableSeq = last.ord + offset;
      settle(ackWaiters, durableOrd);
      for (const p of group) {
        if (!spilled && storeQueue.length < storeQueueCapacity) storeQueue.push(p);
        else if (!spilled) {
          spilled = true;
          loadFromSeq = p.seq;
        }
      }
      updateGauges();
      kickStore();
    }
  }

  // ---------------------------------------------------------------- store: queue -> PostgreSQL
  const kickStore = () => {
    if (storeRunning || stopped || offset < 0) return;
    if (storeQueue.length === 0 && !spilled) return;
    storeRunning = true;
    storeDone = detached.runInAsyncScope(runStore).finally(() => {
      storeRunning = false;
      if ((storeQueue.length > 0 || spilled) && !stopped) kickStore();
    });
  };

  async function loadSpilled(): Promise<void> {
    if (!spool) return;
    const room = storeQueueCapacity - storeQueue.length;
    if (room <= 0) return;
    const records = await spool.read(loadFromSeq, durableSeq, room);
    for (const r of records) storeQueue.push({ seq: r.seq, payload: rowOfSpoolPayload(r.payload) });
    if (records.length > 0) loadFromSeq = (records[records.length - 1] as { seq: number }).seq + 1;
    // Nothing left on disk up to the durable point: back to the in-memory path. (An empty read with
    // room to spare means the records are gone, e.g. cut as corrupt at recovery: do not spin on them.)
    if (records.length === 0 || loadFromSeq > durableSeq) spilled = false;
  }

  let singleMode = 0;

  /** Lines logged between two yields, so that logging a large batch does not hold up requests. */
  const LOG_YIELD_EVERY = 250;

  async function logStored(rows: readonly AuditRow[]): Promise<void> {
    if (!logger || !logEvents) return;
    for (let i = 0; i < rows.length; i += 1) {
      if (i > 0 && i % LOG_YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
      const e = rowFields(rows[i] as AuditRow);
      // Allow-listed fields only (no refs, although they are pseudonymous by schema).
      logger.info(
        {
          'event.kind': 'event',
          'event.id': e.event_id ?? undefined,
          'event.action': e.event_type ?? undefined,
          'event.outcome': (e.outcome ?? undefined) as AuditEvent['outcome'] | undefined,
          'event.reason': e.reason ?? undefined,
          'audit.source': e.source ?? undefined,
          'audit.actor_role': e.actor_role ?? undefined,
          'audit.resource_type': e.resource_type ?? undefined,
        },
        'audit event stored',
      );
    }
  }

  /**
   * The store loop. While batch N is in flight, batch N+1 is prepared (deduplicated, hashed on the
   * head N will leave) so that the hashing in Node overlaps the database's work; the store checks
   * that guess under the chain lock and hashes again when it was wrong (N failed, another writer).
   */
  async function runStore(): Promise<void> {
    let backoff = retryMin;
    let next: { first: Queued; n: number; prepared: PreparedBatch } | null = null;
    // The lines of a committed batch are logged while the next one is in flight; flush() waiters
    // are released after them, so that a flushed event is stored AND logged.
    let unlogged: { events: AuditRow[]; seq: number } | null = null;
    const drainLog = async () => {
      if (!unlogged) return;
      const { events, seq } = unlogged;
      unlogged = null;
      await logStored(events);
      releaseFlush(seq);
    };
    try {
      await storeLoop();
    } finally {
      await drainLog();
    }

    async function storeLoop(): Promise<void> {
      while (!stopped) {
        if (storeQueue.length < batchSize && spilled) {
          try {
            await loadSpilled();
          } catch (err) {
            logger?.error({ 'error.code': errorCode(err) }, 'spool read failed; retrying');
            await sleep(backoff);
            backoff = Math.min(backoff * 2, retryMax);
            continue;
          }
        }
        if (storeQueue.length === 0) {
          await drainLog();
          if (storeQueue.length === 0) return;
          continue;
        }
        // The queue only grows at the end and shrinks at the front: the same first entry means the
        // same entries, so a batch prepared ahead is still this batch.
        const ahead = next !== null && singleMode === 0 && storeQueue[0] === next.first ? next : null;
        next = null;
        const n = ahead ? ahead.n : singleMode > 0 ? 1 : Math.min(batchSize, storeQueue.length);
        const batch = storeQueue.slice(0, n);
        const events = batch.map((q) => q.payload);
        const t0 = process.hrtime.bigint();
        try {
          const auditStore = await ensureStore();
          const prepared = ahead
            ? ahead.prepared
            : await auditStore.prepare(events, auditStore.expectedHead());
          let committedAt = 0n;
          const committing = auditStore.commit(prepared).then((o) => {
            committedAt = process.hrtime.bigint();
            return o;
          });
          // Observed below; until then a rejection must not count as unhandled.
          committing.catch(() => undefined);
          await drainLog();
          // Read the spilled backlog while the batch is in flight, not between two batches.
          if (spilled && storeQueue.length < n + batchSize && !stopped) {
            await loadSpilled().catch(() => undefined); // a failure is retried (and logged) at the top
          }
          if (singleMode === 0 && prepared.end !== null && storeQueue.length > n && !stopped) {
            const m = Math.min(batchSize, storeQueue.length - n);
            const following = storeQueue.slice(n, n + m);
            try {
              next = {
                first: following[0] as Queued,
                n: m,
                prepared: await auditStore.prepare(
                  following.map((q) => q.payload),
                  prepared.end,
                ),
              };
            } catch {
              next = null; // only a head start: the batch is prepared again when its turn comes
            }
          }
          const outcome = await committing;
          metrics.storeBatchDurationSeconds.observe(Number(committedAt - t0) / 1e9);
          stored += outcome.inserted;
          duplicates += outcome.duplicates;
          metrics.eventsStoredTotal.inc(outcome.inserted);
          // Before the batch leaves the spool: if this fails, the batch is written again (its rows
          // are duplicates by then, the conflicts are found again) until they are kept.
          if (outcome.conflicts.length > 0) await quarantineConflicts(outcome.conflicts);
          storeQueue.splice(0, n);
          if (singleMode > 0) singleMode -= 1;
          committedSeq = (batch[n - 1] as Queued).seq;
          metrics.lastStoredEventTimestampSeconds.set(Date.now() / 1000);
          if (!storeHealthy) logger?.info({}, 'audit store writes succeeding');
          storeHealthy = true;
          backoff = retryMin;
          unlogged = { events, seq: committedSeq };
          // A successor may have recovered these segments: they are its to release now.
          if (await leaseConfirmed()) await spool?.release(committedSeq).catch(() => undefined);
          updateGauges();
        } catch (err) {
          next = null;
          await drainLog();
          if (err instanceof QuarantineFailed) {
            // The pipeline waits on it: shown as store errors, not only as a log line.
            metrics.storeErrorsTotal.inc();
            storeHealthy = false;
            logger?.error(
              { 'error.code': errorCode(err.cause) },
              'conflicting audit rows could not be quarantined; retrying',
            );
            await sleep(backoff);
            backoff = Math.min(backoff * 2, retryMax);
            continue;
          }
          metrics.storeBatchDurationSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
          metrics.storeErrorsTotal.inc();
          if (isDataError(err) && n > 1) {
            // One row is bad: write this stretch one by one to find it.
            singleMode = n;
            continue;
          }
          if (isDataError(err) && (await refusedForItself(events[0] as AuditRow))) {
            const row = events[0] as AuditRow;
            storeQueue.shift();
            singleMode = Math.max(0, singleMode - 1);
            committedSeq = (batch[0] as Queued).seq;
            metrics.eventsDroppedTotal.inc({
              event_class: eventClass(rowEventType(row) as EventType),
              reason: 'store_rejected',
            });
            logger?.error(
              { 'error.code': errorCode(err), 'event.id': rowEventId(row) },
              'audit store refused event; kept in the quarantine file',
            );
            releaseFlush(committedSeq);
            continue;
          }
          if (storeHealthy)
            logger?.warn({ 'error.code': errorCode(err) }, 'audit store unavailable; spooling');
          storeHealthy = false;
          await sleep(backoff);
          backoff = Math.min(backoff * 2, retryMax);
        }
      }
    }
  }

  /**
   * Rows whose event id the store already holds for a different event (a client reusing ids, or
   * a source minting them badly): not written, so the stored event stands, but never dropped without
   * a trace either. Each is made durable in the quarantine file, counted and logged by id.
   */
  async function quarantineConflicts(rows: readonly AuditRow[]): Promise<void> {
    for (const row of rows) {
      try {
        await appendQuarantine(opts.spoolDir, row);
      } catch (err) {
        throw new QuarantineFailed(err);
      }
    }
    for (const row of rows) {
      metrics.eventsDroppedTotal.inc({
        event_class: eventClass(rowEventType(row) as EventType),
        reason: 'id_conflict',
      });
      logger?.error(
        { 'event.id': rowEventId(row) },
        'audit event id already stored for a different event; kept in the quarantine file',
      );
    }
  }

  /**
   * Whether a row the store refused with a data error is bad in itself, and is now kept aside. An
   * error of that class can also come from the store as a whole (`SET ROLE` of a role dropped since
   * start-up is 22023): every row would then look bad, and dropping each would lose them all. So the
   * write path is tried without any row first; only if that works is the row set aside, and only
   * once it is durable in the quarantine file beside the spool. Otherwise the store counts as
   * unavailable, and the row waits (spooled) for a retry.
   */
  async function refusedForItself(row: AuditRow): Promise<boolean> {
    try {
      await (await ensureStore()).probe();
    } catch (err) {
      logger?.error({ 'error.code': errorCode(err) }, 'audit store refuses writes without any row');
      return false;
    }
    try {
      await appendQuarantine(opts.spoolDir, row);
      return true;
    } catch (err) {
      logger?.error(
        { 'error.code': errorCode(err) },
        'refused audit row could not be quarantined; retrying it',
      );
      return false;
    }
  }

  /**
   * Another process took the spool's lease (this one was frozen past its expiry): it now replays
   * and appends to the same segments, so this one must not touch them again. Events not yet durable
   * were not acknowledged (HTTP clients retry them); readiness fails so that it is replaced.
   */
  function leaseLost(): void {
    closing = true;
    stopped = true;
    for (const t of tasks.splice(0)) void t.destroy();
    for (const w of ackWaiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new Error('spool lease lost'));
    }
    logger?.error(
      { 'telehealth.count': writeBuffer.length },
      'spool lease taken by another process; this collector stopped writing and refuses events',
    );
    for (const wake of [...sleepers]) wake();
  }

  /**
   * Whether the spool's lease is still this collector's, confirmed by a renewal when the last one is
   * not recent (after a freeze): waits out a transient failure to renew, false once it is lost.
   */
  async function leaseConfirmed(): Promise<boolean> {
    for (;;) {
      if (!spoolLock || (await spoolLock.confirm())) return true;
      if (spoolLock.lost || stopped) return false;
      await sleep(retryMin);
    }
  }

  // ---------------------------------------------------------------- start-up
  const started = (async () => {
    await fsp.mkdir(opts.spoolDir, { recursive: true, mode: 0o700 });
    spoolLock = await FolderLease.acquire(opts.spoolDir, {
      name: 'spool',
      staleMs: opts.spoolLease?.staleMs,
      renewMs: opts.spoolLease?.renewMs,
      onLost: leaseLost,
    });
    let opened: Awaited<ReturnType<typeof Spool.open>>;
    try {
      opened = await Spool.open(opts.spoolDir, { segmentBytes });
    } catch (err) {
      await spoolLock.release();
      throw err;
    }
    const { spool: s, recovery } = opened;
    spool = s;
    const stored = await readChainHead(opts.spoolDir);
    storedHead = stored.head;
    if (stored.head === undefined && stored.problem !== undefined)
      logger?.warn(
        { 'error.code': stored.problem },
        'stored audit chain head ignored; verifying from genesis',
      );
    if (recovery.corruptRecords > 0) {
      metrics.eventsDroppedTotal.inc(
        { event_class: 'security', reason: 'spool_corrupt' },
        recovery.corruptRecords,
      );
      logger?.error(
        { 'event.action': 'spool_corrupt', 'telehealth.count': recovery.corruptRecords },
        'damaged spool records set aside (<segment>.corrupt); the records after them are replayed',
      );
    }
    const lastSeq = recovery.lastSeq ?? 0;
    offset = lastSeq + 1;
    durableSeq = lastSeq;
    if (recovery.records > 0 && recovery.firstSeq !== null) {
      committedSeq = recovery.firstSeq - 1;
      flushedSeq = committedSeq;
      spilled = true;
      loadFromSeq = recovery.firstSeq;
      logger?.info(
        { 'telehealth.count': recovery.records, 'telehealth.bytes': recovery.discardedBytes },
        'spool recovered; replaying',
      );
    } else {
      committedSeq = lastSeq;
      flushedSeq = lastSeq;
    }
    updateGauges();
    kickWriter();
    kickStore();
    // Open the store in the background, so that the first batch does not pay for the migrations;
    // start-up does not wait for it (events are accepted and spooled while the database is down).
    ensureStore().catch(() => undefined);
  })();
  started.catch((err: unknown) => {
    startError = err;
    logger?.error({ 'error.code': errorCode(err) }, 'collector spool could not be opened');
  });

  // ---------------------------------------------------------------- admission
  /**
   * The write-buffer entry of an event: its audit row, made now, while the event is at hand. The
   * row is the spool record and the store queue's entry: nothing else of the event is kept.
   */
  function pendingOf(event: AuditEvent): Pending {
    const row = auditRowOf(event);
    return {
      ord: -1,
      seq: -1,
      cls: eventClass(event.event_type),
      payload: row,
      bytes: Buffer.byteLength(row, 'utf8'),
    };
  }

  /** Appends checked entries to the write buffer (capacity and spool room already verified). */
  function enqueue(p: Pending, bytes: number, event: AuditEvent): void {
    p.ord = nextOrd;
    nextOrd += 1;
    writeBuffer.push(p);
    writeBufferBytes += bytes;
    countEvent(event, p.payload);
  }

  function spoolRoom(bytes: number, business: boolean): boolean {
    // Security events may use the reserved share; a batch with any business event may not.
    const limit = business ? businessLimit : spoolCapacity;
    return (spool?.bytes() ?? 0) + writeBufferBytes + bytes <= limit;
  }

  function admit(events: readonly AuditEvent[]): AdmitResult {
    if (closing) return { ok: false, reason: 'closed' };
    if (writeBuffer.length + events.length > queueCapacity) return { ok: false, reason: 'queue_full' };
    const pending = events.map(pendingOf);
    const conflicts = conflictsOf(pending);
    if (conflicts.length > 0) return { ok: false, reason: 'id_conflict', conflicts };
    let bytes = 0;
    let business = false;
    for (const p of pending) {
      bytes += p.bytes + RECORD_HEADER_BYTES;
      if (p.cls === 'business') business = true;
    }
    if (!spoolRoom(bytes, business)) return { ok: false, reason: 'spool_full' };
    pending.forEach((p, i) => enqueue(p, p.bytes + RECORD_HEADER_BYTES, events[i] as AuditEvent));
    const target = nextOrd - 1;
    kickWriter();
    const durable =
      target <= durableOrd ? Promise.resolve() : wait(ackWaiters, target, ackTimeoutMs, 'spool fsync');
    // The HTTP path awaits it; record() callers do not, so an unobserved rejection must not crash.
    durable.catch(() => undefined);
    return { ok: true, durable };
  }

  /**
   * admit() for one event without a durability promise: record() is fire-and-forget (flush() is
   * its durability point), and a promise and a waiter per event cost more than the rest of it.
   */
  function admitOne(event: AuditEvent): Exclude<RejectReason, 'invalid'> | null {
    if (closing) return 'closed';
    if (writeBuffer.length + 1 > queueCapacity) return 'queue_full';
    const p = pendingOf(event);
    if (recentConflict(p.payload)) return 'id_conflict';
    const bytes = p.bytes + RECORD_HEADER_BYTES;
    if (!spoolRoom(bytes, p.cls === 'business')) return 'spool_full';
    enqueue(p, bytes, event);
    kickWriter();
    return null;
  }

  /**
   * Ids counted lately, each with its row: a client that retries a batch (after a 503 whose events
   * were admitted, or a lost reply) sends the same ids again. The store keeps one row per id; the
   * counters must not count the retry either (payments_amount_total would overstate revenue). A
   * different event under a recent id is refused at once (`id_conflict`), with the field named,
   * rather than accepted and set aside by the store later. Bounded: the last RECENT_IDS ids, about a
   * minute at a thousand events a second, about 16 MB of rows; older ids are still compared by the
   * store. (The rows are kept rather than hashed: a hash of each row cost the in-process ingest
   * 0.82 of its rate in bench:ingest, keeping them 0.96.)
   */
  const recentIds = new Map<string, AuditRow>();
  const recentRing: string[] = new Array<string>(RECENT_IDS);
  let recentAt = 0;

  /** Whether the row's id was lately accepted for a different row. */
  function recentConflict(row: AuditRow): boolean {
    const kept = recentIds.get(rowEventId(row));
    return kept !== undefined && kept !== row;
  }

  /** The indexes of rows whose id was lately accepted, or is used earlier in the batch, for another row. */
  function conflictsOf(pending: readonly Pending[]): number[] {
    const out: number[] = [];
    const inBatch = pending.length > 1 ? new Map<string, AuditRow>() : null;
    pending.forEach((p, i) => {
      const row = p.payload;
      const earlier = inBatch?.get(rowEventId(row));
      if (earlier !== undefined ? earlier !== row : recentConflict(row)) out.push(i);
      else if (earlier === undefined) inBatch?.set(rowEventId(row), row);
    });
    return out;
  }

  function countEvent(e: AuditEvent, row: AuditRow): void {
    const id = rowEventId(row);
    if (recentIds.has(id)) return;
    const evicted = recentRing[recentAt];
    if (evicted !== undefined) recentIds.delete(evicted);
    recentRing[recentAt] = id;
    recentAt = (recentAt + 1) % RECENT_IDS;
    recentIds.set(id, row);
    metrics.eventsTotal.inc({
      event_type: e.event_type,
      outcome: e.outcome,
      actor_role: e.actor.role,
      reason: e.reason,
    });
    if (e.amount && (AMOUNT_EVENT_TYPES as readonly string[]).includes(e.event_type)) {
      const major = e.amount.minor_units / 10 ** CURRENCY_MINOR_EXPONENT[e.amount.currency];
      metrics.paymentsAmountTotal.inc({ event_type: e.event_type, currency: e.amount.currency }, major);
    }
  }

  const REJECT_MESSAGES: Record<Exclude<RejectReason, 'invalid'>, string> = {
    closed: 'collector is closed',
    queue_full: 'queue is full; retry later',
    spool_full: 'spool is full; retry later',
    id_conflict: ID_CONFLICT_MESSAGE,
  };

  const ACCEPTED: RecordResult = Object.freeze({ accepted: true });

  function record(input: unknown): RecordResult {
    try {
      if (closing) {
        metrics.eventsRejectedTotal.inc({ reason: 'closed' });
        return { accepted: false, reason: 'closed', errors: [{ path: '', message: REJECT_MESSAGES.closed }] };
      }
      const parsed = parseEvent(input);
      if (!parsed.ok) {
        metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
        return { accepted: false, reason: 'invalid', errors: parsed.errors };
      }
      if (opts.source !== undefined && parsed.event.source !== opts.source) {
        metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
        return {
          accepted: false,
          reason: 'invalid',
          errors: [{ path: 'source', message: 'must be the source of this collector' }],
        };
      }
      const refused = admitOne(parsed.event);
      if (refused !== null) {
        metrics.eventsRejectedTotal.inc({ reason: refused });
        return {
          accepted: false,
          reason: refused,
          errors: [{ path: refused === 'id_conflict' ? 'event_id' : '', message: REJECT_MESSAGES[refused] }],
        };
      }
      return ACCEPTED;
    } catch {
      // record() must never throw into the caller's request.
      metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
      return { accepted: false, reason: 'invalid', errors: [{ path: '', message: 'invalid' }] };
    }
  }

  // ---------------------------------------------------------------- flush / close / readiness
  async function flush(fopts: { timeoutMs?: number } = {}): Promise<void> {
    const target = nextOrd - 1;
    await started;
    const targetSeq = target + offset;
    if (flushedSeq >= targetSeq) return;
    kickStore();
    await wait(flushWaiters, targetSeq, fopts.timeoutMs ?? 30_000, 'flush');
  }

  let closed: Promise<void> | null = null;
  function close(copts: { drainTimeoutMs?: number } = {}): Promise<void> {
    closed ??= (async () => {
      closing = true;
      for (const t of tasks.splice(0)) await t.destroy();
      await started.catch(() => undefined);
      const deadline = Date.now() + (copts.drainTimeoutMs ?? 5000);
      // Spool what is buffered (durability first), then give the store a bounded chance to drain.
      while (writeBuffer.length > 0 && Date.now() < deadline && spool && !lockLost()) {
        kickWriter();
        await Promise.race([writerDone, sleep(50)]);
      }
      const drainTarget = nextOrd - 1 + offset;
      while (committedSeq < drainTarget && storeHealthy && Date.now() < deadline) {
        kickStore();
        await sleep(10);
      }
      stopped = true;
      for (const wake of [...sleepers]) wake();
      await Promise.all([writerDone, storeDone]).catch(() => undefined);
      for (const p of writeBuffer)
        metrics.eventsDroppedTotal.inc({ event_class: p.cls, reason: 'spool_full' });
      if (writeBuffer.length > 0) {
        logger?.error(
          { 'telehealth.count': writeBuffer.length },
          'events could not be spooled before shutdown',
        );
      }
      for (const w of [...ackWaiters.splice(0), ...flushWaiters.splice(0)]) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(new Error('collector closed'));
      }
      await spool?.close();
      await spoolLock?.release();
      await hasher?.close();
      await verifierInstance?.close();
    })();
    return closed;
  }

  async function readinessCheck(): Promise<void> {
    if (lockLost()) throw new Error('spool lease lost');
    if (closing) throw new Error('collector is closing');
    await started;
    if (startError) throw new Error('spool unavailable');
    if (spoolError) throw new Error('spool writes failing');
    if (writeBuffer.length >= queueCapacity) throw new Error('write buffer full');
    if ((spool?.bytes() ?? 0) + writeBufferBytes >= businessLimit)
      throw new Error('spool above business limit');
  }

  // ---------------------------------------------------------------- jobs
  async function runJob(job: ScheduledJob, fn: () => Promise<void>): Promise<'success' | 'failure'> {
    try {
      await fn();
      metrics.scheduledJobRunsTotal.inc({ task: job, outcome: 'success' });
      metrics.scheduledJobLastSuccessTimestampSeconds.set({ task: job }, Date.now() / 1000);
      return 'success';
    } catch (err) {
      metrics.scheduledJobRunsTotal.inc({ task: job, outcome: 'failure' });
      logger?.warn({ 'error.code': errorCode(err), 'job.name': job }, 'scheduled job failed');
      return 'failure';
    }
  }

  /**
   * Migrates and opens the store: tried in the background at start-up and again at each use until it
   * succeeds (start-up never waits for it: the collector must accept and spool events while the
   * database is down). The writer and the verifier both need the table.
   */
  let storeOpening: Promise<AuditStore> | null = null;
  function ensureStore(): Promise<AuditStore> {
    if (store) return Promise.resolve(store);
    // One opening at a time (start-up and the first batch may both ask); a failure is retried later.
    storeOpening ??= (async () => {
      if (opts.migrate !== false) await migrate(opts.database);
      store = await AuditStore.open(opts.database, { hasher });
      return store;
    })().finally(() => {
      storeOpening = null;
    });
    return storeOpening;
  }

  let verifying: Promise<unknown> = Promise.resolve();

  /**
   * The minutely incremental run in slices, yielding between them: after a busy minute there are
   * hundreds of thousands of rows to hash, and one long synchronous stretch would hold up every
   * request (and its acknowledgement) meanwhile.
   */
  async function verifyInSlices(): Promise<VerifyResult> {
    const v = verifier();
    // On its own thread the run needs no slicing: it holds nothing here.
    if (v.offThread) return v.incremental();
    let verified = 0;
    for (;;) {
      const r = await v.incremental({ maxRows: VERIFY_SLICE_ROWS });
      verified += r.verified;
      if (!r.ok || r.verified < VERIFY_SLICE_ROWS) return { ...r, verified };
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async function verifyChain(vopts: { full?: boolean; anchor?: ChainHead } = {}): Promise<VerifyResult> {
    // A fresh database has no audit table until the first batch: the verifier must not fail on that.
    await ensureStore();
    // One verification at a time: the verifier remembers where it stopped.
    const run = verifying.then(() =>
      vopts.full || vopts.anchor ? verifier().full({ anchor: vopts.anchor }) : verifyInSlices(),
    );
    verifying = run.catch(() => undefined);
    const r = await run;
    metrics.auditChainVerifiedEventsTotal.inc(r.verified);
    if (r.ok) {
      metrics.auditChainBroken.set(0);
      metrics.auditChainLastVerifiedTimestampSeconds.set(Date.now() / 1000);
      if (r.head.seq > (storedHead?.seq ?? 0) && !lockLost()) {
        // Kept outside the database, so that a restarted collector goes on from it (not genesis).
        await writeChainHead(opts.spoolDir, r.head).then(
          () => (storedHead = r.head),
          (err: unknown) =>
            logger?.warn({ 'error.code': errorCode(err) }, 'audit chain head could not be stored'),
        );
      }
      if (chainBroken && (vopts.full || vopts.anchor)) {
        chainBroken = false;
        logger?.info({ 'audit.chain_head_seq': r.head.seq }, 'audit hash chain verified again');
        await Promise.resolve(opts.pager?.resolve(dedupKey)).catch(() => undefined);
      }
    } else {
      metrics.auditChainBroken.set(1);
      const broken = r.broken as { seq: number; kind: string };
      logger?.error(
        { 'audit.chain_head_seq': r.head.seq, 'error.code': broken.kind, 'telehealth.count': broken.seq },
        'audit hash chain broken',
      );
      if (!chainBroken) {
        const sent: unknown = await Promise.resolve(
          opts.pager?.trigger(dedupKey, 'Audit log hash chain broken: possible tampering with audit_events', {
            first_bad_seq: broken.seq,
            kind: broken.kind,
            last_good_seq: r.head.seq,
          }),
        ).catch(() => ({ ok: false }));
        // A page that was not delivered is tried again by the next verification.
        chainBroken = (sent as { ok?: unknown } | undefined)?.ok !== false;
      }
    }
    return r;
  }

  async function refreshGauges(): Promise<void> {
    let failed = 0;
    for (const [name, query] of gauges) {
      try {
        const value =
          typeof query === 'string'
            ? Number((await opts.database.query<{ value: unknown }>(query)).rows[0]?.value)
            : await query();
        if (!Number.isFinite(value)) throw Object.assign(new Error('not a number'), { code: 'NOT_A_NUMBER' });
        metrics.businessGauges[name].set(value);
      } catch (err) {
        failed += 1;
        logger?.warn({ 'error.code': errorCode(err), 'gauge.name': name }, 'business gauge query failed');
      }
    }
    if (failed > 0) throw Object.assign(new Error('gauge refresh failed'), { code: 'GAUGE_FAILED' });
  }

  const schedule = opts.schedule ?? {};
  const registeredJobs = new Map<ServiceJob, () => Promise<void>>();
  const addTask = (
    expr: string | false | undefined,
    fallback: string,
    job: ScheduledJob,
    fn: () => Promise<void>,
  ) => {
    const e = expr === undefined ? fallback : expr;
    if (e === false) return;
    metrics.scheduledJobLastSuccessTimestampSeconds.set({ task: job }, 0);
    // node-cron's own notices (an overlapping run skipped) go to our logger with a fixed text.
    const cronLogger = {
      info: () => undefined,
      debug: () => undefined,
      warn: () => logger?.warn({ 'job.name': job }, 'scheduled job run skipped or late'),
      error: () => logger?.error({ 'job.name': job }, 'scheduled job scheduler error'),
    };
    tasks.push(
      cron.schedule(e, () => runJob(job, fn), {
        name: `collector-${job}`,
        noOverlap: true,
        logger: cronLogger,
      }),
    );
  };
  addTask(schedule.verify, '* * * * *', 'audit_chain_verify', async () => {
    if (!(await verifyChain()).ok) throw Object.assign(new Error('chain broken'), { code: 'CHAIN_BROKEN' });
  });
  addTask(schedule.verifyFull, '17 3 * * *', 'audit_chain_verify_full', async () => {
    if (!(await verifyChain({ full: true })).ok)
      throw Object.assign(new Error('chain broken'), { code: 'CHAIN_BROKEN' });
  });
  addTask(schedule.gauges, '*/30 * * * * *', 'business_gauges', refreshGauges);

  const collector: Collector = {
    record,
    flush,
    close,
    readinessCheck,
    admit,
    router: (ropts) => createEventsRouter(collector, opts.telemetry, ropts),
    listener: (ropts, next) => createEventsListener(collector, opts.telemetry, ropts, next),
    registerJob(job, fn) {
      if (!SERVICE_JOBS.includes(job)) throw new Error(`"${job}" is not a job a service registers`);
      // Registered twice, it would run twice per tick.
      if (registeredJobs.has(job)) throw new Error(`scheduled job "${job}" is already registered`);
      if (closing) return;
      registeredJobs.set(job, fn);
      addTask(schedule.jobs?.[job], '*/30 * * * * *', job, fn);
    },
    async runJob(job) {
      const fn = registeredJobs.get(job);
      if (fn === undefined || closing) return 'not_registered';
      return runJob(job, fn);
    },
    registerGauge(name, query) {
      if (!(name in metrics.businessGauges)) throw new Error(`unknown business gauge "${name}"`);
      gauges.set(name, query);
    },
    refreshGauges,
    verifyChain,
    // Asking for the head does not start a verifier thread: before the first run it is the stored one.
    chainHead: () => verifierInstance?.head() ?? { ...(storedHead ?? GENESIS_HEAD) },
    started,
    stats: () => ({
      accepted: nextOrd,
      stored,
      duplicates,
      inMemory: writeBuffer.length + storeQueue.length,
      spoolBytes: (spool?.bytes() ?? 0) + writeBufferBytes,
      spilled,
      storeHealthy,
    }),
  };
  return collector;
}
