/**
 * One access-log line per request. The request path only records a start time and the active
 * span; the line is built after the response finished. `url.path` is the route template
 * (`req.baseUrl + req.route.path`), never the concrete URL, which may carry identifiers.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HTTP_METHODS, type HttpMethod } from './fields';
import type { Logger } from './logger';

export interface AccessLogEntry {
  method: string;
  /** Route template, or undefined when no route matched. */
  route: string | undefined;
  statusCode: number;
  durationNs: number;
  span?: Span;
}

const METHODS = new Set<string>(HTTP_METHODS);

/** Writes one access line; usable outside express. */
export function logAccess(logger: Logger, entry: AccessLogEntry): void {
  const sc = entry.span?.spanContext();
  logger.info(
    {
      'event.action': 'http_request',
      'event.category': 'web',
      'event.outcome': entry.statusCode >= 500 ? 'failure' : 'success',
      'http.request.method': (METHODS.has(entry.method) ? entry.method : '_OTHER') as HttpMethod,
      'url.path': entry.route,
      'http.response.status_code': entry.statusCode,
      'event.duration': entry.durationNs,
      'trace.id': sc?.traceId,
      'span.id': sc?.spanId,
    },
    'request completed',
  );
}

export interface AccessLogOptions {
  /** Route templates not logged (probes and scrapes), default /api/health, /api/ready, /metrics. */
  skipRoutes?: readonly string[];
}

/** Express middleware: mount it first so it times the whole request. */
export function accessLogMiddleware(logger: Logger, opts: AccessLogOptions = {}): RequestHandler {
  const skip = new Set(opts.skipRoutes ?? ['/api/health', '/api/ready', '/metrics']);
  return function accessLog(req: Request, res: Response, next: NextFunction): void {
    const started = performance.now();
    const span = trace.getSpan(context.active());
    res.once('close', () => {
      const routePath: unknown = req.route?.path;
      const route = typeof routePath === 'string' ? req.baseUrl + routePath : undefined;
      if (route !== undefined && skip.has(route)) return;
      logAccess(logger, {
        method: req.method,
        route,
        // 499: the client went away before the response was complete (as the HTTP metrics do).
        statusCode: res.writableFinished ? res.statusCode : 499,
        durationNs: Math.round((performance.now() - started) * 1e6),
        span,
      });
    });
    next();
  };
}
