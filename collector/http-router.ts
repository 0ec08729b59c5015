/**
 * `POST /v1/events`: one event or a batch (JSON array) of up to 1000, all-or-nothing.
 * 202 {accepted} once the events are fsynced to the spool; 400 with per-item errors (index, field,
 * rule; never the value); 401; 413; 503 with Retry-After when the queue or spool is full. The body
 * is read raw (for the HMAC and the size limit) and parsed here: mount this router before any
 * body parser.
 */
import { Router, type Request, type Response } from 'express';
import type { AdmitResult, Collector } from './collector';
import { collectorMetrics } from './collector-metrics';
import { parseEvent, type AuditEvent } from './events';
import {
  SIGNATURE_HEADER,
  SOURCE_HEADER,
  SourceAuthenticator,
  TIMESTAMP_HEADER,
  type EventSource,
} from './source-auth';
import type { Telemetry } from '../exporter';

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

function readBody(req: Request, limit: number): Promise<Body> {
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

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export function createEventsRouter(
  collector: Collector,
  telemetry: Telemetry,
  opts: EventsRouterOptions,
): Router {
  const metrics = collectorMetrics(telemetry);
  const auth = new SourceAuthenticator(opts.sources, opts.replayWindowSeconds ?? 300);
  const limit = opts.bodyLimitBytes ?? 1024 * 1024;
  const maxBatch = opts.maxBatch ?? 1000;
  const retryAfter = String(opts.retryAfterSeconds ?? 1);
  const router = Router();

  const unauthorized = (res: Response) => {
    metrics.eventsRejectedTotal.inc({ reason: 'unauthorized' });
    res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unauthorized' });
  };

  router.post('/v1/events', async (req: Request, res: Response) => {
    try {
      res.set('Cache-Control', 'no-store');
      // API keys are checked before the body is read: an unauthenticated client costs nothing.
      const authz = header(req, 'authorization');
      let source: string | null = null;
      const bearer = authz && /^Bearer [!-~]{1,512}$/.test(authz) ? authz.slice(7) : undefined;
      if (bearer !== undefined) {
        source = auth.byApiKey(bearer);
        if (!source) return unauthorized(res);
      } else if (!header(req, SIGNATURE_HEADER)) {
        return unauthorized(res);
      }
      if (req.readableEnded) {
        // A body parser mounted before this router consumed the raw body (the HMAC needs it).
        return res
          .status(500)
          .json({ error: 'misconfigured', message: 'mount the events router before body parsers' });
      }
      const body = await readBody(req, limit);
      if (!body.ok) {
        if (body.status === 413) {
          metrics.eventsRejectedTotal.inc({ reason: 'too_large' });
          res.set('Connection', 'close');
          return res.status(413).json({ error: 'too_large', message: `body exceeds ${limit} bytes` });
        }
        metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
        return res.status(400).json({ error: 'bad_request', message: 'request body could not be read' });
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
        return res.status(400).json({ error: 'invalid_json', message: 'body is not valid JSON' });
      }
      const items = Array.isArray(parsed) ? parsed : [parsed];
      if (items.length === 0) {
        metrics.eventsRejectedTotal.inc({ reason: 'invalid' });
        return res.status(400).json({ error: 'empty_batch', message: 'the batch holds no event' });
      }
      if (items.length > maxBatch) {
        metrics.eventsRejectedTotal.inc({ reason: 'too_large' }, items.length);
        return res
          .status(413)
          .json({ error: 'too_large', message: `a batch holds at most ${maxBatch} events` });
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
        return res.status(400).json({
          error: 'invalid_events',
          message: 'no event of this request was accepted',
          errors: errors.slice(0, MAX_REPORTED_ERRORS),
        });
      }
      const admitted: AdmitResult = collector.admit(events);
      if (!admitted.ok) {
        metrics.eventsRejectedTotal.inc({ reason: admitted.reason }, events.length);
        res.set('Retry-After', retryAfter);
        return res.status(503).json({ error: admitted.reason, message: 'collector is busy; retry later' });
      }
      try {
        await admitted.durable;
      } catch {
        // Not durable in time: the client must retry (the event_id makes the retry idempotent).
        res.set('Retry-After', retryAfter);
        return res.status(503).json({ error: 'not_durable', message: 'events not yet durable; retry later' });
      }
      return res.status(202).json({ accepted: events.length });
    } catch {
      if (!res.headersSent) res.status(500).json({ error: 'internal' });
    }
  });

  return router;
}
