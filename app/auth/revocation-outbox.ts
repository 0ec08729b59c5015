/**
 * Reports the sessions the database ended by itself as authn_token_revoked events. Migration 005's
 * trigger ends an account's sessions when it is disabled or given another role, however the change is
 * made (an operator's SQL included), and cannot report; migration 006 has it leave one row per change in
 * session_revocation_outbox, in the change's own transaction. This drains those rows.
 *
 * At least once, stored once: a batch is claimed in one statement (replicas draining at the same tick
 * take different rows; a claim lapses after CLAIM_SECONDS when its drain dies or the collector refuses
 * the event), each row is reported with its own id as the event id, and rows are deleted only after
 * the collector has stored their events. A drain that dies in between reports the same events again,
 * and the audit store keeps one row per event id. A run in which the collector refused an event fails
 * (the job's failures count it, and SessionRevocationEventsStale fires if it goes on): its row waits.
 */
import { MAX_EVENT_AGE_MS } from '../collector-api';
import type { AppContext, Role } from '../context';

const CLAIM_SECONDS = 120;
const BATCH = 100;
/** Room left under the collector's oldest accepted time, for the time a report takes to reach it. */
const AGE_MARGIN_MS = 3600_000;

/**
 * The revocation's time, or the report's when the collector would refuse the former: older than the
 * events it accepts (the drain failed for weeks), or ahead of this clock (the database's runs ahead).
 */
export function reportTime(revokedAt: Date, now = Date.now()): Date {
  const t = revokedAt.getTime();
  return Number.isNaN(t) || t > now || t < now - MAX_EVENT_AGE_MS + AGE_MARGIN_MS ? new Date(now) : revokedAt;
}

interface OutboxRow {
  id: string;
  user_id: string;
  actor_id: string | null;
  actor_role: Role | null;
  revoked_at: Date | string;
}

/** Reports and deletes what the outbox holds; returns how many rows it reported. */
export async function drainSessionRevocations(
  ctx: Pick<AppContext, 'db' | 'events'>,
  sink: { flush(): Promise<void> },
): Promise<number> {
  let reported = 0;
  for (;;) {
    const { rows } = await ctx.db.query<OutboxRow>(
      `UPDATE session_revocation_outbox SET claimed_until = now() + make_interval(secs => $1)
        WHERE id IN (SELECT id FROM session_revocation_outbox
                      WHERE claimed_until IS NULL OR claimed_until < now()
                      ORDER BY revoked_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING id, user_id, actor_id, actor_role, revoked_at`,
      [CLAIM_SECONDS, BATCH],
    );
    // A refused event keeps its row claimed: it is tried again once the claim lapses, after the rest.
    const accepted = rows.filter((r) =>
      ctx.events.report('authn_token_revoked', {
        // The API's caller when the API made the change; else an operator, outside the service.
        actor: r.actor_role !== null ? { role: r.actor_role, id: r.actor_id } : { role: 'system', id: null },
        reason: 'admin_revoked',
        resource: { type: 'user_account', id: r.user_id },
        eventId: r.id,
        occurredAt: reportTime(new Date(r.revoked_at)),
      }),
    );
    if (accepted.length > 0) {
      await sink.flush();
      await ctx.db.query(`DELETE FROM session_revocation_outbox WHERE id = ANY($1::uuid[])`, [
        accepted.map((r) => r.id),
      ]);
      reported += accepted.length;
    }
    if (accepted.length < rows.length)
      throw Object.assign(new Error(`${rows.length - accepted.length} revocation events refused`), {
        code: 'EVENTS_REFUSED',
      });
    if (rows.length < BATCH) return reported;
  }
}
