/**
 * The Pager the collector (and the dead man's switch) take: trigger and resolve one incident by a
 * stable dedup_key, straight to PagerDuty (for the pages that must not depend on Prometheus, like a
 * broken audit chain). Never throws: a failed page is reported in the result and counted.
 */
import { readFileSync } from 'node:fs';
import { createPagerDutyClient, type PagerDutyClient, type SendResult } from './pagerduty-client';
import type { PagerDutySeverity } from './pagerduty-event';
import { readRoutingKeyFile } from './routing-key';

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

export interface DirectPagerSettings {
  /** File holding the Events API v2 routing key (a secret: only its file is configured). */
  readonly routingKeyFile: string;
  /** host[:port] of the Events API (default PagerDuty's). */
  readonly server?: string;
  /** Extra CA (PEM file) to trust, e.g. an egress proxy's or a test double's. */
  readonly caFile?: string;
  readonly source: string;
}

/**
 * A process's own pager (the collector's audit-chain page), from settings read once at start-up: a
 * missing or malformed key file fails the start with a message naming the file, not the key.
 * `close()` releases the client's connections.
 */
export function createDirectPager(s: DirectPagerSettings): Pager & { close(): void } {
  const routingKey = readRoutingKeyFile(s.routingKeyFile);
  const client = createPagerDutyClient({
    ...(s.server ? { server: s.server } : {}),
    ...(s.caFile ? { ca: readFileSync(s.caFile) } : {}),
  });
  return { ...createPager({ client, routingKey, source: s.source }), close: () => client.close() };
}
