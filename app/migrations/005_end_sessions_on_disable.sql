-- An account that is disabled, or given another role, loses its sessions at once and for good, however
-- the change is made (the API, an operator's SQL): enabling it again does not bring an old token back.
-- The session check (app/auth/sessions.ts) also refuses a disabled account's tokens; this makes the
-- end permanent, as a logout is. The function body is on one line: migrations are split at a `;` that
-- ends a line (app/db/migrate.ts).
CREATE OR REPLACE FUNCTION users_end_sessions() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE sessions SET revoked_at = now(), revoke_reason = 'admin_revoked' WHERE user_id = NEW.id AND revoked_at IS NULL; RETURN NEW; END $$;
DROP TRIGGER IF EXISTS users_end_sessions ON users;
CREATE TRIGGER users_end_sessions AFTER UPDATE OF disabled, role ON users
  FOR EACH ROW WHEN ((NEW.disabled AND NOT OLD.disabled) OR NEW.role IS DISTINCT FROM OLD.role)
  EXECUTE FUNCTION users_end_sessions();
