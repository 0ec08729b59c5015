/**
 * One access-log line per request. The request path only records a start time and the trace
 * context; the line is built once the response has closed, by a serialiser compiled once for its
 * fields (Logger.compile: the same allow-list checks and ECS line, without pino's generic path). `url.path` is the route template
 * as the RED metrics label it (the mount path templated, then `req.route.path`), never the concrete
 * URL, which may carry identifiers.
 *
 * Two ways to attach it, as with the exporter's RED metrics: as a wrapper of the app's request
 * listener (`http.createServer(accessLogListener(logger)(app))`, which costs no Express layer) or as
 * Express middleware mounted first.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { SpanContext } from '@opentelemetry/api';
import type { NextFunction, RequestHandler } from 'express';
import { routeTemplate } from '../../exporter';
import { activeSpanContext } from '../trace-context';
import { HTTP_METHODS, type HttpMethod } from './fields';
import type { CompiledLogLine, Logger } from './logger';

export interface AccessLogEntry {
  method: string;
  /** Route template, or undefined when no route matched. */
  route: string | undefined;
  statusCode: number;
  durationNs: number;
  /** The request's trace context (sampled or not). */
  spanContext?: SpanContext;
}

const METHODS = new Set<string>(HTTP_METHODS);

const ACCESS_FIELDS = [
  'event.action',
  'event.category',
  'event.outcome',
  'http.request.method',
  'url.path',
  'http.response.status_code',
  'event.duration',
  'trace.id',
  'span.id',
] as const;
type AccessLine = CompiledLogLine<(typeof ACCESS_FIELDS)[number]>;

/** One compiled line per logger: written once per request, so not through pino's generic path. */
const compiled = new WeakMap<Logger, AccessLine>();
function accessLine(logger: Logger): AccessLine {
  let line = compiled.get(logger);
  if (line === undefined) {
    line = logger.compile('info', ACCESS_FIELDS, 'request completed');
    compiled.set(logger, line);
  }
  return line;
}

function write(line: AccessLine, entry: AccessLogEntry): void {
  const sc = entry.spanContext;
  line({
    'event.action': 'http_request',
    'event.category': 'web',
    'event.outcome': entry.statusCode >= 500 ? 'failure' : 'success',
    'http.request.method': (METHODS.has(entry.method) ? entry.method : '_OTHER') as HttpMethod,
    'url.path': entry.route,
    'http.response.status_code': entry.statusCode,
    'event.duration': entry.durationNs,
    'trace.id': sc?.traceId,
    'span.id': sc?.spanId,
  });
}

/** Writes one access line; usable outside express. */
export function logAccess(logger: Logger, entry: AccessLogEntry): void {
  write(accessLine(logger), entry);
}

export interface AccessLogOptions {
  /** Route templates not logged (probes and scrapes), default /api/health, /api/ready, /metrics. */
  skipRoutes?: readonly string[];
}

const STATE = Symbol('telehealth.accessLogState');

interface AccessState {
  line: AccessLine;
  skip: ReadonlySet<string>;
  req: IncomingMessage;
  started: number;
  spanContext: SpanContext | undefined;
}

type Holder = ServerResponse & { [STATE]?: AccessState };

/** The one `close` listener (shared, no closure per request): the line is written here. */
function onClose(this: Holder): void {
  const state = this[STATE];
  if (state === undefined) return;
  this[STATE] = undefined;
  const req = state.req;
  const route = routeTemplate(req, this.statusCode);
  if (route !== undefined && state.skip.has(route)) return;
  write(state.line, {
    method: req.method ?? 'GET',
    route,
    // 499: the client went away before the response was complete (as the HTTP metrics do).
    statusCode: this.writableFinished ? this.statusCode : 499,
    durationNs: Math.round((performance.now() - state.started) * 1e6),
    spanContext: state.spanContext,
  });
}

function begin(line: AccessLine, skip: ReadonlySet<string>, req: IncomingMessage, res: ServerResponse): void {
  (res as Holder)[STATE] = {
    line,
    skip,
    req,
    started: performance.now(),
    spanContext: activeSpanContext(),
  };
  res.on('close', onClose);
}

function skipSet(opts: AccessLogOptions): ReadonlySet<string> {
  return new Set(opts.skipRoutes ?? ['/api/health', '/api/ready', '/metrics']);
}

/** Wraps the app's request listener: `http.createServer(accessLogListener(logger)(app))`. */
export function accessLogListener(
  logger: Logger,
  opts: AccessLogOptions = {},
): (listener: RequestListener) => RequestListener {
  const skip = skipSet(opts);
  const line = accessLine(logger);
  return (listener) =>
    function accessLoggedRequest(req: IncomingMessage, res: ServerResponse): void {
      begin(line, skip, req, res);
      listener(req, res);
    };
}

/** Express middleware: mount it first so it times the whole request. */
export function accessLogMiddleware(logger: Logger, opts: AccessLogOptions = {}): RequestHandler {
  const skip = skipSet(opts);
  const line = accessLine(logger);
  return function accessLog(req, res, next: NextFunction): void {
    begin(line, skip, req, res);
    next();
  };
}
