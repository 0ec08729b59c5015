/**
 * Ships log batches to Elasticsearch through pino-elasticsearch, and survives what the stock
 * stream does not: after a long outage its bulk helper rejects once, stops reading, and never
 * ships again (pinojs/pino-elasticsearch#72). Here every _bulk call is observed through a Client
 * subclass, so a failed or stalled stream is noticed, counted and replaced: probe with backoff,
 * rebuild the stream, resume. Only one batch is outstanding at a time, which bounds what a dead
 * stream can take with it; everything else waits in the bounded queue in front of this target.
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
    attempt.stream.removeAllListeners('error');
    attempt.stream.on('error', () => undefined);
    // pino-elasticsearch replaces destroy() with a connection-pool "resurrect"; call the real one.
    Transform.prototype.destroy.call(attempt.stream);
    attempt.client.close().catch(() => undefined);
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
        const original = this.bulk.bind(this) as (
          p: { body?: BulkBody; operations?: BulkBody },
          o?: unknown,
        ) => Promise<unknown>;
        (this as unknown as { bulk: typeof original }).bulk = async (params, options) => {
          const body = params.operations ?? params.body;
          try {
            const res = (await original(params, options)) as {
              body?: { items?: BulkItem[] };
              items?: BulkItem[];
            };
            if (made.attempt) onBulkAnswer(made.attempt, body, res.body?.items ?? res.items);
            return res;
          } catch (err) {
            const attempt = made.attempt;
            if (attempt && attempt === current && !attempt.dead) {
              ctx.shippingError();
              fail();
            }
            throw err;
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
    const built: Attempt = { stream, client: made.clients[0]!, dead: false };
    made.attempt = built;
    stream.on('error', () => {
      if (built === current && !built.dead) {
        ctx.shippingError();
        fail();
      }
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
