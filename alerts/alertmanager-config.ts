/**
 * Alertmanager configuration from the catalogue: critical -> PagerDuty high urgency, warning ->
 * PagerDuty low urgency (a separate routing key), info -> nowhere, Watchdog -> the dead man's switch.
 * The production file and a test variant (another Events API URL, CA, shorter timings) come from this
 * one function so that the end-to-end test runs exactly the shipped routing.
 */
import { stringify } from 'yaml';
import { SEVERITIES, type Severity } from './catalogue-schema';
import { yamlHeader } from './generated-header';
import type { ResolvedAlert } from './resolve';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Where production mounts the secrets (docker-compose secrets / Kubernetes secret volume). */
export const ALERTMANAGER_SECRET_DIR = '/etc/alertmanager/secrets';

export const RECEIVERS = {
  high: 'pagerduty-high-urgency',
  low: 'pagerduty-low-urgency',
  none: 'null',
  deadman: 'deadman',
} as const;

/** The receiver each severity must reach (amtool routes tests assert it for every alert). */
export const RECEIVER_BY_SEVERITY: Record<Severity, string> = {
  critical: RECEIVERS.high,
  warning: RECEIVERS.low,
  info: RECEIVERS.none,
};

export const GROUP_BY = ['alertname', 'service'] as const;
export const INHIBIT_EQUAL = ['service', 'family'] as const;

export interface AlertmanagerConfigOptions {
  /** Events API v2 endpoint; tests point it at the local double. */
  readonly pagerDutyUrl?: string;
  readonly routingKeyFiles?: { readonly high: string; readonly low: string };
  /** TLS trust for the Events API (the double's self-signed CA in tests). */
  readonly pagerDutyTls?: { readonly caFile?: string; readonly insecureSkipVerify?: boolean };
  readonly deadmanUrl?: string;
  /** Bearer token file sent to the dead man's switch webhook. */
  readonly deadmanCredentialsFile?: string | null;
  readonly timings?: {
    readonly groupWait?: string;
    readonly groupInterval?: string;
    readonly repeatInterval?: string;
    readonly watchdogGroupInterval?: string;
    readonly watchdogRepeatInterval?: string;
    readonly resolveTimeout?: string;
  };
}

function pagerDutyReceiver(
  name: string,
  keyFile: string,
  severity: 'critical' | 'warning',
  o: AlertmanagerConfigOptions,
) {
  const tls = o.pagerDutyTls;
  return {
    name,
    pagerduty_configs: [
      {
        routing_key_file: keyFile,
        url: o.pagerDutyUrl ?? PAGERDUTY_EVENTS_URL,
        send_resolved: true,
        severity,
        // PagerDuty's summary: the alert's own summary, not Alertmanager's label dump; prefixed with
        // the environment label when an environment sets one (staging's pages are then told apart).
        description:
          '{{ with .CommonLabels.environment }}[{{ . }}] {{ end }}{{ if .CommonAnnotations.summary }}{{ .CommonAnnotations.summary }}{{ else }}{{ (index .Alerts 0).Annotations.summary }} ({{ len .Alerts }} alerts){{ end }}',
        client: 'Telehealth Alertmanager',
        client_url: '{{ .ExternalURL }}',
        source: '{{ .CommonLabels.service }}',
        component: '{{ .CommonLabels.service }}',
        group: '{{ .CommonLabels.family }}',
        class: '{{ .CommonLabels.alertname }}',
        details: {
          alertname: '{{ .CommonLabels.alertname }}',
          service: '{{ .CommonLabels.service }}',
          family: '{{ .CommonLabels.family }}',
          severity: '{{ .CommonLabels.severity }}',
          environment: '{{ .CommonLabels.environment }}',
          runbook_url: '{{ .CommonAnnotations.runbook_url }}',
          dashboard_url: '{{ .CommonAnnotations.dashboard_url }}',
          description:
            '{{ if .CommonAnnotations.description }}{{ .CommonAnnotations.description }}{{ else }}{{ (index .Alerts 0).Annotations.description }}{{ end }}',
        },
        links: [
          { href: '{{ .CommonAnnotations.runbook_url }}', text: 'Runbook' },
          { href: '{{ .CommonAnnotations.dashboard_url }}', text: 'Dashboard' },
        ],
        ...(tls && (tls.caFile || tls.insecureSkipVerify)
          ? {
              http_config: {
                tls_config: {
                  ...(tls.caFile ? { ca_file: tls.caFile } : {}),
                  ...(tls.insecureSkipVerify ? { insecure_skip_verify: true } : {}),
                },
              },
            }
          : {}),
      },
    ],
  };
}

export function buildAlertmanagerConfig(
  alerts: readonly ResolvedAlert[],
  o: AlertmanagerConfigOptions = {},
): Record<string, unknown> {
  const used = new Set(alerts.map((a) => a.severity));
  for (const s of used) if (!(s in RECEIVER_BY_SEVERITY)) throw new Error(`severity ${s} has no receiver`);
  const watchdog = alerts.find((a) => a.name === 'Watchdog');
  if (!watchdog) throw new Error('the catalogue has no Watchdog alert');
  const pagerDutyFailing = alerts.find((a) => a.name === 'AlertmanagerFailedToSendAlerts');
  if (!pagerDutyFailing) throw new Error('the catalogue has no AlertmanagerFailedToSendAlerts alert');
  const t = o.timings ?? {};
  const keys = o.routingKeyFiles ?? {
    high: `${ALERTMANAGER_SECRET_DIR}/pagerduty-high-urgency.key`,
    low: `${ALERTMANAGER_SECRET_DIR}/pagerduty-low-urgency.key`,
  };
  const deadmanToken =
    o.deadmanCredentialsFile === undefined
      ? `${ALERTMANAGER_SECRET_DIR}/deadman-webhook.token`
      : o.deadmanCredentialsFile;
  return {
    global: { resolve_timeout: t.resolveTimeout ?? '5m' },
    route: {
      receiver: RECEIVERS.none,
      group_by: [...GROUP_BY],
      group_wait: t.groupWait ?? '30s',
      group_interval: t.groupInterval ?? '5m',
      repeat_interval: t.repeatInterval ?? '4h',
      routes: [
        {
          // The heartbeat: first, so that its severity never sends it to PagerDuty.
          receiver: RECEIVERS.deadman,
          matchers: [`alertname="${watchdog.name}"`],
          group_wait: '0s',
          group_interval: t.watchdogGroupInterval ?? '1m',
          repeat_interval: t.watchdogRepeatInterval ?? '1m',
        },
        ...SEVERITIES.map((severity) => ({
          receiver: RECEIVER_BY_SEVERITY[severity],
          matchers: [`severity="${severity}"`],
          ...(severity === 'critical' ? { repeat_interval: t.repeatInterval ?? '1h' } : {}),
        })),
      ],
    },
    inhibit_rules: [
      {
        // A critical alert mutes the warnings of its family on the same service (one page, not two).
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: [...INHIBIT_EQUAL],
      },
      {
        // Alertmanager cannot deliver to PagerDuty: its own alert about that would go to PagerDuty
        // too, and reach no one. It stops the heartbeats instead, so the dead man's switch, which
        // pages from its own process and network path, tells on-call within its timeout.
        source_matchers: [`alertname="${pagerDutyFailing.name}"`, 'integration="pagerduty"'],
        target_matchers: [`alertname="${watchdog.name}"`],
      },
    ],
    receivers: [
      { name: RECEIVERS.none },
      pagerDutyReceiver(RECEIVERS.high, keys.high, 'critical', o),
      pagerDutyReceiver(RECEIVERS.low, keys.low, 'warning', o),
      {
        name: RECEIVERS.deadman,
        webhook_configs: [
          {
            url: o.deadmanUrl ?? 'http://deadman:9095/watchdog',
            send_resolved: false,
            max_alerts: 1,
            ...(deadmanToken
              ? { http_config: { authorization: { type: 'Bearer', credentials_file: deadmanToken } } }
              : {}),
          },
        ],
      },
    ],
  };
}

/** The Alertmanager YAML (with the generated header); tests render variants with other options. */
export function renderAlertmanagerConfig(
  alerts: readonly ResolvedAlert[],
  o: AlertmanagerConfigOptions = {},
): string {
  return yamlHeader() + stringify(buildAlertmanagerConfig(alerts, o), { lineWidth: 0 });
}
