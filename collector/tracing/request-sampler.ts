/**
 * Head sampling of incoming requests, decided before the http instrumentation builds anything.
 *
 * Out of the box, an unsampled request pays nearly the full price of a sampled one: the http
 * instrumentation builds the span's attributes (a URL parse, host header parse) before the sampler
 * runs, and the express and pg instrumentations then wrap every layer and query of it in
 * non-recording spans bound into the context. On this service that was most of the cost of tracing
 * (bench:stack: the hello-world route at about half its untraced capacity, sampled or not).
 *
 * Here the configured sampler (parent-based ratio by default, or OTEL_TRACES_SAMPLER) decides first,
 * from the request's propagated context and a fresh trace id:
 * - sampled: the instrumentation runs as usual, and `sdkSampler` hands the SDK the decision already
 *   taken for that span, so a ratio is applied once, not twice;
 * - not sampled: the instrumentation ignores the request (its own ignoreIncomingRequestHook) and the
 *   request runs in a context that holds only its SpanContext (not-sampled flag, the caller's trace
 *   id when there is one), with the request and response emitters bound to it. Log lines carry its
 *   trace.id/span.id (collector/trace-context), and `UnsampledAwarePropagator` puts it on outgoing
 *   calls, so downstream services see the not-sampled decision as before.
 * The decision travels from the hook to the SDK's sampler in one field: the http instrumentation
 * calls the hook and then starts the span synchronously, with no other span in between.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type SpanContext,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import {
  RandomIdGenerator,
  SamplingDecision,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';
import { TRACE_SAMPLING_DECISIONS } from '../metric-names';
import { UNSAMPLED_SPAN_CONTEXT_KEY } from '../trace-context';
import { RATE_LIMITED, type RateLimitedResult } from './rate-limited-sampler';

export type TraceSamplingDecision = (typeof TRACE_SAMPLING_DECISIONS)[number];
/** Incoming requests by head-sampling decision since start (probes and scrapes are not counted). */
export type TraceSamplingCounts = Readonly<Record<TraceSamplingDecision, number>>;

const REQUEST_CONTEXT = Symbol('telehealth.unsampledRequestContext');
/** A sampled request's decision, taken by traceServer() before the instrumentation's hook runs. */
const DECIDED = Symbol('telehealth.sampledRequestDecision');

type MarkedRequest = IncomingMessage & { [REQUEST_CONTEXT]?: Context; [DECIDED]?: SamplingResult };

type Decision =
  { kind: 'untraced' } | { kind: 'sampled'; result: SamplingResult } | { kind: 'unsampled'; ctx: Context };
const UNTRACED: Decision = Object.freeze({ kind: 'untraced' });

/** The sampler of the running SDK (startTracing installs it), for traceServer(). */
let installed: RequestSampler | undefined;
/**
 * Decisions of every RequestSampler in this process since it started: one total that a restarted
 * tracer continues, so a counter built on it neither goes down nor misses a sampler's last counts.
 */
const decisions: Record<TraceSamplingDecision, number> = { sampled: 0, not_sampled: 0, rate_limited: 0 };

export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export class RequestSampler {
  private pending: SamplingResult | undefined;
  private readonly ids = new RandomIdGenerator();
  /** The sampler the SDK is given: the pre-taken decision for a request's server span, else `inner`. */
  readonly sdkSampler: Sampler;

  constructor(
    private readonly inner: Sampler,
    private readonly untracedPaths: ReadonlySet<string>,
  ) {
    this.sdkSampler = {
      shouldSample: (
        ctx: Context,
        traceId: string,
        name: string,
        kind: SpanKind,
        attributes: Attributes,
        links: Link[],
      ): SamplingResult => {
        const pending = this.pending;
        if (pending !== undefined && kind === SpanKind.SERVER) {
          this.pending = undefined;
          return pending;
        }
        return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
      },
      toString: () => `RequestSampler{${this.inner.toString()}}`,
    };
  }

  /** Makes this the sampler traceServer() consults (undefined: none, tracing stopped). */
  static install(sampler: RequestSampler | undefined): void {
    installed = sampler;
  }

  /** True while a tracer's sampler is installed (tracing runs). */
  static isInstalled(): boolean {
    return installed !== undefined;
  }

  /** Incoming requests' decisions in this process so far, all samplers it has run. */
  static decisionCounts(): TraceSamplingCounts {
    return { ...decisions };
  }

  /**
   * The decision for an incoming request: untraced (probes), sampled (with the SDK's result), or
   * unsampled, with the context the request runs in: only its SpanContext (not-sampled flag, the
   * caller's trace id when there is one) and the caller's baggage, and no span, which is what makes
   * the express and pg instrumentations skip it.
   */
  decide(req: IncomingMessage): Decision {
    if (this.untracedPaths.has(pathOf(req.url))) return UNTRACED;
    const headers = req.headers;
    // No propagation header (most requests from browsers and probes): nothing to extract.
    const extracted =
      headers.traceparent === undefined && headers.baggage === undefined
        ? ROOT_CONTEXT
        : propagation.extract(ROOT_CONTEXT, headers);
    const parent = trace.getSpanContext(extracted);
    const hasParent = parent !== undefined && isSpanContextValid(parent);
    const traceId = hasParent ? parent.traceId : this.ids.generateTraceId();
    const result = this.inner.shouldSample(extracted, traceId, req.method ?? 'GET', SpanKind.SERVER, {}, []);
    if (result.decision !== SamplingDecision.NOT_RECORD) {
      decisions.sampled += 1;
      return { kind: 'sampled', result };
    }
    if ((result as RateLimitedResult)[RATE_LIMITED] === true) decisions.rate_limited += 1;
    else decisions.not_sampled += 1;
    const sc: SpanContext = {
      traceId,
      spanId: this.ids.generateSpanId(),
      traceFlags: TraceFlags.NONE,
      traceState: result.traceState ?? parent?.traceState,
    };
    const ctx = (extracted === ROOT_CONTEXT ? extracted : trace.deleteSpan(extracted)).setValue(
      UNSAMPLED_SPAN_CONTEXT_KEY,
      sc,
    );
    return { kind: 'unsampled', ctx };
  }

  /** The http instrumentation's ignoreIncomingRequestHook: true for probes and unsampled requests. */
  ignoreIncoming(req: IncomingMessage): boolean {
    this.pending = undefined;
    const marked = req as MarkedRequest;
    const decided = marked[DECIDED];
    if (decided !== undefined) {
      // traceServer() already decided: sampled.
      marked[DECIDED] = undefined;
      this.pending = decided;
      return false;
    }
    const d = this.decide(req);
    if (d.kind === 'untraced') return true;
    if (d.kind === 'sampled') {
      this.pending = d.result;
      return false;
    }
    // Listeners added to the request and response (body parsing, `close`) run in this context; the
    // instrumentation's own binding to its suppressed context is then a no-op (first binding wins).
    context.bind(d.ctx, req);
    const response = responseOf(req);
    if (response !== undefined) context.bind(d.ctx, response);
    marked[REQUEST_CONTEXT] = d.ctx;
    return true;
  }

  /** Clears a decision no span took (the hook ran, then the request was not traced after all). */
  clearPending(): void {
    this.pending = undefined;
  }
}

/**
 * The request's response, which Node has already attached to the socket when it emits `request`
 * (unless the client pipelines: then the socket's current response is an earlier request's, and the
 * response is left to the instrumentation's binding; only its `close` listeners are affected).
 */
function responseOf(req: IncomingMessage): ServerResponse | undefined {
  const r = (req.socket as { _httpMessage?: ServerResponse & { req?: IncomingMessage } } | null)
    ?._httpMessage;
  return r !== undefined && r.req === req ? r : undefined;
}

/**
 * Wraps the app's request listener so that an unsampled request's handlers run in its trace context:
 * `http.createServer(traceRequestListener(app))`. Free when tracing is off (one property read).
 */
export function traceRequestListener(listener: RequestListener): RequestListener {
  return function tracedRequest(req: IncomingMessage, response: ServerResponse): void {
    const ctx = (req as MarkedRequest)[REQUEST_CONTEXT];
    if (ctx === undefined) {
      listener(req, response);
      return;
    }
    (req as MarkedRequest)[REQUEST_CONTEXT] = undefined;
    context.with(ctx, listener, undefined, req, response);
  };
}

const emitInContext = Symbol('telehealth.emitContext');
type ContextEmitter = EventEmitter & { [emitInContext]?: Context };
const plainEmit = EventEmitter.prototype.emit;

/**
 * An emitter's events run in `ctx`: one own `emit` shared by all such emitters, instead of the
 * context manager's binding, which replaces eight methods per emitter and wraps every listener.
 */
function emitIn(ctx: Context, emitter: EventEmitter): void {
  (emitter as ContextEmitter)[emitInContext] = ctx;
  emitter.emit = contextEmit;
}
function contextEmit(this: ContextEmitter, event: string | symbol, ...args: unknown[]): boolean {
  const ctx = this[emitInContext];
  const emit = Object.getPrototypeOf(this).emit as typeof plainEmit;
  // Most events of a request have no listener (`prefinish`, `finish`, `end` of a bodyless GET…):
  // nothing runs, so no context switch (an AsyncLocalStorage run) is needed for them.
  if (ctx === undefined || this.listenerCount(event) === 0) return emit.call(this, event, ...args);
  return context.with(ctx, emit, this, event, ...args);
}

/**
 * Lets the server's unsampled requests bypass the http instrumentation: the sampler decides as the
 * server emits `request`, and an unsampled request goes straight to the app's listener in its trace
 * context (the instrumentation would run its ignore path: a suppressed context, an extra context
 * switch and a binding of the request and response emitters). Its request and response emit their
 * events in that context (body parsing, `close`). Sampled requests and probes take the
 * instrumentation's path, the sampled ones with the decision already taken. Use it with
 * traceRequestListener(): `traceServer(http.createServer(traceRequestListener(app)))`. Free when
 * tracing is off.
 */
export function traceServer<S extends Server>(server: S): S {
  type Emit = (this: S, event: string | symbol, ...args: unknown[]) => boolean;
  const instrumentedEmit = server.emit as Emit;
  server.emit = function tracedEmit(this: S, event: string | symbol, ...args: unknown[]): boolean {
    const sampler = installed;
    if (event !== 'request' || sampler === undefined) return instrumentedEmit.apply(this, [event, ...args]);
    const req = args[0] as MarkedRequest;
    const res = args[1] as ServerResponse;
    const d = sampler.decide(req);
    if (d.kind === 'unsampled') {
      emitIn(d.ctx, req);
      emitIn(d.ctx, res);
      return context.with(d.ctx, plainEmit as Emit, this, event, req, res);
    }
    if (d.kind === 'sampled') req[DECIDED] = d.result;
    return instrumentedEmit.call(this, event, req, res);
  } as S['emit'];
  return server;
}

/**
 * Injects an unsampled request's span context (not-sampled flag) where the http instrumentation
 * found no span to inject, so a downstream service honours the decision instead of taking its own.
 */
export class UnsampledAwarePropagator implements TextMapPropagator {
  constructor(private readonly inner: TextMapPropagator) {}

  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(ctx);
    if (sc === undefined || !isSpanContextValid(sc)) {
      const unsampled = ctx.getValue(UNSAMPLED_SPAN_CONTEXT_KEY) as SpanContext | undefined;
      if (unsampled !== undefined) {
        this.inner.inject(trace.setSpanContext(ctx, unsampled), carrier, setter);
        return;
      }
    }
    this.inner.inject(ctx, carrier, setter);
  }

  extract: TextMapPropagator['extract'] = (ctx, carrier, getter) => this.inner.extract(ctx, carrier, getter);

  fields(): string[] {
    return this.inner.fields();
  }
}
