/**
 * RED metrics of the HTTP API: one histogram series per {method, route, status_code}, whose `_count`
 * is also rendered as `http_requests_total`, so a request costs one bucket increment and no second
 * counter. Series are found through two small maps keyed by route and by a number (status*8+method),
 * so the request path allocates nothing but its listener closure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isSpanContextValid, type Span, trace, TraceFlags } from '@opentelemetry/api';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Registry } from 'prom-client';
import { errors } from './errors';
import {
  type ExpositionFormat,
  formatLabelPairs,
  header,
  parseLabelPairs as parseLabels,
} from './exposition';
import {
  type Exemplar,
  type HistogramSeries,
  leTexts,
  newHistogramSeries,
  observeInto,
  renderHistogramSeries,
} from './histogram';
import { MAX_LABEL_VALUE_LENGTH } from './label-guard';
import { NATIVE_RENDER, type NativeRenderable } from './metric-base';
import {
  EXPORTER_METRICS,
  HTTP_DURATION_BUCKETS_SECONDS,
  HTTP_LABELS,
  HTTP_METHOD_OTHER,
  HTTP_METHODS,
  LABEL_OVERFLOW_VALUE,
  ROUTE_UNMATCHED,
  STATUS_CLIENT_CLOSED,
} from './metric-names';

/** Paths that are infrastructure, not traffic: scrapes and probes would swamp the RED metrics. */
export const UNCOUNTED_ROUTES: ReadonlySet<string> = new Set(['/metrics', '/api/health', '/api/ready']);

const LABEL_NAMES = [HTTP_LABELS.method, HTTP_LABELS.route, HTTP_LABELS.status] as const;
const METHOD_COUNT = HTTP_METHODS.length + 1;
const METHOD_LABELS: readonly string[] = [...HTTP_METHODS, HTTP_METHOD_OTHER];
const OTHER_METHOD_INDEX = HTTP_METHODS.length;
const METHOD_INDEX = new Map<string, number>(HTTP_METHODS.map((m, i) => [m, i]));
const CLIENT_CLOSED = Number(STATUS_CLIENT_CLOSED);

export interface HttpMetricsOptions {
  namespace: string;
  registry: Registry;
  /** Most distinct route labels; later routes are counted as `other` (a safety net: templates are bounded). */
  routeCap: number;
  onOverflow(metric: string): void;
}

const REQUEST_STATE = Symbol('telemetry.httpRequestState');
const ROUTE_LABEL = Symbol('telemetry.routeLabel');

interface RequestState {
  metrics: HttpMetrics;
  req: Request;
  start: number;
  span: Span | undefined;
}

interface RouteLabel {
  baseUrl: string;
  label: string;
  counted: boolean;
}
interface RouteLike {
  path?: unknown;
  [ROUTE_LABEL]?: RouteLabel;
}

/**
 * The route's label for this mount: the mount path as a template plus the route's own template.
 * Cached on Express's Route object (one per template), so the label string is the same, hashed
 * once, on every request; a different spelling of the mount path recomputes it.
 */
function labelOf(route: RouteLike, baseUrl: string): RouteLabel {
  let cached = route[ROUTE_LABEL];
  if (cached === undefined || cached.baseUrl !== baseUrl) {
    const path = route.path;
    const label = templateMountPath(baseUrl) + (typeof path === 'string' ? path : String(path));
    cached = { baseUrl, label, counted: !UNCOUNTED_ROUTES.has(label) };
    route[ROUTE_LABEL] = cached;
  }
  return cached;
}

type RoutedRequest = IncomingMessage & { route?: RouteLike | null; baseUrl?: string; originalUrl?: string };

const nonEmpty = (segment: string) => segment !== '';
/** A template whose segments cannot be counted: wildcards, optional parts, regular expressions. */
const UNCOUNTABLE_TEMPLATE = /[*{}()[\]?+]/;

/**
 * The mount path the route was matched under. Express restores `req.baseUrl` as an error leaves a
 * router (`next(err)`, a handler's rejection), so a response sent by an error handler further out
 * would carry only the outer mount path: `/login` for `/api/auth/login`, and every router's `/:id`
 * under one label. An error response's path is therefore checked against the template: when it has
 * other than the template's segments past `baseUrl`, the mount path is the path less those segments
 * (what `baseUrl` was inside the route). Responses below 400 are sent inside their route and are not
 * checked, so the common case costs nothing.
 */
function mountPathOf(req: RoutedRequest, route: RouteLike, status: number): string {
  const baseUrl = req.baseUrl;
  // Not routed by Express (routeNamer): the template is the whole label.
  if (baseUrl === undefined) return '';
  const template = route.path;
  if (status < 400 || typeof template !== 'string' || UNCOUNTABLE_TEMPLATE.test(template)) return baseUrl;
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  const segments = (q === -1 ? url : url.slice(0, q)).split('/').filter(nonEmpty);
  const own = template.split('/').filter(nonEmpty).length;
  const kept = segments.length - own;
  if (kept < 0 || kept === baseUrl.split('/').filter(nonEmpty).length) return baseUrl;
  return kept === 0 ? '' : `/${segments.slice(0, kept).join('/')}`;
}

/**
 * The matched route's template with its mount path (`/api/patients/:id`), or undefined when no route
 * matched: what the RED metrics label a request with, for other per-route records (the access log).
 * `status`: the response's status code (default: Express's `req.res`), which says whether an error
 * handler may have sent it outside its route (mountPathOf).
 */
export function routeTemplate(req: IncomingMessage, status?: number): string | undefined {
  const r = req as RoutedRequest & { res?: { statusCode?: number } };
  const route = r.route;
  if (route === undefined || route === null) return undefined;
  return labelOf(route, mountPathOf(r, route, status ?? r.res?.statusCode ?? 0)).label;
}

const NO_NEXT: NextFunction = () => undefined;

/**
 * For a handler served outside Express (a plain `http` listener): returns a function that names the
 * request's route for the RED metrics, as Express's `req.route` does. One route object per template,
 * so its label is cached once like Express's. Give a template from a closed set, never a raw path.
 */
export function routeNamer(template: string): (req: IncomingMessage) => void {
  const route: RouteLike = { path: template };
  return (req) => {
    const r = req as { route?: RouteLike };
    if (r.route === undefined) r.route = route;
  };
}

/**
 * The one listener: `close`, which a response emits last, after `finish` when it was sent (Node >= 12)
 * or alone when the client went away first (then `writableFinished` is false: 499). One listener and
 * no removal: a `finish` listener would share the server's own and make every emit copy the list, and
 * nothing follows `close`. The state is cleared so a second `close` cannot count twice.
 */
function onResponseClose(this: Response): void {
  const holder = this as Response & { [REQUEST_STATE]?: RequestState };
  const state = holder[REQUEST_STATE];
  if (state === undefined) return;
  holder[REQUEST_STATE] = undefined;
  state.metrics.finish(state, this);
}

export class HttpMetrics {
  readonly requestsTotalName: string;
  readonly durationName: string;
  private readonly buckets = HTTP_DURATION_BUCKETS_SECONDS as readonly number[];
  private readonly les = leTexts(this.buckets);
  /** route -> (status * METHOD_COUNT + methodIndex) -> series */
  private readonly byRoute = new Map<string, Map<number, HistogramSeries>>();
  private readonly all: HistogramSeries[] = [];
  private readonly routeCap: number;
  private readonly onOverflow: (metric: string) => void;

  constructor(opts: HttpMetricsOptions) {
    this.requestsTotalName = `${opts.namespace}_${EXPORTER_METRICS.httpRequestsTotal}`;
    this.durationName = `${opts.namespace}_${EXPORTER_METRICS.httpRequestDurationSeconds}`;
    this.routeCap = opts.routeCap;
    this.onOverflow = opts.onOverflow;
    for (const name of [this.requestsTotalName, this.durationName]) {
      if (opts.registry.getSingleMetric(name) !== undefined) throw new errors.DUPLICATE_METRIC(name);
    }
    opts.registry.registerMetric(this.counterView() as never);
    opts.registry.registerMetric(this.histogramView() as never);
  }

  /** Records one finished (or aborted) request. Exposed for the benchmark and tests. */
  record(
    method: string,
    route: string,
    status: number,
    seconds: number,
    exemplar: Exemplar | undefined,
  ): void {
    const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD_INDEX;
    let perRoute = this.byRoute.get(route);
    if (perRoute === undefined) {
      if (this.byRoute.size >= this.routeCap || route.length > MAX_LABEL_VALUE_LENGTH) {
        this.onOverflow(this.durationName);
        route = LABEL_OVERFLOW_VALUE;
        perRoute = this.byRoute.get(route);
      }
      if (perRoute === undefined) {
        perRoute = new Map();
        this.byRoute.set(route, perRoute);
      }
    }
    const statusKey = status >= 100 && status <= 599 && Number.isInteger(status) ? status : 0;
    const key = statusKey * METHOD_COUNT + methodIndex;
    let s = perRoute.get(key);
    if (s === undefined) {
      const labels = formatLabelPairs(LABEL_NAMES, [
        METHOD_LABELS[methodIndex] as string,
        route,
        statusKey === 0 ? LABEL_OVERFLOW_VALUE : String(statusKey),
      ]);
      s = newHistogramSeries(labels, this.buckets.length);
      perRoute.set(key, s);
      this.all.push(s);
    }
    observeInto(s, this.buckets, seconds, exemplar);
  }

  /** Label sets currently held (each renders as one counter sample and one histogram). */
  seriesCount(): number {
    return this.all.length;
  }

  middleware(): RequestHandler {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const metrics = this;
    return function telemetryHttpMetrics(req: Request, res: Response, next: NextFunction): void {
      // One small state object and one shared listener: no closure is created per request.
      (res as Response & { [REQUEST_STATE]?: RequestState })[REQUEST_STATE] = {
        metrics,
        req,
        start: performance.now(),
        span: trace.getActiveSpan(),
      };
      res.on('close', onResponseClose);
      next();
    };
  }

  /**
   * The same metrics without an Express layer: wraps the app's request listener. Express 5 spends more
   * dispatching one more layer (even a no-op one) than this module spends measuring; `req.route` and
   * `req.baseUrl` are read at finish either way, so the labels are identical.
   */
  requestListener(
    listener: (req: IncomingMessage, res: ServerResponse) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    const measure = this.middleware();
    return function telemetryHttpRequest(req: IncomingMessage, res: ServerResponse): void {
      measure(req as Request, res as Response, NO_NEXT);
      listener(req, res);
    };
  }

  /** Called once per request by onResponseClose. */
  finish(state: RequestState, res: Response): void {
    const seconds = (performance.now() - state.start) / 1000;
    const req = state.req;
    // The route is known only once routing has run, so it is read at the end, with the mount prefix.
    const layerRoute = (req as { route?: RouteLike }).route;
    let route: string;
    if (layerRoute === undefined || layerRoute === null) {
      route = ROUTE_UNMATCHED;
    } else {
      const cached = labelOf(layerRoute, mountPathOf(req, layerRoute, res.statusCode));
      if (!cached.counted) return;
      route = cached.label;
    }
    const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
    let exemplar: Exemplar | undefined;
    const span = state.span;
    if (span !== undefined) {
      const sc = span.spanContext();
      if ((sc.traceFlags & TraceFlags.SAMPLED) !== 0 && isSpanContextValid(sc)) {
        exemplar = {
          labelText: `trace_id="${sc.traceId}",span_id="${sc.spanId}"`,
          value: seconds,
          timestamp: Date.now() / 1000,
        };
      }
    }
    this.record(req.method, route, status, seconds, exemplar);
  }

  private counterView(): NativeRenderable & {
    get(): Promise<unknown>;
    reset(): void;
    type: string;
    help: string;
  } {
    const name = this.requestsTotalName;
    const help = 'HTTP requests handled, by method, route template and status code (499: client went away).';
    return {
      name,
      help,
      type: 'counter',
      sampleCount: () => this.all.length,
      reset: () => undefined,
      [NATIVE_RENDER]: (format: ExpositionFormat) => {
        let out = header(name, 'counter', help, format);
        // The name ends in `_total`, which is also the OpenMetrics sample name.
        for (const s of this.all) out += `${name}{${s.labelText}} ${s.count}\n`;
        return out;
      },
      get: async () => ({
        name,
        help,
        type: 'counter',
        aggregator: 'sum',
        values: this.all.map((s) => ({ value: s.count, labels: parseLabels(s.labelText) })),
      }),
    };
  }

  private histogramView(): NativeRenderable & {
    get(): Promise<unknown>;
    reset(): void;
    type: string;
    help: string;
  } {
    const name = this.durationName;
    const help = 'HTTP request duration in seconds, from the first middleware to the end of the response.';
    return {
      name,
      help,
      type: 'histogram',
      sampleCount: () => this.all.length * (this.buckets.length + 3),
      reset: () => undefined,
      [NATIVE_RENDER]: (format: ExpositionFormat) => {
        let out = header(name, 'histogram', help, format);
        for (const s of this.all) out += renderHistogramSeries(name, s, this.les, format);
        return out;
      },
      get: async () => {
        const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> =
          [];
        for (const s of this.all) {
          const labels = parseLabels(s.labelText);
          let cumulative = 0;
          for (let i = 0; i <= this.buckets.length; i++) {
            cumulative += s.counts[i] as number;
            const le = i < this.buckets.length ? (this.buckets[i] as number) : '+Inf';
            values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${name}_bucket` });
          }
          values.push({ value: s.sum, labels, metricName: `${name}_sum` });
          values.push({ value: s.count, labels, metricName: `${name}_count` });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
    };
  }
}

/**
 * `req.baseUrl` is the matched mount path, not its template: a router mounted at `/p/:id/notes`
 * reports `/p/3f2a…/notes`. Identifier-looking segments (numbers, UUIDs, long hex or tokens) are
 * replaced by `:param`, so an id (possibly a patient's) never becomes a label value. It is the
 * caller's spelling, too: Express matches mount paths regardless of case unless told otherwise, so
 * the path is lower-cased (`/API/Patients` is `/api/patients`), or every spelling would be a label of
 * its own. Runs only when a route's cached label misses, not per request.
 */
const ID_SEGMENT =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[A-Za-z0-9_-]{24,})$/i;

export function templateMountPath(baseUrl: string): string {
  if (baseUrl === '') return baseUrl;
  const segments = baseUrl.toLowerCase().split('/');
  for (let i = 0; i < segments.length; i++) {
    if (ID_SEGMENT.test(segments[i] as string)) segments[i] = ':param';
  }
  return segments.join('/');
}
