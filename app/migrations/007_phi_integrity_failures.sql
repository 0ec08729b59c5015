-- Rows that 003's re-encryption found not to authenticate are reported once (phi_integrity_fail pages
-- on-call), not at every start: a row is kept here when its failure is first reported. The row itself
-- stays as it is, unbound and unreadable, for the investigation.
CREATE TABLE IF NOT EXISTS phi_integrity_failures (
  resource text NOT NULL,
  id uuid NOT NULL,
  reason text NOT NULL,
  first_reported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource, id)
);
