/**
 * Builds the service's security and business events (collector schema v1) and hands them to the
 * collector. Identifiers become pseudonymous references here, at the only place events are made,
 * so no route can put a user id, username or patient id into an event by accident.
 * `record()` is synchronous validation + enqueue: the request path never waits for storage.
 */
import { randomUUID } from 'node:crypto';
import {
  EVENT_TYPES,
  pseudonymousRef,
  type ActorRole,
  type Currency,
  type EventReason,
  type EventType,
  type ResourceType,
} from '../collector-api';

/** What the service needs of a collector (the collector's `Collector` satisfies it). */
export interface EventSink {
  record(
    event: unknown,
  ): { accepted: true } | { accepted: false; errors: Array<{ path: string; message: string }> };
  flush(): Promise<void>;
  close(): Promise<void>;
  readinessCheck(): Promise<void>;
}

export interface EventActorInput {
  role: ActorRole;
  /** Internal id (user id) or, for anonymous actors, an attempted username; null when unknown. */
  id: string | null;
}

export interface ReportInput<T extends EventType> {
  actor: EventActorInput;
  reason: EventReason<T>;
  resource?: { type: ResourceType; id: string };
  amount?: { minorUnits: number; currency: Currency };
  /** An id of the thing reported (a retried report is then the same event, kept once); default: a new one. */
  eventId?: string;
  /** When it happened, if not now (a report made later than the change it reports). */
  occurredAt?: Date;
}

export interface EventReporter {
  /** False when the collector refused the event (closed, full or invalid; counted in rejectedCount). */
  report<T extends EventType>(type: T, input: ReportInput<T>): boolean;
  /** Events the collector refused (a bug in this service): counted so a test can assert zero. */
  readonly rejectedCount: number;
}

export function createEventReporter(opts: {
  sink: EventSink;
  source: string;
  pseudonymKey: string;
  onRejected?: (type: EventType, errors: Array<{ path: string; message: string }>) => void;
}): EventReporter {
  let rejected = 0;
  const ref = (kind: string, id: string) => pseudonymousRef(opts.pseudonymKey, `${kind}:${id}`);
  return {
    get rejectedCount() {
      return rejected;
    },
    report(type, input) {
      const event: Record<string, unknown> = {
        schema_version: 1,
        event_id: input.eventId ?? randomUUID(),
        event_type: type,
        occurred_at: (input.occurredAt ?? new Date()).toISOString(),
        source: opts.source,
        actor: { role: input.actor.role, ref: input.actor.id === null ? null : ref('actor', input.actor.id) },
        outcome: EVENT_TYPES[type].outcome,
        reason: input.reason,
      };
      if (input.resource)
        event.resource = { type: input.resource.type, ref: ref(input.resource.type, input.resource.id) };
      if (input.amount)
        event.amount = { minor_units: input.amount.minorUnits, currency: input.amount.currency };
      const result = opts.sink.record(event);
      if (!result.accepted) {
        rejected += 1;
        opts.onRejected?.(type, result.errors);
      }
      return result.accepted;
    },
  };
}
