/**
 * Exactly four instrumentations (http, express, pg, pino): no auto-instrumentations bundle, so no
 * fs/dns/net spans. Configured to keep PHI and noise out of spans: query strings are replaced,
 * probes and scrapes are not traced, and outgoing calls / queries are traced only inside a request
 * (so log shipping and background batches do not flood the trace store).
 */
import type { IncomingMessage } from 'node:http';
import type { Span } from '@opentelemetry/api';
import { ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { pathOf, type RequestSampler } from './request-sampler';
import { SampledExpressInstrumentation } from './sampled-express-instrumentation';

export const DEFAULT_UNTRACED_PATHS = ['/metrics', '/api/health', '/api/ready'] as const;

export interface InstrumentationOptions {
  /** Incoming request paths (exact, without query) that create no span. */
  untracedPaths?: readonly string[];
}

/** Query strings may carry identifiers or PHI (`?email=`): spans keep the path only. */
function stripQuery(span: Span, request: unknown): void {
  const url = (request as IncomingMessage).url;
  if (typeof url !== 'string' || !url.includes('?')) return;
  span.setAttribute('url.query', 'REDACTED');
  span.setAttribute('http.target', `${pathOf(url)}?REDACTED`);
}

/**
 * `sampler` decides incoming requests before the http instrumentation does any work for them (see
 * request-sampler.ts); probes and scrapes (`untracedPaths`) are never traced.
 */
export function createInstrumentations(sampler: RequestSampler): Instrumentation[] {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => sampler.ignoreIncoming(req),
      requireParentforOutgoingSpans: true,
      requestHook: (span, request) => {
        sampler.clearPending();
        if ('headers' in request && !('setHeader' in request)) stripQuery(span, request);
      },
    }),
    // Route handlers only: a span per middleware (json parser, helmet, auth…) multiplied the
    // per-request cost of tracing and says little that the request-handler span does not. Its
    // per-layer work runs only for requests with a span (sampled-express-instrumentation.ts).
    new SampledExpressInstrumentation({
      ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER],
    }),
    // Query spans only: a `pg-pool.connect` span (and its context binding) per query is noise
    // that cost the realistic route a second span per query.
    new PgInstrumentation({
      requireParentSpan: true,
      enhancedDatabaseReporting: false,
      ignoreConnectSpans: true,
    }),
    // Registered (so any pino in the process is known to the SDK), but cheap: log lines go through
    // our own bounded pipeline, not the OTel logs SDK, and collector/logging's formatter already
    // adds trace.id/span.id from the active span, so the per-line mixin would only repeat that work.
    new PinoInstrumentation({
      disableLogSending: true,
      disableLogCorrelation: true,
      logKeys: { traceId: 'trace.id', spanId: 'span.id', traceFlags: 'trace.flags' },
    }),
  ];
}
