/**
 * Starts the OpenTelemetry Node SDK for traces only (metrics are prom-client's, logs go through
 * collector/logging). Everything else comes from the standard variables:
 *   OTEL_SDK_DISABLED=true               nothing is started or patched
 *   OTEL_TRACES_EXPORTER=otlp|console|none (default otlp)
 *   OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (default http://localhost:4318)
 *   OTEL_EXPORTER_OTLP_PROTOCOL          http/protobuf (default) | http/json | grpc
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
 *   OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG (default parentbased_traceidratio at 0.1), applied to
 *     incoming requests before the http instrumentation runs (request-sampler.ts)
 *   TRACE_SAMPLING_MAX_PER_SECOND        the ratio samplers' cap on new traces a second (default 10;
 *                                        0: none; rate-limited-sampler.ts)
 *   OTEL_PROPAGATORS                     tracecontext,baggage (default) | none
 *   OTEL_BSP_* batch span processor settings
 */
import { isSpanContextValid, TraceFlags } from '@opentelemetry/api';
import {
  defaultResource,
  hostDetector,
  osDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  serviceNameEnvDetector,
} from '@opentelemetry/resources';
import { startNodeSdk } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { activeSpanContext } from '../trace-context';
import {
  createInstrumentations,
  DEFAULT_UNTRACED_PATHS,
  type InstrumentationOptions,
} from './instrumentations';
import { propagatorsFromEnv } from './propagators';
import { RequestSampler } from './request-sampler';
import { samplerFromEnv, type SamplerChoice } from './sampler';

export interface StartTracingOptions extends InstrumentationOptions {
  /** Used when OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES do not name the service. */
  serviceName: string;
  serviceVersion?: string;
  /** Replaces the exporter chosen by OTEL_TRACES_EXPORTER (tests: an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  env?: NodeJS.ProcessEnv;
}

export interface TracingState {
  started: boolean;
  /** Why it is not running, when it is not. */
  reason?: 'disabled' | 'already_started';
  sampler?: Pick<SamplerChoice, 'name' | 'ratio' | 'maxPerSecond' | 'warning'>;
}

let sdk: { shutdown(): Promise<void> } | undefined;
let shuttingDown: Promise<void> | undefined;

export function startTracing(opts: StartTracingOptions): TracingState {
  const env = opts.env ?? process.env;
  if (sdk) return { started: false, reason: 'already_started' };
  if (/^(true|1)$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) return { started: false, reason: 'disabled' };
  const choice = samplerFromEnv(env);
  // Incoming requests are sampled before the http instrumentation does any work for them.
  const requests = new RequestSampler(choice.sampler, new Set(opts.untracedPaths ?? DEFAULT_UNTRACED_PATHS));
  // traceServer() lets unsampled requests bypass the http instrumentation with this decision.
  RequestSampler.install(requests);
  const propagation = propagatorsFromEnv(env);
  const base: Record<string, string> = { [ATTR_SERVICE_NAME]: opts.serviceName };
  if (opts.serviceVersion) base[ATTR_SERVICE_VERSION] = opts.serviceVersion;
  sdk = startNodeSdk({
    logLevel: env.OTEL_LOG_LEVEL ?? 'warn',
    // Lowest priority: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override these.
    baseResource: defaultResource().merge(resourceFromAttributes(base)),
    // The SDK default adds the process detector, whose process.command_args may carry secrets
    // passed on a command line; OTEL_NODE_RESOURCE_DETECTORS still chooses when it is set.
    resourceDetectors: env.OTEL_NODE_RESOURCE_DETECTORS
      ? undefined
      : [serviceInstanceIdDetector, serviceNameEnvDetector, hostDetector, osDetector],
    sampler: requests.sdkSampler,
    propagators: propagation.propagators,
    spanProcessors: opts.spanProcessors,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: createInstrumentations(requests),
  });
  shuttingDown = undefined;
  const warning = [choice.warning, propagation.warning].filter((w) => w !== undefined).join('; ');
  return {
    started: true,
    sampler: {
      name: choice.name,
      ratio: choice.ratio,
      maxPerSecond: choice.maxPerSecond,
      warning: warning.length > 0 ? warning : undefined,
    },
  };
}

/** Flushes pending spans (bounded by `timeoutMs`, default 3 s) and stops the SDK. Idempotent. */
export function shutdownTracing(timeoutMs = 3000): Promise<void> {
  if (!sdk) return shuttingDown ?? Promise.resolve();
  const current = sdk;
  sdk = undefined;
  RequestSampler.install(undefined);
  let timer: NodeJS.Timeout | undefined;
  shuttingDown = Promise.race([
    current.shutdown().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
  return shuttingDown;
}

export interface TraceIds {
  traceId: string;
  spanId: string;
  /** Only sampled traces are exported: use these for exemplars. */
  sampled: boolean;
}

/** The active request's or span's ids (sampled or not), or undefined outside both. */
export function currentTraceIds(): TraceIds | undefined {
  const sc = activeSpanContext();
  if (sc === undefined || !isSpanContextValid(sc)) return undefined;
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    sampled: (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
  };
}
