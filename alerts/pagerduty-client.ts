/**
 * A small Events API v2 client over @pagerduty/pdjs. pdjs alone is not enough for paging: its
 * requestTimeout does nothing, it retries only 429 (20 s apart) and treats 5xx as success. Here each
 * attempt is one pdjs call with a hard AbortSignal timeout; we retry 429, 5xx and network errors with
 * exponential backoff and full jitter, never a 400/413, and count what was sent and what failed.
 */
import { Agent } from 'node:https';
import { event as pdEvent } from '@pagerduty/pdjs';
import { Counter, Histogram, type Registry } from 'prom-client';
import {
  alertsMetricNames,
  PAGERDUTY_ATTEMPT_FAILURE_REASONS,
  PAGERDUTY_EVENT_ACTIONS,
  PAGERDUTY_EVENT_OUTCOMES,
} from './metric-names';
import {
  fitDedupKey,
  truncateSummary,
  validateEvent,
  type EventAction,
  type PagerDutyEvent,
} from './pagerduty-event';

export const DEFAULT_PAGERDUTY_SERVER = 'events.pagerduty.com';

export interface PagerDutyClientOptions {
  /** host[:port] of the Events API; pdjs always uses https. */
  readonly server?: string;
  /** Hard limit of one HTTP attempt. */
  readonly attemptTimeoutMs?: number;
  readonly maxAttempts?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * pdjs re-sends a 429 three more times on its own; its wait between those is set to this (instead
   * of its 20 s) and the whole burst counts as one of our attempts.
   */
  readonly pdjsRetryDelayMs?: number;
  /** Extra CA (PEM) to trust, e.g. a test double's self-signed certificate. */
  readonly ca?: string | Buffer;
  readonly registry?: Registry;
  readonly namespace?: string;
  /** Injected for tests: random in [0, 1) and sleep. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type SendResult =
  | {
      readonly ok: true;
      readonly status: number;
      readonly dedupKey: string | undefined;
      readonly attempts: number;
    }
  | {
      readonly ok: false;
      /** invalid: refused before sending; rejected: 4xx from PagerDuty; exhausted: retries used up. */
      readonly reason: 'invalid' | 'rejected' | 'exhausted';
      readonly status?: number;
      readonly message: string;
      readonly attempts: number;
    };

export interface PagerDutyClient {
  send(event: PagerDutyEvent): Promise<SendResult>;
  close(): void;
}

type AttemptOutcome =
  | { kind: 'ok'; status: number; dedupKey?: string }
  | {
      kind: 'retry';
      reason: (typeof PAGERDUTY_ATTEMPT_FAILURE_REASONS)[number];
      status?: number;
      message: string;
    }
  | { kind: 'fatal'; status: number; message: string };

interface ClientMetrics {
  events: Counter<'event_action' | 'outcome'>;
  attempts: Counter<'reason'>;
  duration: Histogram<'event_action'>;
}

/** One set of metrics per registry: several clients (pager, dead man's switch) may share it. */
const metricsByRegistry = new WeakMap<Registry, ClientMetrics>();

function clientMetrics(registry: Registry, namespace: string | undefined): ClientMetrics {
  const existing = metricsByRegistry.get(registry);
  if (existing) return existing;
  const names = alertsMetricNames(namespace);
  const events = new Counter({
    name: names.pagerdutyEventsTotal,
    help: 'PagerDuty Events API v2 events by action and final outcome.',
    labelNames: ['event_action', 'outcome'] as const,
    registers: [registry],
  });
  const attempts = new Counter({
    name: names.pagerdutyAttemptFailuresTotal,
    help: 'Failed HTTP attempts to the PagerDuty Events API, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: names.pagerdutySendDurationSeconds,
    help: 'Seconds from the first attempt to the final answer of one PagerDuty event.',
    labelNames: ['event_action'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  // Zero-initialised so that the first failure is visible to increase() and alerts.
  for (const a of PAGERDUTY_EVENT_ACTIONS)
    for (const o of PAGERDUTY_EVENT_OUTCOMES) events.inc({ event_action: a, outcome: o }, 0);
  for (const r of PAGERDUTY_ATTEMPT_FAILURE_REASONS) attempts.inc({ reason: r }, 0);
  const m = { events, attempts, duration };
  metricsByRegistry.set(registry, m);
  return m;
}

function messageOf(data: unknown): string {
  if (data && typeof data === 'object') {
    const d = data as { message?: unknown; errors?: unknown };
    const errors = Array.isArray(d.errors)
      ? `: ${d.errors.filter((e) => typeof e === 'string').join('; ')}`
      : '';
    if (typeof d.message === 'string') return `${d.message}${errors}`.slice(0, 500);
  }
  return 'no message';
}

export function createPagerDutyClient(options: PagerDutyClientOptions = {}): PagerDutyClient {
  const server = options.server ?? DEFAULT_PAGERDUTY_SERVER;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const baseMs = options.backoffBaseMs ?? 500;
  const maxMs = options.backoffMaxMs ?? 30_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const agent = new Agent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) });
  const metrics = options.registry ? clientMetrics(options.registry, options.namespace) : undefined;

  async function attempt(event: PagerDutyEvent): Promise<AttemptOutcome> {
    try {
      const response = await pdEvent({
        server,
        data: event as Parameters<typeof pdEvent>[0]['data'],
        signal: AbortSignal.timeout(attemptTimeoutMs),
        // 0 disables pdjs's own (no-op) request timer, which would otherwise keep the process alive.
        requestTimeout: 0,
        retryTimeout: options.pdjsRetryDelayMs ?? 250,
        agent,
      } as Parameters<typeof pdEvent>[0]);
      const status = response.status;
      if (status >= 200 && status < 300) {
        const key = (response.data as { dedup_key?: unknown } | undefined)?.dedup_key;
        return { kind: 'ok', status, dedupKey: typeof key === 'string' ? key : undefined };
      }
      if (status === 429)
        return { kind: 'retry', reason: 'rate_limited', status, message: 'rate limited (429)' };
      if (status >= 500)
        return { kind: 'retry', reason: 'server_error', status, message: `server error ${status}` };
      return {
        kind: 'fatal',
        status,
        message: `PagerDuty refused the event (${status}): ${messageOf(response.data)}`,
      };
    } catch (err) {
      const e = err as Error & { type?: string; name?: string };
      if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.type === 'aborted') {
        return { kind: 'retry', reason: 'timeout', message: `no answer within ${attemptTimeoutMs} ms` };
      }
      // Includes a non-JSON answer (pdjs: "invalid json"): the status is unknown, so retry.
      return { kind: 'retry', reason: 'network', message: `request failed: ${e.message.slice(0, 200)}` };
    }
  }

  async function send(input: PagerDutyEvent): Promise<SendResult> {
    const action: EventAction = input.event_action;
    const prepared: PagerDutyEvent =
      input.event_action === 'trigger'
        ? {
            ...input,
            ...(input.dedup_key !== undefined ? { dedup_key: fitDedupKey(input.dedup_key) } : {}),
            payload: { ...input.payload, summary: truncateSummary(input.payload.summary) },
          }
        : { ...input, dedup_key: fitDedupKey(input.dedup_key) };
    const valid = validateEvent(prepared);
    if (!valid.ok) {
      metrics?.events.inc({ event_action: action, outcome: 'invalid' });
      return {
        ok: false,
        reason: 'invalid',
        message: `invalid event: ${valid.errors.join('; ')}`,
        attempts: 0,
      };
    }
    const stop = metrics?.duration.startTimer({ event_action: action });
    let last: AttemptOutcome | undefined;
    for (let n = 1; n <= maxAttempts; n++) {
      last = await attempt(valid.event);
      if (last.kind === 'ok') {
        stop?.();
        metrics?.events.inc({ event_action: action, outcome: 'sent' });
        return { ok: true, status: last.status, dedupKey: last.dedupKey, attempts: n };
      }
      if (last.kind === 'fatal') {
        stop?.();
        metrics?.attempts.inc({ reason: 'rejected' });
        metrics?.events.inc({ event_action: action, outcome: 'failed' });
        return { ok: false, reason: 'rejected', status: last.status, message: last.message, attempts: n };
      }
      metrics?.attempts.inc({ reason: last.reason });
      if (n < maxAttempts) {
        // Full jitter: spreads retries of many senders after a shared outage.
        const cap = Math.min(maxMs, baseMs * 2 ** (n - 1));
        await sleep(Math.floor(random() * cap));
      }
    }
    stop?.();
    metrics?.events.inc({ event_action: action, outcome: 'failed' });
    const l = last as Extract<AttemptOutcome, { kind: 'retry' }>;
    return {
      ok: false,
      reason: 'exhausted',
      ...(l.status !== undefined ? { status: l.status } : {}),
      message: `gave up after ${maxAttempts} attempts: ${l.message}`,
      attempts: maxAttempts,
    };
  }

  return { send, close: () => agent.destroy() };
}
