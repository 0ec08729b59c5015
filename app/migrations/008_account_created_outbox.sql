-- An account created is reported through the outbox too (006), however it is made: the API's accounts
-- and an operator's INSERT alike become a user_created event (its reason the new account's role) with
-- the API caller as actor when the API made it, else unknown (an operator, or the demo seed). `role`:
-- the role the account was created with, kept in the row (a later change is a row of its own).
-- `seq`: the order the changes were made in (rows of one transaction share changed_at; an account's
-- changes are serialised by its row lock), in which the drain reports them. `occurred_at`: the time
-- reported, decided at the row's first claim (changed_at, or the claim's time when the collector would
-- refuse changed_at), so a retried report is the same event (same id, same content) and is stored once
-- rather than refused as a conflict; decided again, under new ids, only once it is itself too old.
ALTER TABLE account_change_outbox ADD COLUMN IF NOT EXISTS role text CHECK (role IN ('admin', 'provider', 'staff', 'patient'));
ALTER TABLE account_change_outbox ADD COLUMN IF NOT EXISTS seq bigserial;
ALTER TABLE account_change_outbox ADD COLUMN IF NOT EXISTS occurred_at timestamptz;
ALTER TABLE account_change_outbox DROP CONSTRAINT IF EXISTS account_change_outbox_change_check;
ALTER TABLE account_change_outbox ADD CONSTRAINT account_change_outbox_change_check
  CHECK (change IN ('created', 'disabled', 'enabled', 'role_changed'));
ALTER TABLE account_change_outbox ADD CONSTRAINT account_change_outbox_created_role_check
  CHECK ((change = 'created') = (role IS NOT NULL));
DROP INDEX IF EXISTS account_change_outbox_order_idx;
CREATE INDEX IF NOT EXISTS account_change_outbox_seq_idx ON account_change_outbox (seq);
CREATE OR REPLACE FUNCTION users_account_created() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO account_change_outbox (user_id, change, sessions, actor_id, actor_role, role) VALUES (NEW.id, 'created', 0, NULLIF(current_setting('telehealth.actor_id', true), '')::uuid, NULLIF(current_setting('telehealth.actor_role', true), ''), NEW.role); RETURN NEW; END $$;
DROP TRIGGER IF EXISTS users_account_created ON users;
CREATE TRIGGER users_account_created AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION users_account_created();
