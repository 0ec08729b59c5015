/**
 * Re-encrypts SOAP notes and prescriptions written before migration 003 with their patient in the
 * associated data (crypto/phi-context.ts), once, at start-up, after the migrations. Idempotent and
 * safe with several instances starting together: each row is updated only while still unbound. A
 * row whose stored value does not decrypt under its old context is left unbound and counted: it was
 * altered, and reading it fails authentication as any tampered value does. The first time, it is
 * passed to `onFailure` (the service reports it as `phi_integrity_fail`, which pages) and, once
 * `stored` confirms the report is stored, kept in phi_integrity_failures (migration 007), so later
 * starts count it without paging again. A crash or a store that does not confirm in time leaves it
 * to be reported at the next start: again rather than never. (Replicas starting together may each
 * report a new one: counted twice, one alert.)
 */
import { PhiDecryptionError, type PhiCipher, type PhiDecryptionReason } from '../crypto/phi-cipher';
import {
  legacyPrescriptionContext,
  legacySoapNoteContext,
  prescriptionContext,
  soapNoteContext,
} from '../crypto/phi-context';
import type { Database } from '../collector-api';

const BATCH_ROWS = 500;

const TABLES = [
  {
    table: 'soap_notes',
    resource: 'soap_note',
    column: 'content_enc',
    legacy: legacySoapNoteContext,
    bound: soapNoteContext,
  },
  {
    table: 'prescriptions',
    resource: 'prescription',
    column: 'details_enc',
    legacy: legacyPrescriptionContext,
    bound: prescriptionContext,
  },
] as const;

export interface BindOutcome {
  rebound: number;
  /** Rows whose value did not decrypt under the old context (left as they are). */
  failed: number;
  /** Of those, the ones seen for the first time (passed to `onFailure`). */
  reported: number;
}

export interface BindFailure {
  resource: (typeof TABLES)[number]['resource'];
  id: string;
  reason: PhiDecryptionReason;
}

export async function bindPhiToPatients(
  db: Database,
  cipher: PhiCipher,
  /** Reports a failure; false when the report was refused (then it is passed again at the next start). */
  onFailure: (f: BindFailure) => boolean | void = () => undefined,
  /** Resolves once the reports are stored (the collector's flush); failures are kept only then. */
  stored: () => Promise<void> = async () => undefined,
): Promise<BindOutcome> {
  const out: BindOutcome = { rebound: 0, failed: 0, reported: 0 };
  const reported: BindFailure[] = [];
  for (const t of TABLES) {
    // Keyset paging over the unbound rows: a row that failed stays unbound and is passed over.
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const { rows } = await db.query<{ id: string; patient_id: string; value: string }>(
        `SELECT id::text AS id, patient_id::text AS patient_id, ${t.column} AS value FROM ${t.table}
          WHERE NOT bound_to_patient AND id > $1 ORDER BY id LIMIT ${BATCH_ROWS}`,
        [after],
      );
      for (const row of rows) {
        let plaintext: string;
        try {
          plaintext = cipher.decrypt(row.value, t.legacy(row.id));
        } catch (err) {
          out.failed += 1;
          if (!(err instanceof PhiDecryptionError)) continue;
          const known = await db.query(
            `SELECT 1 FROM phi_integrity_failures WHERE resource = $1 AND id = $2`,
            [t.resource, row.id],
          );
          const failure: BindFailure = { resource: t.resource, id: row.id, reason: err.reason };
          // A report the collector refused (false) is not kept: tried again at the next start.
          if (known.rowCount === 0 && onFailure(failure) !== false) reported.push(failure);
          continue;
        }
        const r = await db.query(
          `UPDATE ${t.table} SET ${t.column} = $2, bound_to_patient = true
            WHERE id = $1 AND NOT bound_to_patient AND ${t.column} = $3 AND patient_id = $4`,
          [row.id, cipher.encrypt(plaintext, t.bound(row.id, row.patient_id)), row.value, row.patient_id],
        );
        out.rebound += r.rowCount;
      }
      if (rows.length < BATCH_ROWS) break;
      after = (rows[rows.length - 1] as { id: string }).id;
    }
  }
  out.reported = reported.length;
  if (reported.length > 0) {
    try {
      await stored();
    } catch {
      return out;
    }
    for (const f of reported)
      await db.query(
        `INSERT INTO phi_integrity_failures (resource, id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [f.resource, f.id, f.reason],
      );
  }
  return out;
}
