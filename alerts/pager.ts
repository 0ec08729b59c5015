/**
 * The Pager the collector (and the dead man's switch) take: trigger and resolve one incident by a
 * stable dedup_key, straight to PagerDuty (for the pages that must not depend on Prometheus, like a
 * broken audit chain). Never throws: a failed page is reported in the result and counted.
 */
import type { PagerDutyClient, SendResult } from './pagerduty-client';
import type { PagerDutySeverity } from './pagerduty-event';

export interface Pager {
  trigger(dedupKey: string, summary: string, details?: Record<string, unknown>): Promise<SendResult>;
  resolve(dedupKey: string): Promise<SendResult>;
}

export interface PagerOptions {
  readonly client: PagerDutyClient;
  readonly routingKey: string;
  /** Where the page comes from (a service name, never a host name with customer data). */
  readonly source: string;
  readonly severity?: PagerDutySeverity;
  readonly component?: string;
  readonly group?: string;
  readonly links?: ReadonlyArray<{ href: string; text?: string }>;
  readonly now?: () => Date;
}

export function createPager(o: PagerOptions): Pager {
  const now = o.now ?? (() => new Date());
  return {
    trigger: (dedupKey, summary, details) =>
      o.client.send({
        routing_key: o.routingKey,
        event_action: 'trigger',
        dedup_key: dedupKey,
        payload: {
          summary,
          source: o.source,
          severity: o.severity ?? 'critical',
          timestamp: now().toISOString(),
          ...(o.component ? { component: o.component } : {}),
          ...(o.group ? { group: o.group } : {}),
          ...(details ? { custom_details: details } : {}),
        },
        ...(o.links ? { links: o.links.map((l) => ({ ...l })) } : {}),
      }),
    resolve: (dedupKey) =>
      o.client.send({ routing_key: o.routingKey, event_action: 'resolve', dedup_key: dedupKey }),
  };
}
