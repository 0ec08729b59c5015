-- SOAP notes and prescriptions are encrypted with the patient they belong to in the associated data
-- (app/crypto/phi-context.ts), so that moving a row to another patient in the database makes it fail
-- authentication instead of showing it to that patient. Rows written before carry `false` until
-- app/db/bind-phi.ts has re-encrypted them at start-up; new rows are bound when written.
ALTER TABLE soap_notes ADD COLUMN IF NOT EXISTS bound_to_patient boolean NOT NULL DEFAULT false;
ALTER TABLE soap_notes ALTER COLUMN bound_to_patient SET DEFAULT true;
CREATE INDEX IF NOT EXISTS soap_notes_unbound_idx ON soap_notes (id) WHERE NOT bound_to_patient;
ALTER TABLE prescriptions ADD COLUMN IF NOT EXISTS bound_to_patient boolean NOT NULL DEFAULT false;
ALTER TABLE prescriptions ALTER COLUMN bound_to_patient SET DEFAULT true;
CREATE INDEX IF NOT EXISTS prescriptions_unbound_idx ON prescriptions (id) WHERE NOT bound_to_patient;
