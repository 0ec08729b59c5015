/**
 * Alerting pipeline panels (Application Overview): whether an alert that fires reaches on-call.
 * Prometheus must evaluate the rules and know an Alertmanager; Alertmanager must run the deployed
 * routing and deliver its notifications. They read the scrape jobs of Prometheus and Alertmanager,
 * not the service's `job` variable.
 */
import { JOBS, THIRD_PARTY_METRICS as X } from '../../alerts/metric-names';
import { alert } from './alert-catalogue';
import { RATE, statPanel, timeseriesPanel } from './shared';

const ALERTMANAGER = `job="${JOBS.alertmanager}"`;
const PROMETHEUS = `job="${JOBS.prometheus}"`;

export function alertmanagersDiscovered() {
  const none = alert('PrometheusNotConnectedToAlertmanagers');
  return statPanel({
    title: 'Alertmanagers Prometheus sends to',
    description: `Alertmanagers each Prometheus has discovered. Below 1: ${none.name} (alerts stay inside Prometheus; the dead man's switch pages).`,
    unit: none.grafanaUnit,
    series: [
      {
        expr: `min by (instance) (${X.prometheusNotificationsAlertmanagersDiscovered}{${PROMETHEUS}})`,
        legend: '{{instance}}',
      },
    ],
    alerts: [none],
    width: 4,
    height: 8,
    min: 0,
  });
}

export function alertmanagerConfigLoaded() {
  const failed = alert('AlertmanagerConfigReloadFailed');
  return statPanel({
    title: 'Alertmanager configuration loaded',
    description: `True: the last configuration reload succeeded. False: ${failed.name} (Alertmanager routes with an older configuration than the one deployed).`,
    unit: failed.grafanaUnit,
    series: [
      {
        expr: `min by (instance) (${X.alertmanagerConfigLastReloadSuccessful}{${ALERTMANAGER}})`,
        legend: '{{instance}}',
      },
    ],
    alerts: [failed],
    width: 4,
    height: 8,
    min: 0,
    max: 1,
  });
}

export function notifications() {
  const failing = alert('AlertmanagerFailedToSendAlerts');
  // Rates, not the alert's failed share: with no notification sent the share is 0/0 and draws nothing.
  return timeseriesPanel({
    title: 'Alertmanager notifications sent and failed',
    description: `Notifications per second, and those that failed after Alertmanager's retries. ${failing.name} fires when more than ${+(failing.threshold * 100).toPrecision(3)} % of an integration's notifications fail (its runbook splits them by integration).`,
    unit: 'ops',
    series: [
      {
        expr: `sum by (instance) (rate(${X.alertmanagerNotificationsTotal}{${ALERTMANAGER}}[${RATE}]))`,
        legend: 'sent {{instance}}',
      },
      {
        expr: `sum by (instance) (rate(${X.alertmanagerNotificationsFailedTotal}{${ALERTMANAGER}}[${RATE}]))`,
        legend: 'failed {{instance}}',
      },
    ],
    related: [failing],
    width: 8,
    min: 0,
  });
}

export function ruleEvaluationFailures() {
  const failures = alert('PrometheusRuleEvaluationFailures');
  return timeseriesPanel({
    title: 'Rule evaluation failures',
    description: `Rule evaluations that failed, per second (a failing rule never fires). Above 0: ${failures.name}.`,
    unit: 'ops',
    series: [
      {
        expr: `sum by (instance) (rate(${X.prometheusRuleEvaluationFailuresTotal}{${PROMETHEUS}}[${RATE}]))`,
        legend: '{{instance}}',
      },
    ],
    // The catalogue's step at 0 is in failures per 5 minutes, and would colour the healthy 0: linked, not drawn.
    related: [failures],
    width: 8,
    min: 0,
  });
}
