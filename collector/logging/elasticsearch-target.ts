/**
 * Ships log batches to Elasticsearch through pino-elasticsearch, and survives what the stock
 * stream does not: after a long outage its bulk helper rejects once, stops reading, and never
 * ships again (pinojs/pino-elasticsearch#72). Here every _bulk call is observed through a Client
 * subclass, so a failed or stalled stream is noticed, counted and replaced: probe with backoff,
 * rebuild the stream, resume. Only one batch is outstanding at a time, which bounds what a dead
 * stream can take with it; everything else waits in the bounded queue in front of this target.
 *
 * A 429 is "overloaded, retry later", not a failure: a _bulk request answered 429 is re-sent with
 * backoff (or after its Retry-After) for as long as it takes, so the batch is held and new lines
 * wait in the bounded queue, which counts its own overflow (buffer_full). Documents the bulk helper
 * gives up on after its own retry of item-level 429s are counted as lost at once.
 */
import { Transform } from 'node:stream';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import pinoElasticsearch from 'pino-elasticsearch';
import type { LogTarget, TargetContext } from './log-target';

export interface ElasticsearchTargetOptions {
  node: string;
  /** Index name; `%{DATE}` becomes the line's UTC date. */
  index?: string;
  auth?: { apiKey: string } | { username: string; password: string };
  opType?: 'create' | 'index';
  /** Bytes after which the bulk helper sends (default 512 KiB). */
  flushBytes?: number;
  /** Idle time after the last line before a partial bulk is sent (default 250 ms). */
  flushIntervalMs?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** An outstanding batch with no _bulk answer for this long means the stream is stuck (default 60 s). */
  stallTimeoutMs?: number;
  /** Reconnection backoff: first and largest delay (defaults 500 ms and 30 s). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /**
   * Backoff before a _bulk request answered 429 is re-sent: first and largest delay (defaults 1 s
   * and 30 s). A Retry-After header is honoured, up to the largest delay.
   */
  overloadBackoffInitialMs?: number;
  overloadBackoffMaxMs?: number;
  /**
   * Wait before the bulk helper re-sends documents answered with an item-level 429 (default 5 s,
   * the helper's own). It re-sends them once; keep it below stallTimeoutMs.
   */
  itemRetryWaitMs?: number;
}

type State = 'connecting' | 'open' | 'closed';
type BulkBody = unknown[] | string | undefined;
interface BulkItem {
  [op: string]: { status?: number } | undefined;
}

interface Attempt {
  stream: Transform;
  client: Client;
  dead: boolean;
  /** Wakes the 429 backoffs in progress (the attempt is being discarded). */
  pauses: Set<() => void>;
}

/** Delay asked for by a Retry-After header (seconds or an HTTP date), if any. */
function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { meta?: { headers?: Record<string, unknown> } }).meta?.headers;
  const raw = headers?.['retry-after'];
  const value = Array.isArray(raw) ? (raw[0] as unknown) : raw;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function isOverloaded(err: unknown): boolean {
  return (err as { meta?: { statusCode?: number } }).meta?.statusCode === 429;
}

function docsInBody(body: BulkBody): number {
  if (Array.isArray(body)) return Math.floor(body.length / 2);
  if (typeof body === 'string') return Math.floor(body.split('\n').filter((l) => l.length > 0).length / 2);
  return 0;
}

/** A batch nothing of which was answered is re-sent on the next stream, at most this many times. */
const MAX_ATTEMPTS = 3;

interface Batch {
  chunk: string;
  lines: number;
  done: (lost: number) => void;
  attempts: number;
  /** Lines Elasticsearch answered (stored or refused) in the current attempt. */
  answered: number;
  refused: number;
}

export function createElasticsearchTarget(opts: ElasticsearchTargetOptions, ctx: TargetContext): LogTarget {
  const flushBytes = opts.flushBytes ?? 512 * 1024;
  const flushInterval = opts.flushIntervalMs ?? 250;
  const stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
  const backoffInitial = opts.backoffInitialMs ?? 500;
  const backoffMax = opts.backoffMaxMs ?? 30_000;
  const requestTimeout = opts.requestTimeoutMs ?? 10_000;
  const overloadInitial = opts.overloadBackoffInitialMs ?? 1000;
  const overloadMax = opts.overloadBackoffMaxMs ?? 30_000;
  const itemRetryWait = opts.itemRetryWaitMs ?? 5000;

  let state: State = 'connecting';
  let current: Attempt | undefined;
  let batch: Batch | undefined; // the one outstanding batch
  let lastProgress = Date.now();
  let backoff = backoffInitial;
  let retryTimer: NodeJS.Timeout | undefined;
  let settleWaiters: Array<() => void> = [];

  const unanswered = (b: Batch): number => b.lines - b.answered;

  const stallTimer = setInterval(
    () => {
      // A 429 backoff is not a stall: the clock restarts when the request is re-sent.
      if (current?.pauses.size) return;
      if (state === 'open' && batch && Date.now() - lastProgress > stallTimeoutMs) {
        ctx.shippingError();
        fail();
      }
    },
    Math.max(50, Math.min(1000, stallTimeoutMs / 4)),
  );
  stallTimer.unref();

  function complete(lost: number): void {
    const b = batch;
    batch = undefined;
    const waiters = settleWaiters;
    settleWaiters = [];
    for (const w of waiters) w();
    b?.done(lost);
  }

  function onAnswered(answered: number, refused: number): void {
    if (!batch) return;
    lastProgress = Date.now();
    batch.answered += answered;
    batch.refused += refused;
    if (refused > 0) ctx.shippingError();
    if (unanswered(batch) <= 0) complete(batch.refused);
  }

  function onBulkAnswer(attempt: Attempt, body: BulkBody, items: BulkItem[] | undefined): void {
    if (attempt !== current || attempt.dead) return;
    if (!items) return onAnswered(docsInBody(body), 0);
    let answered = 0;
    let refused = 0;
    for (const item of items) {
      const status = Object.values(item)[0]?.status ?? 500;
      if (status === 429) continue; // the bulk helper retries these
      answered++;
      if (status >= 300) refused++;
    }
    onAnswered(answered, refused);
  }

  /**
   * The stream is unusable: drop it and reconnect with backoff. A batch nothing of which was
   * answered is kept and re-sent on the next stream (no duplicates possible); a partly answered
   * one cannot be split safely, so its unanswered lines are counted as lost.
   */
  function fail(): void {
    const attempt = current;
    if (!attempt || attempt.dead) return;
    attempt.dead = true;
    current = undefined;
    discard(attempt);
    if (batch && (batch.answered > 0 || batch.attempts >= MAX_ATTEMPTS || state === 'closed')) {
      complete(unanswered(batch) + batch.refused);
    }
    if (state === 'closed') return;
    state = 'connecting';
    schedule();
  }

  function discard(attempt: Attempt): void {
    for (const wake of [...attempt.pauses]) wake();
    attempt.stream.removeAllListeners('error');
    attempt.stream.on('error', () => undefined);
    // pino-elasticsearch replaces destroy() with a connection-pool "resurrect"; call the real one.
    Transform.prototype.destroy.call(attempt.stream);
    attempt.client.close().catch(() => undefined);
  }

  /** Waits out a 429 backoff; discarding the attempt ends the wait early. */
  function pause(attempt: Attempt, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        attempt.pauses.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      attempt.pauses.add(wake);
    });
  }

  function overloadDelay(retry: number, err: unknown): number {
    const asked = retryAfterMs(err);
    if (asked !== undefined) return Math.min(overloadMax, asked);
    const base = Math.min(overloadMax, overloadInitial * 2 ** Math.min(retry, 30));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  function schedule(): void {
    if (state === 'closed' || retryTimer) return;
    const delay = Math.round(backoff * (0.5 + Math.random() / 2));
    backoff = Math.min(backoffMax, backoff * 2);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect();
    }, delay);
    retryTimer.unref();
  }

  function build(): Attempt {
    // Filled in below: the client is constructed inside pino-elasticsearch, the attempt after it.
    const made: { attempt?: Attempt; clients: Client[] } = { clients: [] };
    // A Client subclass is how pino-elasticsearch lets us see its _bulk calls and their answers.
    class ObservedClient extends Client {
      constructor(o: ClientOptions) {
        super({ ...o, maxRetries: 1, requestTimeout });
        // pino-elasticsearch does not pass the helper's wait between re-sends of item-level 429s.
        const helpers = this.helpers as unknown as { bulk: (o: object, r?: unknown) => unknown };
        const bulkHelper = helpers.bulk.bind(helpers);
        helpers.bulk = (o, r) => bulkHelper({ ...o, wait: itemRetryWait }, r);
        const original = this.bulk.bind(this) as (
          p: { body?: BulkBody; operations?: BulkBody },
          o?: unknown,
        ) => Promise<unknown>;
        (this as unknown as { bulk: typeof original }).bulk = async (params, options) => {
          const body = params.operations ?? params.body;
          for (let retry = 0; ; retry++) {
            try {
              const res = (await original(params, options)) as {
                body?: { items?: BulkItem[] };
                items?: BulkItem[];
              };
              if (made.attempt) onBulkAnswer(made.attempt, body, res.body?.items ?? res.items);
              return res;
            } catch (err) {
              const attempt = made.attempt;
              if (!attempt || attempt !== current || attempt.dead) throw err;
              ctx.shippingError();
              if (!isOverloaded(err)) {
                fail();
                throw err;
              }
              // Overloaded: the same request goes again later (nothing of it was stored), on
              // the same stream, however long it takes; the queue in front bounds what waits.
              await pause(attempt, overloadDelay(retry, err));
              if (attempt.dead) throw err;
              lastProgress = Date.now();
            }
          }
        };
        made.clients.push(this);
      }
    }
    const stream = (
      pinoElasticsearch as unknown as (o: object, deps: { Client: typeof Client }) => Transform
    )(
      {
        node: opts.node,
        auth: opts.auth,
        index: opts.index ?? 'telehealth-logs-%{DATE}',
        esVersion: 8,
        opType: opts.opType ?? 'create',
        flushBytes,
        flushInterval,
      },
      { Client: ObservedClient },
    );
    const built: Attempt = { stream, client: made.clients[0]!, dead: false, pauses: new Set() };
    made.attempt = built;
    stream.on('error', () => {
      if (built === current && !built.dead) {
        ctx.shippingError();
        fail();
      }
    });
    // Documents still answered 429 after the helper's re-send are dropped by it (onDrop). Other
    // refusals also come here but were counted from the _bulk answer. The helper reports them
    // one by one in a loop: count them together once it is done.
    let gaveUp = 0;
    stream.on('insertError', (err: { document?: { status?: number } }) => {
      if (built !== current || built.dead || err.document?.status !== 429) return;
      if (gaveUp++ > 0) return;
      queueMicrotask(() => {
        const n = gaveUp;
        gaveUp = 0;
        if (built === current && !built.dead) onAnswered(n, n);
      });
    });
    // Lines pino-elasticsearch cannot parse never reach Elasticsearch.
    stream.on('unknown', () => {
      if (built === current) onAnswered(1, 1);
    });
    return built;
  }

  function connect(): void {
    if (state === 'closed') return;
    const attempt = build();
    attempt.client
      .ping()
      .then(() => {
        if (state === 'closed') return discard(attempt);
        current = attempt;
        state = 'open';
        backoff = backoffInitial;
        if (batch) send();
      })
      .catch(() => {
        ctx.shippingError();
        discard(attempt);
        schedule();
      });
  }

  function send(): void {
    const b = batch!;
    b.attempts++;
    b.answered = 0;
    b.refused = 0;
    lastProgress = Date.now();
    current!.stream.write(b.chunk);
  }

  connect();

  return {
    name: 'elasticsearch',
    write(chunk, lines, done) {
      if (state === 'closed') return done(lines);
      batch = { chunk, lines, done, attempts: 0, answered: 0, refused: 0 };
      if (state === 'open' && current) send();
    },
    async close(deadline) {
      if (batch && state === 'open' && current) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => settleWaiters.push(resolve)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          }),
        ]);
        clearTimeout(timer);
      }
      state = 'closed';
      clearInterval(stallTimer);
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      if (current) {
        const attempt = current;
        attempt.dead = true;
        current = undefined;
        discard(attempt);
      }
      // Whatever Elasticsearch did not answer by the deadline is reported through the batch.
      if (batch) complete(unanswered(batch) + batch.refused);
      return 0;
    },
  };
}
