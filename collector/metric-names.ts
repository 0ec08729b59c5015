/**
 * The event vocabulary and metric-name contract of the collector. Label values are closed sets
 * declared here once: the collector zero-initialises every valid combination at start-up (so the
 * first failed login is visible to increase()), and alerts/ and dashboards/ filter on these values
 * without retyping them. No runtime dependencies: keep it that way.
 */

/** Roles of the platform, plus the actors that are not a logged-in user. */
export const ACTOR_ROLES = ['admin', 'provider', 'staff', 'patient', 'anonymous', 'system'] as const;
export type ActorRole = (typeof ACTOR_ROLES)[number];

export const OUTCOMES = ['success', 'failure'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'AUD'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** Security events are the last to be refused when the spool is full. */
export const EVENT_CLASSES = ['security', 'business'] as const;
export type EventClass = (typeof EVENT_CLASSES)[number];

/**
 * Every event type with its class, fixed outcome and closed set of reasons. The names follow the
 * OWASP logging vocabulary (authn_*, authz_*, session_*) where it has one.
 */
export const EVENT_TYPES = {
  authn_login_success: { class: 'security', outcome: 'success', reasons: ['password', 'password_and_totp'] },
  authn_login_fail: {
    class: 'security',
    outcome: 'failure',
    reasons: ['bad_password', 'unknown_user', 'account_locked', 'mfa_required', 'account_disabled'],
  },
  authn_login_lock: { class: 'security', outcome: 'failure', reasons: ['too_many_failures'] },
  authn_mfa_fail: {
    class: 'security',
    outcome: 'failure',
    reasons: ['bad_code', 'missing_code', 'replayed_code'],
  },
  authn_token_revoked: {
    class: 'security',
    outcome: 'success',
    reasons: ['logout', 'admin_revoked', 'password_changed'],
  },
  session_expired: { class: 'security', outcome: 'success', reasons: ['inactivity', 'token_expired'] },
  /**
   * An account created, through the API or by an operator's SQL; the reason is its role (a new admin is
   * the one to watch).
   */
  user_created: { class: 'security', outcome: 'success', reasons: ['admin', 'provider', 'staff', 'patient'] },
  /**
   * An account disabled, enabled or given another role, through the API or by an operator's SQL (the
   * sessions it ends: authn_token_revoked).
   */
  user_updated: {
    class: 'security',
    outcome: 'success',
    reasons: ['disabled', 'enabled', 'role_changed', 'unlocked'],
  },
  /** PHI access denied. */
  authz_fail: {
    class: 'security',
    outcome: 'failure',
    reasons: ['not_assigned', 'not_owner', 'role_forbidden'],
  },
  /** PHI read granted; `billing_access`: staff reading orders and invoices (payment, operations). */
  phi_access: {
    class: 'security',
    outcome: 'success',
    reasons: ['own_record', 'assigned_provider', 'admin_access', 'billing_access'],
  },
  /**
   * PHI created or changed (a patient registered or updated, a SOAP note written), with the basis of
   * access as for reads; `intake`: a new patient registered by staff or an admin.
   */
  phi_write: {
    class: 'security',
    outcome: 'success',
    reasons: ['intake', 'own_record', 'assigned_provider', 'admin_access'],
  },
  /**
   * A stored PHI value (or secret) failed to decrypt: altered or moved in the database, or written
   * under a key this deployment does not hold. The read fails closed (500).
   */
  phi_integrity_fail: {
    class: 'security',
    outcome: 'failure',
    reasons: ['authentication_failed', 'unknown_key', 'malformed', 'unknown_format'],
  },
  order_created: { class: 'business', outcome: 'success', reasons: ['none'] },
  /** An open order fulfilled or cancelled (a cancellation voids its unpaid invoice: invoice_voided). */
  order_updated: { class: 'business', outcome: 'success', reasons: ['fulfilled', 'cancelled'] },
  prescription_issued: { class: 'business', outcome: 'success', reasons: ['none'] },
  /** A pending prescription filled by the pharmacy. */
  prescription_filled: { class: 'business', outcome: 'success', reasons: ['none'] },
  /** An invoice issued for an order's total, or for an amount with no order (`manual`). */
  invoice_issued: { class: 'business', outcome: 'success', reasons: ['order', 'manual'] },
  /** An unpaid invoice voided: its order was cancelled. */
  invoice_voided: { class: 'business', outcome: 'success', reasons: ['order_cancelled'] },
  payment_captured: { class: 'business', outcome: 'success', reasons: ['none'] },
  payment_failed: {
    class: 'business',
    outcome: 'failure',
    reasons: ['card_declined', 'insufficient_funds', 'processor_error', 'invalid_request'],
  },
  payment_refunded: {
    class: 'business',
    outcome: 'success',
    reasons: ['customer_request', 'duplicate', 'fraudulent', 'service_issue'],
  },
} as const satisfies Record<string, { class: EventClass; outcome: Outcome; reasons: readonly string[] }>;

export type EventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];
export type EventReason<T extends EventType> = (typeof EVENT_TYPES)[T]['reasons'][number];

/** Metric names without the namespace prefix. */
export const COLLECTOR_METRICS = {
  /** {event_type, outcome, actor_role, reason}: every event that passed validation. */
  eventsTotal: 'events_total',
  /** {event_type, currency}: payment_captured / payment_refunded amounts, in major units. */
  paymentsAmountTotal: 'payments_amount_total',
  queueEvents: 'collector_queue_events',
  queueCapacityEvents: 'collector_queue_capacity_events',
  spoolBytes: 'collector_spool_bytes',
  /** Accepted events not yet committed to the audit store (memory and spool): what is left to drain. */
  backlogEvents: 'collector_backlog_events',
  spoolCapacityBytes: 'collector_spool_capacity_bytes',
  storeBatchDurationSeconds: 'collector_store_batch_duration_seconds',
  /** One group of records written to the spool and fdatasync'ed: what an HTTP 202 waits for. */
  spoolWriteDurationSeconds: 'collector_spool_write_duration_seconds',
  eventsStoredTotal: 'collector_events_stored_total',
  /** {reason}: refused at ingest (REJECT_REASONS). */
  eventsRejectedTotal: 'collector_events_rejected_total',
  /** {event_class, reason}: accepted earlier but then lost (DROP_REASONS). Should always be 0. */
  eventsDroppedTotal: 'collector_events_dropped_total',
  storeErrorsTotal: 'collector_store_errors_total',
  lastStoredEventTimestampSeconds: 'collector_last_stored_event_timestamp_seconds',
  auditChainVerifiedEventsTotal: 'audit_chain_verified_events_total',
  auditChainBroken: 'audit_chain_broken',
  auditChainLastVerifiedTimestampSeconds: 'audit_chain_last_verified_timestamp_seconds',
  /** {reason}: log lines not shipped (LOG_DROP_REASONS). */
  logLinesDroppedTotal: 'log_lines_dropped_total',
  logShippingErrorsTotal: 'log_shipping_errors_total',
  /** {decision}: incoming requests' head-sampling decisions (TRACE_SAMPLING_DECISIONS). */
  traceSamplingDecisionsTotal: 'trace_sampling_decisions_total',
  /** {task, outcome}: node-cron job runs (`task`, not `job`: Prometheus owns the `job` label). */
  scheduledJobRunsTotal: 'scheduled_job_runs_total',
  /** {task}: Unix time of the task's last successful run, 0 until its first since the process started. */
  scheduledJobLastSuccessTimestampSeconds: 'scheduled_job_last_success_timestamp_seconds',
  // Business gauges refreshed from the database by a scheduled job:
  ordersOpen: 'orders_open',
  prescriptionsPending: 'prescriptions_pending',
  invoicesUnpaid: 'invoices_unpaid',
} as const;

export const REJECT_REASONS = [
  'invalid',
  'unauthorized',
  'too_large',
  'queue_full',
  'spool_full',
  'closed',
  /** An event id the collector has lately accepted for a different event. */
  'id_conflict',
] as const;
/** `task` label of scheduled_job_runs_total (outcome: success | failure). */
/** Jobs the collector schedules itself. */
export const COLLECTOR_JOBS = ['audit_chain_verify', 'audit_chain_verify_full', 'business_gauges'] as const;
/**
 * Jobs a service runs on the collector's scheduler (registerJob): account_change_events reports the
 * account changes the database recorded.
 */
export const SERVICE_JOBS = ['account_change_events'] as const;
export type ServiceJob = (typeof SERVICE_JOBS)[number];
export const SCHEDULED_JOBS = [...COLLECTOR_JOBS, ...SERVICE_JOBS] as const;
export const JOB_OUTCOMES = ['success', 'failure'] as const;
/** `event_type` label of payments_amount_total (a failed payment moved no money). */
export const PAYMENT_AMOUNT_EVENT_TYPES = ['payment_captured', 'payment_refunded'] as const;
/**
 * spool_full: lost; store_rejected: refused by the store for itself; id_conflict: a different event
 * under an event id already stored. The last two are kept in the quarantine file.
 */
/**
 * `spool_corrupt`: records found damaged in the spool at start-up (their class cannot be read, so
 * they are counted as security events, the stricter).
 */
export const DROP_REASONS = ['spool_full', 'store_rejected', 'id_conflict', 'spool_corrupt'] as const;
export const LOG_DROP_REASONS = ['buffer_full', 'sink_error'] as const;
/** `decision` label: rate_limited = chosen by the ratio, refused by the per-second cap. */
export const TRACE_SAMPLING_DECISIONS = ['sampled', 'not_sampled', 'rate_limited'] as const;

export type CollectorMetricKey = keyof typeof COLLECTOR_METRICS;

export function collectorMetricNames(namespace = 'telehealth'): {
  readonly [K in CollectorMetricKey]: string;
} {
  const out = {} as Record<CollectorMetricKey, string>;
  for (const key of Object.keys(COLLECTOR_METRICS) as CollectorMetricKey[]) {
    out[key] = `${namespace}_${COLLECTOR_METRICS[key]}`;
  }
  return Object.freeze(out);
}
