/**
 * Security panels: authentication outcomes, lockouts, MFA failures, token revocations, account
 * changes and PHI access from the collector's event counters, the audit log's hash-chain
 * verification, and the authentication events themselves from Elasticsearch.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as elasticsearch from '@grafana/grafana-foundation-sdk/elasticsearch';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import { collectorMetricNames, EVENT_TYPE_NAMES, type EventType } from '../../collector/metric-names';
import { exporterMetricNames } from '../../exporter/metric-names';
import { LOG_TIME_FIELD } from '../datasources';
import { alert } from './alert-catalogue';
import {
  ELASTICSEARCH_REF,
  lastSuccessTime,
  MATCH,
  RANGE,
  RATE,
  runbookLinks,
  statPanel,
  timeseriesPanel,
} from './shared';

const c = collectorMetricNames();
const e = exporterMetricNames();
/** Counters are per second; the catalogue's security thresholds are per minute. */
const PER_MINUTE = 60;

function eventRate(types: readonly EventType[], by: string): string {
  const matcher = types.length === 1 ? `event_type="${types[0]}"` : `event_type=~"${types.join('|')}"`;
  return `sum by (${by}) (rate(${c.eventsTotal}{${MATCH.service}, ${matcher}}[${RATE}])) * ${PER_MINUTE}`;
}

export function loginsByOutcome() {
  return timeseriesPanel({
    title: 'Logins by outcome',
    description: 'Login attempts per minute, successful and failed, by reason.',
    unit: 'opm',
    series: [
      {
        expr: eventRate(['authn_login_success', 'authn_login_fail'], 'outcome, reason'),
        legend: '{{outcome}} {{reason}}',
      },
    ],
    stacked: true,
  });
}

export function failedLogins() {
  const high = alert('FailedLoginsHigh');
  return timeseriesPanel({
    title: 'Failed logins per minute',
    description: `Failed login attempts per minute across the service. Dashed line: ${high.name} (credential stuffing or brute force).`,
    unit: high.grafanaUnit,
    series: [{ expr: eventRate(['authn_login_fail'], 'job'), legend: 'failed logins {{job}}' }],
    alerts: [high],
    min: 0,
  });
}

export function lockouts() {
  return timeseriesPanel({
    title: 'Account lockouts',
    description: 'Accounts locked per minute after repeated failures, by role.',
    unit: 'opm',
    series: [{ expr: eventRate(['authn_login_lock'], 'actor_role'), legend: '{{actor_role}}' }],
    width: 8,
  });
}

export function mfaFailures() {
  return timeseriesPanel({
    title: 'MFA failures',
    description: 'Failed second-factor checks per minute, by reason (bad, missing or replayed code).',
    unit: 'opm',
    series: [{ expr: eventRate(['authn_mfa_fail'], 'reason'), legend: '{{reason}}' }],
    width: 8,
  });
}

export function tokenRevocations() {
  return timeseriesPanel({
    title: 'Token revocations, session ends and account changes',
    description:
      'Tokens revoked (logout; by an admin, or by the database when an account was disabled or its role changed; password change), sessions ended, and accounts created (by role), disabled, enabled or given another role, through the API or by SQL, per minute.',
    unit: 'opm',
    series: [
      { expr: eventRate(['authn_token_revoked'], 'reason'), legend: 'revoked: {{reason}}' },
      { expr: eventRate(['session_expired'], 'reason'), legend: 'session ended: {{reason}}' },
      { expr: eventRate(['user_created'], 'reason'), legend: 'account created: {{reason}}' },
      { expr: eventRate(['user_updated'], 'reason'), legend: 'account {{reason}}' },
    ],
    width: 8,
  });
}

export function phiAccess() {
  const denied = alert('PhiAccessDeniedHigh');
  return timeseriesPanel({
    title: 'PHI access granted and denied, by role and reason',
    description:
      'PHI reads and writes per minute: granted (own record, assigned provider, admin, billing staff; intake for new patients) and denied.',
    unit: 'opm',
    series: [
      { expr: eventRate(['phi_access'], 'actor_role, reason'), legend: 'granted {{actor_role}} {{reason}}' },
      { expr: eventRate(['phi_write'], 'actor_role, reason'), legend: 'written {{actor_role}} {{reason}}' },
      { expr: eventRate(['authz_fail'], 'actor_role, reason'), legend: 'denied {{actor_role}} {{reason}}' },
    ],
    related: [denied],
  });
}

export function phiDenialRate() {
  const denied = alert('PhiAccessDeniedHigh');
  return timeseriesPanel({
    title: 'PHI access denied per minute',
    description: `Denied patient-record reads per minute. Dashed line: ${denied.name} (someone is probing records they may not see).`,
    unit: denied.grafanaUnit,
    series: [{ expr: eventRate(['authz_fail'], 'job'), legend: 'denied {{job}}' }],
    alerts: [denied],
    min: 0,
  });
}

/** Stored PHI values (and MFA secrets) that failed to decrypt, by reason: should stay at 0. */
export function phiIntegrity() {
  const integrity = alert('PhiIntegrityFailure');
  return timeseriesPanel({
    title: 'PHI values that failed to decrypt, by reason',
    description: `Reads that failed closed because a stored encrypted value did not authenticate (event phi_integrity_fail), per minute. Any is an incident: ${integrity.name} (${integrity.severity}) fires on the first. authentication_failed: altered or moved in the database; unknown_key: a key missing after a rotation.`,
    unit: 'opm',
    series: [{ expr: eventRate(['phi_integrity_fail'], 'job, reason'), legend: '{{reason}} {{job}}' }],
    related: [integrity],
    min: 0,
  });
}

/** Event types shown in the authentication log panel: the OWASP authn_* and session_* vocabulary. */
export const AUTH_EVENT_TYPES = EVENT_TYPE_NAMES.filter(
  (t) => t.startsWith('authn_') || t.startsWith('session_'),
);
/** ECS field the collector's log lines carry the event type in. */
export const LOG_EVENT_FIELD = 'event.action';

/** 1 while the last verification found a broken link of the audit table's hash chain, else 0. */
export function auditChainState() {
  const broken = alert('AuditChainBroken');
  // A time series, not a coloured stat: the alert fires above 0, and a threshold step at 0 would
  // colour the healthy 0 red (the steps are the catalogue's thresholds, never a literal).
  return timeseriesPanel({
    title: 'Audit log hash chain broken',
    description: `False: every audit row verified links to the one before it. True: a row was altered or removed behind the append-only triggers (${broken.name}, ${broken.severity}). Verified every minute by the collector's scheduled job.`,
    unit: broken.grafanaUnit,
    series: [{ expr: `max by (job) (${c.auditChainBroken}{${MATCH.service}})`, legend: '{{job}}' }],
    related: [broken],
    min: 0,
    max: 1,
  });
}

export function auditChainVerification() {
  const stale = alert('AuditChainVerificationStale');
  return timeseriesPanel({
    title: 'Time since the audit chain was verified',
    description: `Seconds since the last successful verification of the audit hash chain (since the collector started, while none has succeeded yet). Dashed line: ${stale.name} (tampering would go unnoticed).`,
    unit: stale.grafanaUnit,
    series: [
      {
        expr: `time() - (${lastSuccessTime(`${c.auditChainLastVerifiedTimestampSeconds}{${MATCH.service}}`, `${e.processStartTimeSeconds}{${MATCH.service}}`, 'job', 2 * stale.threshold)})`,
        legend: 'since last verification {{job}}',
      },
    ],
    alerts: [stale],
    min: 0,
  });
}

export function auditRowsVerified() {
  return statPanel({
    title: 'Audit rows verified',
    description: 'Audit rows whose hash-chain link was checked over the selected range.',
    unit: 'short',
    series: [
      {
        expr: `sum by (job) (increase(${c.auditChainVerifiedEventsTotal}{${MATCH.service}}[${RANGE}]))`,
        legend: '{{job}}',
      },
    ],
    min: 0,
  });
}

/** The SDK's logs metric builder emits `type: "unknown"`: Grafana's Elasticsearch logs query needs "logs". */
const logsMetric: cog.Builder<elasticsearch.MetricAggregation> = {
  build: () => ({ type: 'logs', id: '1', settings: { limit: '500' } }),
};

export function authenticationLogs() {
  const query = `${LOG_EVENT_FIELD}:(${AUTH_EVENT_TYPES.join(' OR ')})`;
  return new logs.PanelBuilder()
    .title('Authentication events (Elasticsearch)')
    .description(
      'The latest authentication and session events shipped to Elasticsearch: pseudonymous actor refs only, no PHI.',
    )
    .datasource(ELASTICSEARCH_REF)
    .unit('short')
    .span(24)
    .height(10)
    .withTarget(
      new elasticsearch.DataqueryBuilder()
        .datasource(ELASTICSEARCH_REF)
        .refId('A')
        .queryType('logs')
        .query(query)
        .timeField(LOG_TIME_FIELD)
        .metrics([logsMetric])
        .bucketAggs([]),
    )
    .links(runbookLinks([alert('FailedLoginsHigh')]))
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .dedupStrategy(common.LogsDedupStrategy.None);
}
