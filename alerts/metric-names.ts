/**
 * Metric names that alerts/ itself exports (PagerDuty client, dead man's switch) and the third-party
 * series its rules read (Prometheus, Alertmanager). dashboards/ imports these instead of retyping them.
 * No runtime dependencies: keep it that way.
 */
import { DEFAULT_NAMESPACE } from '../exporter/metric-names';

/** Names without the namespace prefix. */
export const ALERTS_METRICS = {
  /** {event_action, outcome}: Events API v2 events by final outcome (sent | failed | invalid). */
  pagerdutyEventsTotal: 'pagerduty_events_total',
  /** {reason}: individual HTTP attempts that failed (rate_limited | server_error | network | timeout | rejected). */
  pagerdutyAttemptFailuresTotal: 'pagerduty_attempt_failures_total',
  /** Seconds from the first attempt to the final answer of one event. */
  pagerdutySendDurationSeconds: 'pagerduty_send_duration_seconds',
  /** Heartbeats (Watchdog notifications) the dead man's switch received. */
  deadmanHeartbeatsTotal: 'deadman_heartbeats_total',
  /** Unix time of the last heartbeat, 0 before the first one. */
  deadmanLastHeartbeatTimestampSeconds: 'deadman_last_heartbeat_timestamp_seconds',
  /** 1 while the switch has paged because heartbeats stopped. */
  deadmanTriggered: 'deadman_triggered',
} as const;

export type AlertsMetricKey = keyof typeof ALERTS_METRICS;

export const PAGERDUTY_EVENT_OUTCOMES = ['sent', 'failed', 'invalid'] as const;
export const PAGERDUTY_EVENT_ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const;
export const PAGERDUTY_ATTEMPT_FAILURE_REASONS = [
  'rate_limited',
  'server_error',
  'network',
  'timeout',
  'rejected',
] as const;

export function alertsMetricNames(namespace: string = DEFAULT_NAMESPACE): {
  readonly [K in AlertsMetricKey]: string;
} {
  const out = {} as Record<AlertsMetricKey, string>;
  for (const key of Object.keys(ALERTS_METRICS) as AlertsMetricKey[]) {
    out[key] = `${namespace}_${ALERTS_METRICS[key]}`;
  }
  return Object.freeze(out);
}

/** Series of Prometheus, Alertmanager and the scrape itself (not ours, not namespaced). */
export const THIRD_PARTY_METRICS = {
  up: 'up',
  alertmanagerNotificationsTotal: 'alertmanager_notifications_total',
  alertmanagerNotificationsFailedTotal: 'alertmanager_notifications_failed_total',
  alertmanagerConfigLastReloadSuccessful: 'alertmanager_config_last_reload_successful',
  prometheusNotificationsAlertmanagersDiscovered: 'prometheus_notifications_alertmanagers_discovered',
  prometheusNotificationsDroppedTotal: 'prometheus_notifications_dropped_total',
  prometheusRuleEvaluationFailuresTotal: 'prometheus_rule_evaluation_failures_total',
  prometheusTargetScrapesSampleLimitExceededTotal: 'prometheus_target_scrapes_exceeded_sample_limit_total',
} as const;

/** Scrape jobs, as prometheus/prometheus.yml names them; alerts and dashboards filter on these. */
export const JOBS = {
  api: 'telehealth-api',
  collector: 'telehealth-collector',
  node: 'node',
  alertmanager: 'alertmanager',
  prometheus: 'prometheus',
  deadman: 'deadman',
} as const;
export type JobKey = keyof typeof JOBS;
