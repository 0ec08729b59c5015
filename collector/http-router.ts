/**
 * `POST /v1/events`: one event or a batch (JSON array) of up to 1000, all-or-nothing.
 * 202 {accepted} once the events are fsynced to the spool; 400 with per-item errors (index, field,
 * rule; never the value); 401; 413; 503 with Retry-After when the queue or spool is full. The body
 * is read raw (for the HMAC and the size limit) and parsed here: mount this router before any
 * body parser.
 *
 * The handler is a plain `http` listener: a server whose main job is ingest serves it without
 * Express (`eventsListener`), which on this machine costs a request several times what the handler
 * itself does (BENCHMARKS.md, collector); `createEventsRouter` mounts the same handler in an app.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from 'express';
import type { AdmitResult, Collector } from './collector';
import { collectorMetrics } from './collector-metrics';
import { ID_CONFLICT_MESSAGE, parseEvent, type AuditEvent } from './events';
import {
  SIGNATURE_HEADER,
  SOURCE_HEADER,
  SourceAuthenticator,
  TIMESTAMP_HEADER,
  type EventSource,
} from './source-auth';
import { routeNamer, type Telemetry } from '../exporter';

export interface EventsRouterOptions {
  sources: readonly EventSource[];
  /** Default 1 MiB (a batch of 1000 events is ~400 KiB). */
  bodyLimitBytes?: number;
  /** Default 1000. */
  maxBatch?: number;
  /** HMAC timestamp tolerance; default 300 s. */
  replayWindowSeconds?: number;
  /** Retry-After on 503; default 1 s. */
  retryAfterSeconds?: number;
}

const MAX_REPORTED_ERRORS = 100;

type Body = { ok: true; body: Buffer } | { ok: false; status: 413 | 400 };

function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      resolve({ ok: false, status: 413 });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: Body) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop buffering: the rest is discarded while the 413 goes out.
        req.resume();
        finish({ ok: false, status: 413 });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, status: 400 });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export const EVENTS_PATH = '/v1/events';
const JSON_TYPE = 'application/json; charset=utf-8';
const nameRoute = routeNamer(EVENTS_PATH);

/** Serves `POST /v1/events`; the request must be one (see `isEventsRequest`). */
export type EventsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Writes a whole JSON response in one call: the headers every answer of this endpoint carries. */
function reply(
  res: ServerResponse,
  status: number,
  text: string,
  extra?: Readonly<Record<string, string>>,
): void {
  const headers: Record<string, string | number> = {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  };
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(text);
}

const UNAUTHORIZED = JSON.stringify({ error: 'unauthorized' });
const BEARER = { 'www-authenticate': 'Bearer' } as const;

export function createEventsHandler(
  collector: Collector,
  telemetry: Telemetry,
  opts: EventsRouterOptions,
): EventsHandler {
  const metrics = collectorMetrics(telemetry);
  const auth = new SourceAuthenticator(opts.sources, opts.replayWindowSeconds ?? 300);
  const limit = opts.bodyLimitBytes ?? 1024 * 1024;
  const maxBatch = opts.maxBatch ?? 1000;
  const retry = { 'retry-after': String(opts.retryAfterSeconds ?? 1) } as const;

  const unauthorized = (res: ServerResponse) => {
    metrics.eventsRejectedTotal.inc({ reason: 'unauthorized' });
    reply(res, 401, UNAUTHORIZED, BEARER);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // API keys are checked before the body is read: an unauthenticated client costs nothing.
    const authz = header(req, 'authorization');
    let source: string | null = null;
    // The scheme is case-insensitive (RFC 7235 §2.1).
    const bearer = authz && /^Bearer [!-~]{1,512}$/i.test(authz) ? authz.slice(7) : undefined;
    if (bearer !== undefined) {
      source = auth.byApiKey(bearer);
      if (!source) return unauthorized(res);
    } else if (!header(req, SIGNATURE_HEADER)) {
      return unauthorized(res);
    }
    if (req.readableEnded) {
      // A body parser mounted before this router consumed the raw body (the HMAC needs it).
      return reply(
        res,
        500,
        JSON.stringify({ error: 'misconfigured', message: 'mount the events router before body parsers' }),
      );
    }
    const body = await readBody(req, limit);
    if (!body.ok) {
      if (body.status === 413) {
        metrics.eventsRejectedTotal.inc({ reason: 'too_large' });
        const text = JSON.stringify({ error: 'too_large', message: `body exceeds ${limit} bytes` });
        return reply(res, 413, text, { connection: 'close' });
      }
      metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
      const text = JSON.stringify({ error: 'bad_request', message: 'request body could not be read' });
      return reply(res, 400, text);
    }
    if (source === null) {
      source = auth.bySignature(
        header(req, SOURCE_HEADER) ?? '',
        header(req, TIMESTAMP_HEADER) ?? '',
        header(req, SIGNATURE_HEADER) ?? '',
        body.body,
      );
      if (!source) return unauthorized(res);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.body.toString('utf8'));
    } catch {
      // JSON.parse's own message quotes the input: never pass it on.
      metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
      return reply(res, 400, JSON.stringify({ error: 'invalid_json', message: 'body is not valid JSON' }));
    }
    const items = Array.isArray(parsed) ? parsed : [parsed];
    if (items.length === 0) {
      metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
      return reply(res, 400, JSON.stringify({ error: 'empty_batch', message: 'the batch holds no event' }));
    }
    if (items.length > maxBatch) {
      metrics.eventsRejectedTotal.inc({ reason: 'too_large' }, items.length);
      const text = JSON.stringify({
        error: 'too_large',
        message: `a batch holds at most ${maxBatch} events`,
      });
      return reply(res, 413, text);
    }
    const events: AuditEvent[] = [];
    const errors: { index: number; path: string; message: string }[] = [];
    items.forEach((item, index) => {
      const r = parseEvent(item);
      if (!r.ok) {
        for (const e of r.errors) errors.push({ index, ...e });
      } else if (r.event.source !== source) {
        errors.push({ index, path: 'source', message: 'must be the authenticated source' });
      } else {
        events.push(r.event);
      }
    });
    if (errors.length > 0) {
      metrics.eventsRejectedTotal.inc({ reason: 'invalid' }, items.length);
      const text = JSON.stringify({
        error: 'invalid_events',
        message: 'no event of this request was accepted',
        errors: errors.slice(0, MAX_REPORTED_ERRORS),
      });
      return reply(res, 400, text);
    }
    const admitted: AdmitResult = collector.admit(events);
    if (!admitted.ok && admitted.reason === 'id_conflict') {
      // A client error, not a busy collector: retrying the same request cannot succeed.
      metrics.eventsRejectedTotal.inc({ reason: 'id_conflict' }, events.length);
      const text = JSON.stringify({
        error: 'event_id_conflict',
        message: 'no event of this request was accepted',
        errors: (admitted.conflicts ?? [])
          .slice(0, MAX_REPORTED_ERRORS)
          .map((index) => ({ index, path: 'event_id', message: ID_CONFLICT_MESSAGE })),
      });
      return reply(res, 409, text);
    }
    if (!admitted.ok) {
      metrics.eventsRejectedTotal.inc({ reason: admitted.reason }, events.length);
      const text = JSON.stringify({ error: admitted.reason, message: 'collector is busy; retry later' });
      return reply(res, 503, text, retry);
    }
    try {
      await admitted.durable;
    } catch {
      // Not durable in time: the client must retry (the event_id makes the retry idempotent).
      const text = JSON.stringify({ error: 'not_durable', message: 'events not yet durable; retry later' });
      return reply(res, 503, text, retry);
    }
    return reply(res, 202, `{"accepted":${events.length}}`);
  }

  return function eventsHandler(req, res) {
    nameRoute(req);
    handle(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500, JSON.stringify({ error: 'internal' }));
    });
  };
}

/**
 * Whether a plain `http` request is `POST /v1/events` (with or without a query string), matched as
 * the Express router mount matches it (case-insensitive, one trailing slash allowed), so a client
 * gets the same answer whichever way the collector is mounted.
 */
export function isEventsRequest(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const end = url.indexOf('?');
  let length = end === -1 ? url.length : end;
  // The exact path is what clients send: checked without allocating.
  if (length === EVENTS_PATH.length && url.startsWith(EVENTS_PATH)) return true;
  if (length === EVENTS_PATH.length + 1 && url[EVENTS_PATH.length] === '/') length -= 1;
  return length === EVENTS_PATH.length && url.slice(0, length).toLowerCase() === EVENTS_PATH;
}

/**
 * A request listener for a server whose main job is ingest: `POST /v1/events` goes straight to the
 * handler, everything else (health, readiness, 404) to `next` (an Express app, say).
 */
export function createEventsListener(
  collector: Collector,
  telemetry: Telemetry,
  opts: EventsRouterOptions,
  next: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const handler = createEventsHandler(collector, telemetry, opts);
  return function eventsListener(req, res) {
    if (isEventsRequest(req)) handler(req, res);
    else next(req, res);
  };
}

/** The same handler as an Express router, for an app that serves ingest beside other routes. */
export function createEventsRouter(
  collector: Collector,
  telemetry: Telemetry,
  opts: EventsRouterOptions,
): Router {
  const handler = createEventsHandler(collector, telemetry, opts);
  const router = Router();
  router.post(EVENTS_PATH, (req, res) => handler(req, res));
  return router;
}
