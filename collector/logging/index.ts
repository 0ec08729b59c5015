/** Public API of collector/logging: the allow-listed ECS logger, access logs, log shipping. */
export { createLogger } from './logger';
export type {
  CompiledLogLine,
  CreateLoggerOptions,
  Logger,
  LoggerStats,
  LogLevel,
  LogMethod,
  MessageCheck,
} from './logger';
export type { CompiledFieldName } from './compiled-line';
export { accessLogListener, accessLogMiddleware, logAccess } from './access-log';
export type { AccessLogEntry, AccessLogOptions } from './access-log';
export {
  ALLOWED_LOG_FIELDS,
  EVENT_OUTCOMES,
  HTTP_METHODS,
  LOG_LABEL_KEYS,
  sanitiseFields,
  sanitiseMessage,
} from './fields';
export type { EventOutcome, HttpMethod, LogFields, LogLabelKey } from './fields';
export { errorType } from './error-type';
export { logCountersFromRegistry, logCountersFromTelemetry, NOOP_LOG_COUNTERS } from './metrics';
export type { CounterFactory, LogCounters, LogDropReason } from './metrics';
export { elasticsearchConfigFromEnv, LoggingConfigError } from './elasticsearch-config';
export { createElasticsearchTarget } from './elasticsearch-target';
export type { ElasticsearchTargetOptions } from './elasticsearch-target';
export { createFdTarget } from './fd-target';
export type { FdTargetOptions } from './fd-target';
export type { LogTarget, TargetContext } from './log-target';
