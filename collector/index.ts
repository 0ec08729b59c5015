/** Public API of the collector: everything other folders may import. */
export * from './database';
export * from './metric-names';
export * from './logging';
export * from './tracing';
export { createCollector } from './collector';
export type {
  AdmitResult,
  Collector,
  CollectorLogger,
  CollectorOptions,
  CollectorPager,
  CollectorSchedule,
  CollectorStats,
  RecordResult,
  RejectReason,
} from './collector';
export {
  auditEventSchema,
  parseEvent,
  eventClass,
  CURRENCY_MINOR_EXPONENT,
  MAX_EVENT_AGE_MS,
  MAX_MINOR_UNITS,
  PSEUDONYMOUS_REF_PATTERN,
  RESOURCE_TYPES,
  SCHEMA_VERSION,
  SOURCE_PATTERN,
} from './events';
export type {
  AuditEvent,
  AuditEventOf,
  EventActor,
  EventAmount,
  EventIssue,
  EventResource,
  ParseResult,
  ResourceType,
} from './events';
export { pseudonymousRef } from './pseudonymous-ref';
export { FolderLease, FolderInUseError } from './folder-lease';
export { migrate, AUDIT_OWNER_ROLE, AUDIT_WRITER_ROLE } from './migrations';
export { ChainVerifier } from './chain-verifier';
export { CHAIN_HEAD_FILE, readChainHead } from './chain-head-file';
export type { BreakKind, ChainHead, VerifyResult } from './chain-verifier';
export { BUSINESS_GAUGES } from './collector-metrics';
export type { BusinessGauge, ScheduledJob } from './collector-metrics';
export type { EventsRouterOptions } from './http-router';
export { sha256Hex, signBody, SIGNATURE_HEADER, SOURCE_HEADER, TIMESTAMP_HEADER } from './source-auth';
export type { EventSource } from './source-auth';
