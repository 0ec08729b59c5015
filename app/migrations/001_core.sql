-- Core schema of the reference service. PHI columns (suffix _enc) hold AES-256-GCM ciphertexts
-- written by app/crypto/phi-cipher.ts; the database never sees a plaintext PHI value.
-- Statements are split on ';' at the end of a line: keep function bodies out of migrations.

CREATE TABLE IF NOT EXISTS patients (
  id uuid PRIMARY KEY,
  name_enc text NOT NULL,
  dob_enc text NOT NULL,
  ssn_enc text,
  email_enc text,
  phone_enc text,
  address_enc text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
  id uuid PRIMARY KEY,
  username text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'provider', 'staff', 'patient')),
  password_hash text NOT NULL,
  totp_secret_enc text,
  totp_last_step bigint,
  patient_id uuid REFERENCES patients (id),
  failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  locked_until timestamptz,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((role = 'patient') = (patient_id IS NOT NULL))
);
-- Login looks users up by case-folded username.
CREATE UNIQUE INDEX IF NOT EXISTS users_username_lower_key ON users (lower(username));
-- The patient's own login, for the own-record check.
CREATE UNIQUE INDEX IF NOT EXISTS users_patient_id_key ON users (patient_id) WHERE patient_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS provider_assignments (
  patient_id uuid NOT NULL REFERENCES patients (id),
  provider_id uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (patient_id, provider_id)
);
-- A provider's patient list.
CREATE INDEX IF NOT EXISTS provider_assignments_provider_idx ON provider_assignments (provider_id, patient_id);

CREATE TABLE IF NOT EXISTS sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoke_reason text CHECK (revoke_reason IN ('logout', 'admin_revoked', 'password_changed', 'inactivity', 'token_expired'))
);
-- Revoking every live session of a user.
CREATE INDEX IF NOT EXISTS sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL;
-- Pruning old sessions.
CREATE INDEX IF NOT EXISTS sessions_expires_idx ON sessions (expires_at);

CREATE TABLE IF NOT EXISTS orders (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  created_by uuid NOT NULL REFERENCES users (id),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fulfilled', 'cancelled')),
  currency text NOT NULL,
  total_minor bigint NOT NULL CHECK (total_minor >= 0),
  items jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_patient_idx ON orders (patient_id, created_at DESC);
-- The open-orders gauge and the open-orders list.
CREATE INDEX IF NOT EXISTS orders_open_idx ON orders (created_at DESC) WHERE status = 'open';

CREATE TABLE IF NOT EXISTS prescriptions (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  provider_id uuid NOT NULL REFERENCES users (id),
  details_enc text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'filled', 'cancelled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS prescriptions_patient_idx ON prescriptions (patient_id, created_at DESC);
-- The pending-prescriptions gauge and the pharmacy queue.
CREATE INDEX IF NOT EXISTS prescriptions_pending_idx ON prescriptions (created_at) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS invoices (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  order_id uuid REFERENCES orders (id),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  status text NOT NULL DEFAULT 'unpaid' CHECK (status IN ('unpaid', 'paid', 'refunded', 'void')),
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS invoices_patient_idx ON invoices (patient_id, created_at DESC);
CREATE INDEX IF NOT EXISTS invoices_order_idx ON invoices (order_id) WHERE order_id IS NOT NULL;
-- The unpaid-invoices gauge and the billing queue.
CREATE INDEX IF NOT EXISTS invoices_unpaid_idx ON invoices (created_at) WHERE status = 'unpaid';

CREATE TABLE IF NOT EXISTS payments (
  id uuid PRIMARY KEY,
  invoice_id uuid NOT NULL REFERENCES invoices (id),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  status text NOT NULL CHECK (status IN ('captured', 'failed', 'refunded', 'partially_refunded')),
  failure_reason text,
  refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_invoice_idx ON payments (invoice_id, created_at);

CREATE TABLE IF NOT EXISTS refunds (
  id uuid PRIMARY KEY,
  payment_id uuid NOT NULL REFERENCES payments (id),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  reason text NOT NULL,
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS refunds_payment_idx ON refunds (payment_id);

CREATE TABLE IF NOT EXISTS soap_notes (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  provider_id uuid NOT NULL REFERENCES users (id),
  content_enc text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS soap_notes_patient_idx ON soap_notes (patient_id, created_at DESC);
