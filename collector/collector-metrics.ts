/**
 * The collector's metrics, registered once per Telemetry (a collector, its verifier and its jobs
 * share them). Every label is a closed set from metric-names.ts, and every valid combination of the
 * security and business counters starts at 0 (not the cartesian product: each event type has a
 * fixed outcome and its own reasons), so that the first failed login is visible to increase().
 */
import type { Telemetry } from '../exporter';
import {
  ACTOR_ROLES,
  COLLECTOR_METRICS as M,
  CURRENCIES,
  DROP_REASONS,
  EVENT_CLASSES,
  EVENT_TYPES,
  EVENT_TYPE_NAMES,
  JOB_OUTCOMES,
  OUTCOMES,
  PAYMENT_AMOUNT_EVENT_TYPES,
  REJECT_REASONS,
  SCHEDULED_JOBS,
} from './metric-names';

export type ScheduledJob = (typeof SCHEDULED_JOBS)[number];
/** Payment types whose amounts are summed (the closed set lives in metric-names.ts). */
export const AMOUNT_EVENT_TYPES = PAYMENT_AMOUNT_EVENT_TYPES;

/** Store batch durations: one unnest INSERT of 1000 rows takes ~20-50 ms here; 5 s means trouble. */
export const STORE_BATCH_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/**
 * Spool write durations: an fdatasync here takes 0.5 ms at the median and 12 ms at p99
 * (docs/benchmarks/collector.md); the p99 acknowledgement goal is 50 ms.
 */
export const SPOOL_WRITE_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export const BUSINESS_GAUGES = ['orders_open', 'prescriptions_pending', 'invoices_unpaid'] as const;
export type BusinessGauge = (typeof BUSINESS_GAUGES)[number];

function createMetrics(t: Telemetry) {
  const allReasons = [...new Set(EVENT_TYPE_NAMES.flatMap((n) => [...EVENT_TYPES[n].reasons]))];
  const eventsTotal = t.counter({
    name: M.eventsTotal,
    help: 'Security and business events accepted by the collector.',
    labels: { event_type: EVENT_TYPE_NAMES, outcome: OUTCOMES, actor_role: ACTOR_ROLES, reason: allReasons },
  });
  for (const event_type of EVENT_TYPE_NAMES) {
    const def = EVENT_TYPES[event_type];
    for (const actor_role of ACTOR_ROLES) {
      for (const reason of def.reasons)
        eventsTotal.init({ event_type, outcome: def.outcome, actor_role, reason });
    }
  }
  const paymentsAmountTotal = t.counter({
    name: M.paymentsAmountTotal,
    help: 'Captured and refunded payment amounts, in major currency units.',
    labels: { event_type: AMOUNT_EVENT_TYPES, currency: CURRENCIES },
    zeroInit: true,
  });
  const queueEvents = t.gauge({
    name: M.queueEvents,
    help: 'Events accepted and held in memory (not yet stored).',
  });
  const queueCapacityEvents = t.gauge({
    name: M.queueCapacityEvents,
    help: 'In-memory queue capacity; above it events are read back from the spool.',
  });
  const spoolBytes = t.gauge({
    name: M.spoolBytes,
    help: 'Bytes of the on-disk spool segments (committed records stay until their segment is released).',
  });
  const backlogEvents = t.gauge({
    name: M.backlogEvents,
    help: 'Events accepted and not yet committed to the audit store, in memory or in the spool.',
  });
  const spoolCapacityBytes = t.gauge({ name: M.spoolCapacityBytes, help: 'Spool capacity in bytes.' });
  const storeBatchDurationSeconds = t.histogram({
    name: M.storeBatchDurationSeconds,
    help: 'Duration of one audit store batch write (successful or not).',
    buckets: STORE_BATCH_BUCKETS_SECONDS,
  });
  const spoolWriteDurationSeconds = t.histogram({
    name: M.spoolWriteDurationSeconds,
    help: 'Duration of one spool write (a group of records appended and fdatasync-ed), successful or not: what an acknowledgement waits for.',
    buckets: SPOOL_WRITE_BUCKETS_SECONDS,
  });
  const eventsStoredTotal = t.counter({
    name: M.eventsStoredTotal,
    help: 'Events written to the audit store.',
  });
  const eventsRejectedTotal = t.counter({
    name: M.eventsRejectedTotal,
    help: 'Events refused at ingest, by reason.',
    labels: { reason: REJECT_REASONS },
    zeroInit: true,
  });
  const eventsDroppedTotal = t.counter({
    name: M.eventsDroppedTotal,
    help: 'Events accepted and later lost, by class and reason. Should stay 0.',
    labels: { event_class: EVENT_CLASSES, reason: DROP_REASONS },
    zeroInit: true,
  });
  const storeErrorsTotal = t.counter({ name: M.storeErrorsTotal, help: 'Failed audit store batch writes.' });
  const lastStoredEventTimestampSeconds = t.gauge({
    name: M.lastStoredEventTimestampSeconds,
    help: 'Unix time at which the last event was stored.',
  });
  const auditChainVerifiedEventsTotal = t.counter({
    name: M.auditChainVerifiedEventsTotal,
    help: 'Audit rows whose hash-chain link was verified.',
  });
  const auditChainBroken = t.gauge({
    name: M.auditChainBroken,
    help: '1 when a hash-chain link failed verification.',
  });
  const auditChainLastVerifiedTimestampSeconds = t.gauge({
    name: M.auditChainLastVerifiedTimestampSeconds,
    help: 'Unix time of the last successful chain verification.',
  });
  const scheduledJobRunsTotal = t.counter({
    name: M.scheduledJobRunsTotal,
    help: 'Runs of the scheduled jobs, by task and outcome.',
    labels: { task: SCHEDULED_JOBS, outcome: JOB_OUTCOMES },
    zeroInit: true,
  });
  // What the staleness alerts read: a task that stops running at all (a run skipped or hung) never
  // counts a failure, but its last success ages; the alerts look back past restarts, which reset this
  // in-memory value. Not zero-initialised: a series exists only for a task this process schedules
  // (set to 0 then), so a task switched off by configuration has none and never looks stale.
  const scheduledJobLastSuccessTimestampSeconds = t.gauge({
    name: M.scheduledJobLastSuccessTimestampSeconds,
    help: "Unix time of each scheduled task's last successful run (0: none since it was scheduled); only tasks this process schedules.",
    labels: { task: SCHEDULED_JOBS },
  });
  const businessGauges = {
    orders_open: t.gauge({
      name: M.ordersOpen,
      help: 'Orders not yet fulfilled (refreshed by a scheduled job).',
    }),
    prescriptions_pending: t.gauge({
      name: M.prescriptionsPending,
      help: 'Prescriptions awaiting action (refreshed by a scheduled job).',
    }),
    invoices_unpaid: t.gauge({
      name: M.invoicesUnpaid,
      help: 'Unpaid invoices (refreshed by a scheduled job).',
    }),
  } satisfies Record<BusinessGauge, unknown>;
  return {
    eventsTotal,
    paymentsAmountTotal,
    queueEvents,
    queueCapacityEvents,
    spoolBytes,
    backlogEvents,
    spoolCapacityBytes,
    storeBatchDurationSeconds,
    spoolWriteDurationSeconds,
    eventsStoredTotal,
    eventsRejectedTotal,
    eventsDroppedTotal,
    storeErrorsTotal,
    lastStoredEventTimestampSeconds,
    auditChainVerifiedEventsTotal,
    auditChainBroken,
    auditChainLastVerifiedTimestampSeconds,
    scheduledJobRunsTotal,
    scheduledJobLastSuccessTimestampSeconds,
    businessGauges,
  };
}

export type CollectorMetrics = ReturnType<typeof createMetrics>;

const byTelemetry = new WeakMap<Telemetry, CollectorMetrics>();

/** The collector metrics of this Telemetry, registered on first use. */
export function collectorMetrics(telemetry: Telemetry): CollectorMetrics {
  let m = byTelemetry.get(telemetry);
  if (!m) {
    m = createMetrics(telemetry);
    byTelemetry.set(telemetry, m);
  }
  return m;
}
