-- Sessions the database ends by itself (005: an account disabled or given another role, by the API or
-- an operator's SQL) are reported as authn_token_revoked events. A trigger cannot report, so it leaves
-- one row per change here, in the same transaction as the change, and the service drains the rows into
-- events (app/auth/revocation-outbox.ts). The actor is the API caller when the API made the change (it
-- sets telehealth.actor_id and telehealth.actor_role for its transaction), else unknown (an operator).
-- `claimed_until`: a drain that crashed lets go after a while.
CREATE TABLE IF NOT EXISTS session_revocation_outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id),
  sessions integer NOT NULL CHECK (sessions > 0),
  actor_id uuid,
  actor_role text CHECK (actor_role IN ('admin', 'provider', 'staff', 'patient')),
  revoked_at timestamptz NOT NULL DEFAULT now(),
  claimed_until timestamptz
);
CREATE INDEX IF NOT EXISTS session_revocation_outbox_order_idx ON session_revocation_outbox (revoked_at);
CREATE OR REPLACE FUNCTION users_end_sessions() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE n integer; BEGIN UPDATE sessions SET revoked_at = now(), revoke_reason = 'admin_revoked' WHERE user_id = NEW.id AND revoked_at IS NULL; GET DIAGNOSTICS n = ROW_COUNT; IF n > 0 THEN INSERT INTO session_revocation_outbox (user_id, sessions, actor_id, actor_role) VALUES (NEW.id, n, NULLIF(current_setting('telehealth.actor_id', true), '')::uuid, NULLIF(current_setting('telehealth.actor_role', true), '')); END IF; RETURN NEW; END $$;
