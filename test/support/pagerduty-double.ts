/**
 * A local double of the PagerDuty Events API v2 (POST /v2/enqueue over HTTPS, since pdjs and
 * Alertmanager always use https) that enforces the documented contract and can be scripted to answer
 * 429, 5xx, malformed bodies or to hang. It records what it received. Used by alerts/ tests and the
 * end-to-end test (Alertmanager's pagerduty `url` points at `url`, trusting `caFile`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAX_EVENT_BYTES = 512 * 1024;
const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const ACTIONS = ['trigger', 'acknowledge', 'resolve'];

/** What the double answers to the next request. */
export type Behaviour =
  | { readonly kind: 'contract' }
  | { readonly kind: 'status'; readonly status: number; readonly body?: string }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' };

export interface ReceivedEvent {
  readonly routing_key: string;
  readonly event_action: 'trigger' | 'acknowledge' | 'resolve';
  readonly dedup_key: string;
  readonly payload?: {
    summary: string;
    source: string;
    severity: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
    timestamp?: string;
  };
  readonly links?: Array<{ href: string; text?: string }>;
  readonly client?: string;
  readonly client_url?: string;
  /** Milliseconds since the epoch when the double accepted it. */
  readonly receivedAt: number;
}

export interface RequestRecord {
  readonly at: number;
  readonly status: number | 'hang' | 'reset';
  readonly bytes: number;
  /** SHA-256 of the body: tells a retry of the same notification from a new one. */
  readonly sha256: string;
  readonly errors: string[];
}

export interface PagerDutyDouble {
  /** `host:port` for pdjs' `server`. */
  readonly server: string;
  /** Full Events API URL for Alertmanager's `url`. */
  readonly url: string;
  /** PEM of the self-signed certificate (trust it as a CA). */
  readonly ca: Buffer;
  readonly caFile: string;
  /** Accepted events, in order. */
  readonly events: ReceivedEvent[];
  /** Every request with what was answered. */
  readonly requests: RequestRecord[];
  /** Queue behaviours for the next requests; after the queue, the contract is enforced. */
  script(...behaviours: Behaviour[]): void;
  waitForEvent(predicate: (e: ReceivedEvent) => boolean, timeoutMs?: number): Promise<ReceivedEvent>;
  close(): Promise<void>;
}

/**
 * Self-signed certificate for 127.0.0.1/localhost, made with the openssl CLI at test time; where
 * openssl is missing, with the `selfsigned` package if it is installed (it is not a dependency).
 */
function makeCertificate(dir: string): { key: Buffer; cert: Buffer; certFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '2',
        '-subj',
        '/CN=pagerduty-double.localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      { stdio: 'ignore' },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let selfsigned: { generate(attrs: unknown, opts: unknown): { private: string; cert: string } };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      selfsigned = require('selfsigned');
    } catch {
      throw new Error(
        'the PagerDuty double needs the openssl CLI or the selfsigned package to make its certificate',
      );
    }
    const pems = selfsigned.generate([{ name: 'commonName', value: 'pagerduty-double.localhost' }], {
      days: 2,
      extensions: [
        { name: 'basicConstraints', cA: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: '127.0.0.1' },
            { type: 2, value: 'localhost' },
          ],
        },
      ],
    });
    writeFileSync(keyFile, pems.private);
    writeFileSync(certFile, pems.cert);
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
}

/** The contract of POST /v2/enqueue: returns the problems, empty when the event is valid. */
export function contractErrors(body: unknown): string[] {
  const errors: string[] = [];
  if (!body || typeof body !== 'object' || Array.isArray(body)) return ['body must be a JSON object'];
  const e = body as Record<string, unknown>;
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32)
    errors.push('routing_key must be 32 characters');
  if (typeof e.event_action !== 'string' || !ACTIONS.includes(e.event_action))
    errors.push('event_action must be trigger, acknowledge or resolve');
  if (
    e.dedup_key !== undefined &&
    (typeof e.dedup_key !== 'string' || e.dedup_key.length === 0 || e.dedup_key.length > 255)
  ) {
    errors.push('dedup_key must be a string of at most 255 characters');
  }
  if (e.event_action !== 'trigger' && e.dedup_key === undefined)
    errors.push('dedup_key is required to acknowledge or resolve');
  if (e.event_action === 'trigger') {
    const p = e.payload as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object') errors.push('payload is required');
    else {
      if (typeof p.summary !== 'string' || p.summary.length === 0) errors.push('payload.summary is required');
      else if (p.summary.length > 1024) errors.push('payload.summary must be at most 1024 characters');
      if (typeof p.source !== 'string' || p.source.length === 0) errors.push('payload.source is required');
      if (typeof p.severity !== 'string' || !SEVERITIES.includes(p.severity))
        errors.push('payload.severity must be critical, error, warning or info');
    }
  }
  return errors;
}

export async function startPagerDutyDouble(): Promise<PagerDutyDouble> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-double-'));
  const { key, cert } = makeCertificate(dir);
  const events: ReceivedEvent[] = [];
  const requests: RequestRecord[] = [];
  const queue: Behaviour[] = [];
  const sockets = new Set<Socket>();
  const hung = new Set<ServerResponse>();
  const waiters: Array<{ predicate: (e: ReceivedEvent) => boolean; resolve: (e: ReceivedEvent) => void }> =
    [];

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    const at = Date.now();
    const record = (status: RequestRecord['status'], errors: string[] = []) =>
      requests.push({
        at,
        status,
        bytes: raw.length,
        sha256: createHash('sha256').update(raw).digest('hex'),
        errors,
      });
    const behaviour = queue.shift() ?? { kind: 'contract' };
    if (behaviour.kind === 'hang') {
      hung.add(res);
      record('hang');
      return;
    }
    if (behaviour.kind === 'reset') {
      record('reset');
      req.socket.destroy();
      return;
    }
    if (behaviour.kind === 'malformed') {
      record(202, ['malformed answer']);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"status": "success", "message": ');
      return;
    }
    if (behaviour.kind === 'status') {
      record(behaviour.status, ['scripted']);
      res.writeHead(behaviour.status, { 'content-type': 'application/json' });
      res.end(behaviour.body ?? JSON.stringify({ status: 'error', message: `scripted ${behaviour.status}` }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v2/enqueue') {
      record(404, ['not found']);
      return send(res, 404, { status: 'not found', message: 'not found' });
    }
    if (raw.length > MAX_EVENT_BYTES) {
      record(413, ['too large']);
      return send(res, 413, { status: 'invalid event', message: 'Request entity too large' });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      record(400, ['invalid json']);
      return send(res, 400, {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: ['Invalid JSON'],
      });
    }
    const errors = contractErrors(body);
    if (errors.length > 0) {
      record(400, errors);
      return send(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors });
    }
    const e = body as ReceivedEvent;
    const dedupKey = e.dedup_key ?? randomUUID().replace(/-/g, '');
    const accepted: ReceivedEvent = { ...e, dedup_key: dedupKey, receivedAt: at };
    events.push(accepted);
    record(202);
    send(res, 202, { status: 'success', message: 'Event processed', dedup_key: dedupKey });
    for (const w of [...waiters]) {
      if (w.predicate(accepted)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(accepted);
      }
    }
  };

  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Keep reading past the limit (so the client sees a 413, not a reset) but stop storing.
      if (size <= MAX_EVENT_BYTES + 1) chunks.push(c);
    });
    req.on('end', () =>
      handle(req, res, size > MAX_EVENT_BYTES ? Buffer.alloc(size) : Buffer.concat(chunks)),
    );
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, cert);

  return {
    server: `127.0.0.1:${port}`,
    url: `https://127.0.0.1:${port}/v2/enqueue`,
    ca: cert,
    caFile,
    events,
    requests,
    script: (...b) => queue.push(...b),
    waitForEvent(predicate, timeoutMs = 10_000) {
      const found = events.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (e: ReceivedEvent) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `PagerDuty double: no matching event within ${timeoutMs} ms (got ${events.length} events)`,
            ),
          );
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    async close() {
      for (const res of hung) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
