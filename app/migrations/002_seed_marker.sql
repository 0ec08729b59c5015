-- One row once the demo data has been seeded: the INSERT ... ON CONFLICT on it decides, atomically,
-- which of several instances starting together seeds.
CREATE TABLE IF NOT EXISTS app_seed (
  id integer PRIMARY KEY CHECK (id = 1),
  seeded_at timestamptz NOT NULL DEFAULT now()
);
