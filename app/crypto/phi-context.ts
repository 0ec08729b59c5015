/**
 * The associated data of each encrypted PHI column: table, column and row, and for rows that belong
 * to a patient through a foreign key (not through their own id), that patient too. Without it a
 * SOAP note moved to another patient in the database (`UPDATE soap_notes SET patient_id = ...`)
 * would decrypt and be shown to that patient and their providers.
 */
// Ids are UUIDs, lowercased as PostgreSQL prints them: a path may spell the same id in capitals.
export const soapNoteContext = (noteId: string, patientId: string): string =>
  `soap_notes.content_enc:${noteId.toLowerCase()}:patient:${patientId.toLowerCase()}`;

export const prescriptionContext = (prescriptionId: string, patientId: string): string =>
  `prescriptions.details_enc:${prescriptionId.toLowerCase()}:patient:${patientId.toLowerCase()}`;

/** The associated data before migration 003 (row only): read once, to re-encrypt (app/db/bind-phi.ts). */
export const legacySoapNoteContext = (noteId: string): string => `soap_notes.content_enc:${noteId}`;
export const legacyPrescriptionContext = (prescriptionId: string): string =>
  `prescriptions.details_enc:${prescriptionId}`;
