/** Public API of the exporter: everything other folders may import. */
export { createTelemetry } from './telemetry';
export { routeNamer, routeTemplate } from './http-metrics';
export type { CounterDefinition, GaugeDefinition, PoolStats, Telemetry, TelemetryOptions } from './telemetry';
export type { TelemetryConfig } from './config';
export { DEFAULT_SERIES_CAP } from './config';
export type { Counter } from './counter';
export type { Gauge } from './gauge';
export type { Histogram } from './histogram';
export type { LabelSpec } from './label-guard';
export { isForbiddenLabelName } from './label-guard';
export type { Readiness, ReadinessResult } from './readiness';
export type { MetricsServer, MetricsServerOptions } from './metrics-server';
export { DEFAULT_METRICS_PORT } from './metrics-server';
export type { ExpositionFormat } from './exposition';
export { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './exposition';
export { errors, isTelemetryError } from './errors';
export type { TelemetryError, TelemetryErrorCode } from './errors';
export * from './metric-names';
