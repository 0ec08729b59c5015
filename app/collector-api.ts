/** The pieces of collector/ the service uses, through the collector's public index. */
export {
  openDatabase,
  pseudonymousRef,
  parseEvent,
  RESOURCE_TYPES,
  EVENT_TYPES,
  CURRENCIES,
  ACTOR_ROLES,
  collectorMetricNames,
  createCollector,
  createLogger,
  accessLogListener,
  traceRequestListener,
  logCountersFromTelemetry,
  shutdownTracing,
} from '../collector';
export type {
  Database,
  Queryable,
  ResourceType,
  ActorRole,
  Currency,
  EventReason,
  EventType,
  Collector,
  Logger,
  LogLevel,
} from '../collector';
