-- Failed logins for names that are no account (or a disabled one), counted and locked exactly as an
-- account's are (app/auth/login.ts), so that 423 after the third failure does not tell that a name
-- exists. Keyed by an HMAC of the lowercased name: attempted names (typos of passwords, emails) are
-- not stored. Rows that stopped mattering are deleted by the login path itself.
CREATE TABLE IF NOT EXISTS login_throttle (
  name_hmac bytea PRIMARY KEY,
  failed_attempts integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS login_throttle_updated_idx ON login_throttle (updated_at);
