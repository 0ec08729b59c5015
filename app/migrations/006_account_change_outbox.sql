-- Every change of an account's state (disabled, enabled, given another role), however it is made (the
-- API or an operator's SQL), is reported as a user_updated event, and the sessions it ends (005) as an
-- authn_token_revoked event. A trigger cannot report, so it leaves one row per change here, in the same
-- transaction as the change, and the service drains the rows into events (app/auth/account-change-outbox.ts).
-- The actor is the API caller when the API made the change (it sets telehealth.actor_id and
-- telehealth.actor_role for its transaction), else unknown (an operator). `claimed_until`: a drain that
-- crashed lets go after a while. This trigger also ends the sessions, in place of 005's.
CREATE TABLE IF NOT EXISTS account_change_outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id),
  change text NOT NULL CHECK (change IN ('disabled', 'enabled', 'role_changed')),
  sessions integer NOT NULL CHECK (sessions >= 0),
  revoked_event_id uuid NOT NULL DEFAULT gen_random_uuid(),
  actor_id uuid,
  actor_role text CHECK (actor_role IN ('admin', 'provider', 'staff', 'patient')),
  changed_at timestamptz NOT NULL DEFAULT now(),
  claimed_until timestamptz
);
CREATE INDEX IF NOT EXISTS account_change_outbox_order_idx ON account_change_outbox (changed_at);
CREATE OR REPLACE FUNCTION users_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE n integer := 0; actor uuid := NULLIF(current_setting('telehealth.actor_id', true), '')::uuid; actor_r text := NULLIF(current_setting('telehealth.actor_role', true), ''); BEGIN IF (NEW.disabled AND NOT OLD.disabled) OR NEW.role IS DISTINCT FROM OLD.role THEN UPDATE sessions SET revoked_at = now(), revoke_reason = 'admin_revoked' WHERE user_id = NEW.id AND revoked_at IS NULL; GET DIAGNOSTICS n = ROW_COUNT; END IF; IF NEW.disabled IS DISTINCT FROM OLD.disabled THEN INSERT INTO account_change_outbox (user_id, change, sessions, actor_id, actor_role) VALUES (NEW.id, CASE WHEN NEW.disabled THEN 'disabled' ELSE 'enabled' END, n, actor, actor_r); n := 0; END IF; IF NEW.role IS DISTINCT FROM OLD.role THEN INSERT INTO account_change_outbox (user_id, change, sessions, actor_id, actor_role) VALUES (NEW.id, 'role_changed', n, actor, actor_r); END IF; RETURN NEW; END $$;
DROP TRIGGER IF EXISTS users_end_sessions ON users;
DROP FUNCTION IF EXISTS users_end_sessions();
DROP TRIGGER IF EXISTS users_account_changed ON users;
CREATE TRIGGER users_account_changed AFTER UPDATE OF disabled, role ON users
  FOR EACH ROW WHEN (NEW.disabled IS DISTINCT FROM OLD.disabled OR NEW.role IS DISTINCT FROM OLD.role)
  EXECUTE FUNCTION users_account_changed();
