/**
 * The metric-name contract of the exporter: every series it (and the app it instruments) exports.
 * alerts/ and dashboards/ import these names instead of retyping them; changing one here changes
 * the rules, tests and dashboards generated from them. No runtime dependencies: keep it that way.
 */

export const DEFAULT_NAMESPACE = 'telehealth';

/** Allowed namespace: Prometheus metric-name charset, no double underscore (reserved). */
export const NAMESPACE_PATTERN = /^[a-zA-Z][a-zA-Z0-9]*(_[a-zA-Z0-9]+)*$/;

/**
 * Latency buckets in seconds. 0.2 s is the p95 SLO and 2 s the P95 alert threshold: both sit on
 * exact boundaries so that histogram_quantile() and the `le` SLI need no interpolation there.
 */
export const HTTP_DURATION_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 2.5, 5, 10,
] as const;

/** Label names of the HTTP RED metrics (dashboards group and filter by them). */
export const HTTP_LABELS = { method: 'method', route: 'route', status: 'status_code' } as const;

/** Methods counted as themselves; any other method is counted as `OTHER`. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const HTTP_METHOD_OTHER = 'OTHER';
/** Route label of a request that matched no route. */
export const ROUTE_UNMATCHED = '__unmatched__';
/** Status label of a request whose client went away before the response was sent (nginx's convention). */
export const STATUS_CLIENT_CLOSED = '499';
/** Value a capped or closed label takes when a new value would exceed its set. */
export const LABEL_OVERFLOW_VALUE = 'other';

/** Pool states of `db_pool_connections`. */
export const DB_POOL_STATES = ['total', 'idle', 'waiting'] as const;

/** Metric names without the namespace prefix. */
export const EXPORTER_METRICS = {
  httpRequestsTotal: 'http_requests_total',
  httpRequestDurationSeconds: 'http_request_duration_seconds',
  buildInfo: 'build_info',
  labelOverflowTotal: 'metrics_label_overflow_total',
  /** 1 when the named readiness dependency passed its last check, else 0. */
  dependencyUp: 'dependency_up',
  /** Configured resource limits of the service, the denominators of the service CPU/memory alerts. */
  processCpuLimitCores: 'process_cpu_limit_cores',
  processMemoryLimitBytes: 'process_memory_limit_bytes',
  dbPoolConnections: 'db_pool_connections',
  // prom-client default metrics, prefixed with the namespace:
  processCpuSecondsTotal: 'process_cpu_seconds_total',
  processResidentMemoryBytes: 'process_resident_memory_bytes',
  processStartTimeSeconds: 'process_start_time_seconds',
  nodejsHeapSizeUsedBytes: 'nodejs_heap_size_used_bytes',
  nodejsHeapSizeTotalBytes: 'nodejs_heap_size_total_bytes',
  nodejsEventloopLagP99Seconds: 'nodejs_eventloop_lag_p99_seconds',
  nodejsGcDurationSeconds: 'nodejs_gc_duration_seconds',
} as const;

export type ExporterMetricKey = keyof typeof EXPORTER_METRICS;

/** Full names for a namespace: `exporterMetricNames().httpRequestsTotal === 'telehealth_http_requests_total'`. */
export function exporterMetricNames(namespace: string = DEFAULT_NAMESPACE): {
  readonly [K in ExporterMetricKey]: string;
} {
  const out = {} as Record<ExporterMetricKey, string>;
  for (const key of Object.keys(EXPORTER_METRICS) as ExporterMetricKey[]) {
    out[key] = `${namespace}_${EXPORTER_METRICS[key]}`;
  }
  return Object.freeze(out);
}

/** node_exporter series used for host CPU/memory/disk/network (not namespaced: node_exporter's own). */
export const NODE_EXPORTER_METRICS = {
  cpuSecondsTotal: 'node_cpu_seconds_total',
  memoryAvailableBytes: 'node_memory_MemAvailable_bytes',
  memoryTotalBytes: 'node_memory_MemTotal_bytes',
  filesystemAvailBytes: 'node_filesystem_avail_bytes',
  filesystemSizeBytes: 'node_filesystem_size_bytes',
  networkReceiveBytesTotal: 'node_network_receive_bytes_total',
  networkTransmitBytesTotal: 'node_network_transmit_bytes_total',
} as const;
