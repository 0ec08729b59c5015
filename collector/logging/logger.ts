/**
 * createLogger(): pino writing ECS JSON, allow-listed fields only, trace ids from the active
 * OpenTelemetry span, and bounded non-blocking output (stdout or a file, plus optional shipping to
 * Elasticsearch). The caller pays for serialising one line and an array push; the rest happens on
 * the event loop later, and a slow sink costs dropped (and counted) lines instead of memory.
 */
import { activeSpanContext } from '../trace-context';
import { ecsFormat } from '@elastic/ecs-pino-format';
import pino from 'pino';
import { BoundedQueue } from './bounded-queue';
import { compileFields, type CompiledFieldName } from './compiled-line';
import { elasticsearchConfigFromEnv } from './elasticsearch-config';
import { createElasticsearchTarget, type ElasticsearchTargetOptions } from './elasticsearch-target';
import { createFdTarget, type FdTargetOptions } from './fd-target';
import { sanitiseFields, sanitiseMessage, type LogFields } from './fields';
import type { LogTarget, TargetContext } from './log-target';
import { NOOP_LOG_COUNTERS, type LogCounters, type LogDropReason } from './metrics';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** True when S is a string literal type (no `string` holes from run-time values). */
type IsLiteral<S extends string> = string extends S
  ? false
  : S extends ''
    ? true
    : S extends `${infer _H}${infer T}`
      ? string extends T
        ? false
        : IsLiteral<T>
      : false;

/**
 * Messages must be string literals: a message built from run-time strings (`\`hi ${name}\``)
 * demands an impossible third argument, so it does not compile. Values go in fields, which are
 * allow-listed; the free-text part of a line stays constant.
 */
export type MessageCheck<M extends string> =
  IsLiteral<M> extends true ? [] : [error: 'log messages must be string literals'];

export type LogMethod = <M extends string>(
  fields: LogFields,
  message: M,
  ...literalOnly: MessageCheck<M>
) => void;

export interface LoggerStats {
  /** Fields refused by the allow-list (unknown name or bad value) since start. */
  fieldsDropped: number;
  sinks: Array<{
    name: string;
    bufferedBytes: number;
    bufferedLines: number;
    peakBufferedBytes: number;
    writtenLines: number;
    droppedLines: Record<LogDropReason, number>;
  }>;
}

/** A line compiled by `Logger.compile()`: the same line as the level method would write. */
export type CompiledLogLine<K extends CompiledFieldName> = (values: Pick<LogFields, K>) => void;

export interface Logger {
  fatal: LogMethod;
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  trace: LogMethod;
  /** A logger whose lines all carry `fields` (checked once, here). */
  child(fields: LogFields): Logger;
  /**
   * A writer for lines with these fields (allow-listed, checked per line as usual) and this
   * message, serialised by a function made once: for lines written on every request.
   */
  compile<K extends CompiledFieldName, M extends string>(
    level: LogLevel,
    names: readonly K[],
    message: M,
    ...literalOnly: MessageCheck<M>
  ): CompiledLogLine<K>;
  isLevelEnabled(level: LogLevel): boolean;
  stats(): LoggerStats;
  /**
   * Flushes every sink until the deadline (default 4 s, inside a 5 s shutdown budget), counts
   * what could not be written as `sink_error`, and releases timers and sockets. Idempotent.
   */
  close(timeoutMs?: number): Promise<{ lostLines: number; durationMs: number }>;
}

export interface CreateLoggerOptions {
  serviceName: string;
  serviceVersion?: string;
  serviceEnvironment?: string;
  /** Default: LOG_LEVEL, else `info`. */
  level?: LogLevel;
  /** Where lines go locally (default stdout); `none` for Elasticsearch only. */
  destination?: FdTargetOptions['destination'] | 'none';
  /** A custom target instead of `destination` (tests, benchmarks). */
  target?: LogTarget;
  /** Cap of the local buffer (default 16 MiB). */
  maxBufferBytes?: number;
  /** `env` (default): from ELASTICSEARCH_URL etc.; false: never ship. */
  elasticsearch?: ElasticsearchTargetOptions | 'env' | false;
  /** Cap of the buffer in front of Elasticsearch (default 16 MiB), used while it is slow or down. */
  elasticsearchBufferBytes?: number;
  counters?: LogCounters;
  /** Default timeout of close() in ms (default 4000). */
  closeTimeoutMs?: number;
}

const MiB = 1024 * 1024;
// Backstop only: the allow-list already removed these; redact catches a regression in it.
const REDACT_PATHS = [
  'password',
  'token',
  'authorization',
  'cookie',
  'ssn',
  'email',
  'name',
  'dob',
  'phone',
  'address',
  'message_raw',
];

interface Shared {
  queues: BoundedQueue[];
  counters: LogCounters;
  fieldsDropped: number;
  closing?: Promise<{ lostLines: number; durationMs: number }>;
  closeTimeoutMs: number;
  messages: Map<string, string>;
  /** pino's `timestamp` function, also used by compiled lines. */
  timestamp: () => string;
  /** Where pino writes (every queue); compiled lines are written here too. */
  write: (line: string) => void;
}

/**
 * ECS `@timestamp` without a Date allocation and ISO formatting per line (the largest single cost
 * in a profile of this logger): the ISO prefix is recomputed once per second.
 */
function isoTimestamp(): () => string {
  let second = -1;
  let prefix = '';
  return () => {
    const now = Date.now();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      prefix = `,"@timestamp":"${new Date(s * 1000).toISOString().slice(0, 20)}`;
    }
    const ms = now - s * 1000;
    return `${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  };
}

function resolveLevel(level: string | undefined): LogLevel {
  return level && (LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : 'info';
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const counters = opts.counters ?? NOOP_LOG_COUNTERS;
  const shared: Shared = {
    queues: [],
    counters,
    fieldsDropped: 0,
    closeTimeoutMs: opts.closeTimeoutMs ?? 4000,
    messages: new Map(),
    timestamp: isoTimestamp(),
    write: () => undefined,
  };
  const onDrop = (reason: LogDropReason, lines: number): void => counters.linesDropped(reason, lines);

  const local =
    opts.target ??
    (opts.destination === 'none' ? undefined : createFdTarget({ destination: opts.destination ?? 'stdout' }));
  if (local)
    shared.queues.push(new BoundedQueue(local, { maxBytes: opts.maxBufferBytes ?? 16 * MiB, onDrop }));

  const es =
    opts.elasticsearch === undefined || opts.elasticsearch === 'env'
      ? elasticsearchConfigFromEnv()
      : opts.elasticsearch || undefined;
  if (es) {
    // ctx.lost is only called after construction, when `queue` is set.
    const ctx: TargetContext = {
      lost: (lines) => queue.drop('sink_error', lines),
      shippingError: () => counters.shippingError(),
    };
    const queue: BoundedQueue = new BoundedQueue(createElasticsearchTarget(es, ctx), {
      maxBytes: opts.elasticsearchBufferBytes ?? 16 * MiB,
      onDrop,
    });
    shared.queues.push(queue);
  }

  const queues = shared.queues;
  const stream = {
    write(line: string): void {
      for (let i = 0; i < queues.length; i++) queues[i]!.push(line);
    },
  };
  shared.write = stream.write;

  const ecs = ecsFormat({
    serviceName: opts.serviceName,
    serviceVersion: opts.serviceVersion,
    serviceEnvironment: opts.serviceEnvironment,
    convertErr: false,
    convertReqRes: false,
    apmIntegration: false,
  });
  const root = pino(
    {
      ...ecs,
      timestamp: shared.timestamp,
      level: opts.level ?? resolveLevel(process.env.LOG_LEVEL),
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        ...ecs.formatters,
        log(obj: Record<string, unknown>) {
          const { fields, dropped } = sanitiseFields(obj);
          if (dropped > 0) shared.fieldsDropped += dropped;
          if (fields['trace.id'] === undefined) {
            // Sampled or not: an unsampled request has no span, only its trace context.
            const sc = activeSpanContext();
            if (sc !== undefined) {
              fields['trace.id'] = sc.traceId;
              fields['span.id'] = sc.spanId;
            }
          }
          return fields;
        },
      },
    },
    stream,
  );
  return wrap(root, shared);
}

/** Messages are literals, so their checked form is cached (bounded, in case one is not). */
function checkedMessage(shared: Shared, message: string): string {
  let checked = shared.messages.get(message);
  if (checked === undefined) {
    checked = sanitiseMessage(message);
    if (shared.messages.size < 2000) shared.messages.set(message, checked);
  }
  return checked;
}

/** pino internals a compiled line reuses, so that it is byte for byte the line pino would write. */
const { lsCacheSym, chindingsSym, endSym, messageKeySym } = pino.symbols as unknown as Record<string, symbol>;

function compileLine(
  p: pino.Logger,
  shared: Shared,
  level: LogLevel,
  names: readonly CompiledFieldName[],
  message: string,
): CompiledLogLine<CompiledFieldName> {
  const internals = p as unknown as Record<symbol, unknown>;
  const fields = compileFields(names, (n) => (shared.fieldsDropped += n));
  const msg = `,${JSON.stringify(internals[messageKeySym!])}:${JSON.stringify(checkedMessage(shared, message))}`;
  const levelValue = p.levels.values[level] as number;
  return (values) => {
    if (!p.isLevelEnabled(level)) return;
    // pino's prefix (level, @timestamp, then the ECS and child bindings), our fields, message, end.
    const prefix = (internals[lsCacheSym!] as Record<number, string>)[levelValue] as string;
    shared.write(
      prefix +
        shared.timestamp() +
        (internals[chindingsSym!] as string) +
        fields(values, activeSpanContext) +
        msg +
        (internals[endSym!] as string),
    );
  };
}

function wrap(p: pino.Logger, shared: Shared): Logger {
  const method = (level: LogLevel): LogMethod =>
    ((fields: LogFields, message: string): void => {
      if (!p.isLevelEnabled(level)) return;
      // The caller's object is only read (formatters.log builds the line's own object).
      p[level](fields as object, checkedMessage(shared, message));
    }) as LogMethod;
  const logger: Logger = {
    fatal: method('fatal'),
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    trace: method('trace'),
    child(fields) {
      const { fields: bindings, dropped } = sanitiseFields(fields);
      shared.fieldsDropped += dropped;
      return wrap(p.child(bindings), shared);
    },
    isLevelEnabled: (level) => p.isLevelEnabled(level),
    compile: ((level: LogLevel, names: readonly CompiledFieldName[], message: string) =>
      compileLine(p, shared, level, names, message)) as Logger['compile'],
    stats() {
      return {
        fieldsDropped: shared.fieldsDropped,
        sinks: shared.queues.map((q) => ({ name: q.targetName, ...q.stats() })),
      };
    },
    close(timeoutMs) {
      if (!shared.closing) {
        const started = Date.now();
        const deadline = started + (timeoutMs ?? shared.closeTimeoutMs);
        shared.closing = Promise.all(shared.queues.map((q) => q.close(deadline))).then((results) => ({
          lostLines: results.reduce((n, r) => n + r.lost, 0),
          durationMs: Date.now() - started,
        }));
      }
      return shared.closing;
    },
  };
  return logger;
}
