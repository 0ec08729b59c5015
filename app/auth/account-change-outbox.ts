/**
 * Reports every account created and every change of an account's state that the database recorded
 * (disabled, enabled or given another role), however it was made (an operator's SQL included): a
 * creation as a user_created event (reason: the new account's role, 008), a change as a user_updated
 * event, and the sessions a change ended as an authn_token_revoked event. Migration 006's trigger ends
 * the sessions and leaves one row per change in account_change_outbox, 008's one per account created,
 * in the change's own transaction, naming the API caller when the API made it. This drains those rows.
 *
 * At least once, stored once: a batch is claimed in one statement (replicas draining at the same tick
 * take different rows; a claim lapses after CLAIM_SECONDS when its drain dies or the collector refuses
 * an event), each row's events carry ids kept in the row and a time decided at its first claim, and rows
 * are deleted only after the collector has stored their events. A drain that dies in between reports
 * the same events again (same ids, same content), and the audit store keeps one row per event id.
 * A drain reports its rows in the order the changes were made; replicas draining at once, or a refused
 * row retried later, may still report two changes of one account out of order (each keeps its time).
 * A run in which the collector refused an event fails (the job's failures count it, and
 * AccountChangeEventsStale fires if it goes on): its row waits.
 */
import { MAX_EVENT_AGE_MS, type Queryable } from '../collector-api';
import type { AppContext, Role } from '../context';

/**
 * Names the API's caller as the actor of the account changes `tx` makes (the triggers of 006 and 008
 * read these transaction-local settings); without it, a change is reported as the system's.
 */
export async function setChangeActor(tx: Queryable, actor: { id: string; role: Role }): Promise<void> {
  await tx.query(
    `SELECT set_config('telehealth.actor_id', $1, true), set_config('telehealth.actor_role', $2, true)`,
    [actor.id, actor.role],
  );
}

const CLAIM_SECONDS = 120;
const BATCH = 100;
/** Room left under the collector's oldest accepted time, for the time a report takes to reach it. */
const AGE_MARGIN_MS = 3600_000;

/**
 * The claim of the next rows, in the order the changes were made (an UPDATE's RETURNING comes in the
 * table's order). $3 is this service's clock, $4 the oldest time the collector surely accepts.
 * `occurred_at` is decided at a row's first claim and kept, so a retry reports the same events: the
 * change's time, or the claim's when the collector would refuse the former (older than the events it
 * accepts, the drain having failed for weeks; or ahead of this clock, the database's running ahead).
 * A decided time that has itself become too old (a row failing for weeks) is decided again, under new
 * event ids: the same ids with another time would be an id conflict. A report stored under the old ids
 * a month before is then audited twice; better than not at all.
 */
const CLAIM = `
  WITH claimed AS (
    UPDATE account_change_outbox o
       SET claimed_until = now() + make_interval(secs => $1),
           occurred_at = CASE WHEN o.occurred_at IS NOT NULL AND o.occurred_at >= $4 THEN o.occurred_at
                              WHEN o.changed_at > $3 OR o.changed_at < $4 THEN $3
                              ELSE o.changed_at END,
           id = CASE WHEN o.occurred_at < $4 THEN gen_random_uuid() ELSE o.id END,
           revoked_event_id = CASE WHEN o.occurred_at < $4 THEN gen_random_uuid() ELSE o.revoked_event_id END
     WHERE o.id IN (SELECT id FROM account_change_outbox
                     WHERE claimed_until IS NULL OR claimed_until < now()
                     ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING o.id, o.user_id, o.change, o.role, o.sessions, o.revoked_event_id, o.actor_id, o.actor_role,
               o.occurred_at, o.seq)
  SELECT * FROM claimed ORDER BY seq`;

interface OutboxRow {
  id: string;
  user_id: string;
  change: 'created' | 'disabled' | 'enabled' | 'role_changed';
  /** The role an account was created with (change 'created' only). */
  role: Role | null;
  sessions: number;
  revoked_event_id: string;
  actor_id: string | null;
  actor_role: Role | null;
  /** The time reported, decided at the row's first claim (CLAIM). */
  occurred_at: Date | string;
}

/** Reports and deletes what the outbox holds; returns how many rows (changes) it reported. */
export async function drainAccountChanges(
  ctx: Pick<AppContext, 'db' | 'events'>,
  sink: { flush(): Promise<void> },
): Promise<number> {
  let reported = 0;
  for (;;) {
    const now = Date.now();
    const { rows } = await ctx.db.query<OutboxRow>(CLAIM, [
      CLAIM_SECONDS,
      BATCH,
      new Date(now),
      new Date(now - MAX_EVENT_AGE_MS + AGE_MARGIN_MS),
    ]);
    // A refused event keeps its row claimed: it is tried again once the claim lapses, after the rest.
    const accepted = rows.filter((r) => {
      const input = {
        // The API's caller when the API made the change; else an operator, outside the service.
        actor:
          r.actor_role !== null
            ? { role: r.actor_role, id: r.actor_id }
            : { role: 'system' as const, id: null },
        resource: { type: 'user_account' as const, id: r.user_id },
        occurredAt: new Date(r.occurred_at),
      };
      const updated =
        r.change === 'created'
          ? ctx.events.report('user_created', { ...input, reason: r.role as Role, eventId: r.id })
          : ctx.events.report('user_updated', { ...input, reason: r.change, eventId: r.id });
      const revoked =
        Number(r.sessions) === 0 ||
        ctx.events.report('authn_token_revoked', {
          ...input,
          reason: 'admin_revoked',
          eventId: r.revoked_event_id,
        });
      return updated && revoked;
    });
    if (accepted.length > 0) {
      await sink.flush();
      await ctx.db.query(`DELETE FROM account_change_outbox WHERE id = ANY($1::uuid[])`, [
        accepted.map((r) => r.id),
      ]);
      reported += accepted.length;
    }
    if (accepted.length < rows.length)
      throw Object.assign(new Error(`events of ${rows.length - accepted.length} account changes refused`), {
        code: 'EVENTS_REFUSED',
      });
    if (rows.length < BATCH) return reported;
  }
}
