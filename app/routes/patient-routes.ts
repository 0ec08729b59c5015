/**
 * Patients and their PHI:
 *   POST   /api/patients                          admin, staff (intake)
 *   GET    /api/patients                          ids visible to the caller (no PHI)
 *   GET    /api/patients/:id                      PHI read (patient, assigned provider, admin)
 *   PATCH  /api/patients/:id                      admin, the patient
 *   PUT    /api/patients/:id/providers/:providerId   admin: assign a provider
 *   DELETE /api/patients/:id/providers/:providerId   admin: unassign
 *   POST   /api/patients/:id/soap-notes           assigned provider
 *   GET    /api/patients/:id/soap-notes           PHI read
 *   GET    /api/patients/:id/prescriptions        PHI read
 * PHI columns are encrypted before they reach SQL and decrypted only for an authorised read.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { authorizePatient, patientExists, reportPhiWrite, roleForbidden } from '../auth/phi-access';
import { getAuth, requireAuth } from '../auth/sessions';
import type { AppContext, AuthContext } from '../context';
import { decryptReported } from '../crypto/decrypt-reported';
import { prescriptionContext, soapNoteContext } from '../crypto/phi-context';
import { forbidden, notFound } from '../http/errors';
import { idParams, limit, multiline, text, uuid } from '../http/schemas';
import { body, params, query } from '../http/validate';

const PHI_FIELDS = ['name', 'dateOfBirth', 'ssn', 'email', 'phone', 'address'] as const;
type PhiField = (typeof PHI_FIELDS)[number];
const COLUMN: Record<PhiField, string> = {
  name: 'name_enc',
  dateOfBirth: 'dob_enc',
  ssn: 'ssn_enc',
  email: 'email_enc',
  phone: 'phone_enc',
  address: 'address_enc',
};

const dateOfBirth = z.iso.date().refine((v) => {
  const t = Date.parse(v);
  return t <= Date.now() && t >= Date.parse('1900-01-01');
}, 'must be a past date after 1900-01-01');
const phiShape = {
  name: text(200),
  dateOfBirth,
  ssn: z.string().regex(/^\d{3}-\d{2}-\d{4}$/, 'must look like 123-45-6789'),
  email: z.email().max(254),
  phone: z.string().regex(/^\+?[0-9 ()-]{7,20}$/, 'must be a phone number'),
  address: multiline(500),
};
const createPatientBody = z
  .object({
    ...phiShape,
    ssn: phiShape.ssn.optional(),
    email: phiShape.email.optional(),
    phone: phiShape.phone.optional(),
    address: phiShape.address.optional(),
  })
  .strict();
const updatePatientBody = z
  .object({
    name: phiShape.name.optional(),
    dateOfBirth: phiShape.dateOfBirth.optional(),
    ssn: phiShape.ssn.nullable().optional(),
    email: phiShape.email.nullable().optional(),
    phone: phiShape.phone.nullable().optional(),
    address: phiShape.address.nullable().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'must change at least one field');
const soapBody = z
  .object({
    subjective: multiline(5000),
    objective: multiline(5000),
    assessment: multiline(5000),
    plan: multiline(5000),
  })
  .strict();
const assignmentParams = z.object({ id: uuid, providerId: uuid }).strict();

export type PatientInput = z.infer<typeof createPatientBody>;

/** Encrypts and inserts a patient (used by the route and by the demo seed). */
export async function insertPatient(
  ctx: AppContext,
  input: PatientInput,
  createdBy: string | null,
): Promise<string> {
  const id = randomUUID();
  const enc = (field: PhiField, v: string | undefined) =>
    v === undefined ? null : ctx.cipher.encrypt(v, `patients.${COLUMN[field]}:${id}`);
  await ctx.db.query(
    `INSERT INTO patients (id, name_enc, dob_enc, ssn_enc, email_enc, phone_enc, address_enc, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      id,
      enc('name', input.name),
      enc('dateOfBirth', input.dateOfBirth),
      enc('ssn', input.ssn),
      enc('email', input.email),
      enc('phone', input.phone),
      enc('address', input.address),
      createdBy,
    ],
  );
  return id;
}

export async function readPatient(
  ctx: AppContext,
  auth: AuthContext,
  id: string,
): Promise<Record<string, unknown> | null> {
  const { rows } = await ctx.db.query<Record<string, string | null | Date>>(
    `SELECT id, name_enc, dob_enc, ssn_enc, email_enc, phone_enc, address_enc, created_at FROM patients WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return null;
  const out: Record<string, unknown> = { id: row.id };
  const actor = { role: auth.role, id: auth.userId };
  const resource = { type: 'patient_record', id } as const;
  for (const f of PHI_FIELDS) {
    const v = row[COLUMN[f]];
    out[f] =
      typeof v === 'string' ? decryptReported(ctx, actor, resource, v, `patients.${COLUMN[f]}:${id}`) : null;
  }
  out.createdAt = row.created_at;
  return out;
}

/** A SOAP note's or prescription's encrypted JSON fields, for `actor` (a failure is reported). */
function decryptedJson(...args: Parameters<typeof decryptReported>): object {
  return JSON.parse(decryptReported(...args)) as object;
}

export function patientRoutes(ctx: AppContext): Router {
  const r = Router();
  r.use(requireAuth(ctx));

  r.post('/', async (req, res) => {
    const auth = getAuth(res);
    if (auth.role !== 'admin' && auth.role !== 'staff') throw roleForbidden(ctx, auth);
    const input = body(req, createPatientBody);
    const id = await insertPatient(ctx, input, auth.userId);
    reportPhiWrite(ctx, auth, 'intake', { type: 'patient_record', id });
    res.status(201).json({ id });
  });

  r.get('/', async (req, res) => {
    const auth = getAuth(res);
    const q = query(req, z.object({ limit }).strict());
    let rows: Array<{ id: string; created_at: Date }>;
    if (auth.role === 'admin' || auth.role === 'staff') {
      ({ rows } = await ctx.db.query(`SELECT id, created_at FROM patients ORDER BY created_at, id LIMIT $1`, [
        q.limit,
      ]));
    } else if (auth.role === 'provider') {
      ({ rows } = await ctx.db.query(
        `SELECT p.id, p.created_at FROM provider_assignments a JOIN patients p ON p.id = a.patient_id
          WHERE a.provider_id = $1 ORDER BY p.created_at, p.id LIMIT $2`,
        [auth.userId, q.limit],
      ));
    } else {
      ({ rows } = await ctx.db.query(`SELECT id, created_at FROM patients WHERE id = $1`, [auth.patientId]));
    }
    res.json({ patients: rows.map((p) => ({ id: p.id, createdAt: p.created_at })) });
  });

  r.get('/:id', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    await authorizePatient(ctx, auth, id, { resource: 'patient_record', phiRead: true });
    const patient = await readPatient(ctx, auth, id);
    if (!patient) throw notFound('Patient');
    res.json(patient);
  });

  r.patch('/:id', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    if (auth.role !== 'admin' && !(auth.role === 'patient' && auth.patientId === id)) {
      ctx.events.report('authz_fail', {
        actor: { role: auth.role, id: auth.userId },
        reason: auth.role === 'patient' ? 'not_owner' : 'role_forbidden',
        resource: { type: 'patient_record', id },
      });
      throw forbidden();
    }
    const input = body(req, updatePatientBody);
    await patientExists(ctx, id);
    const sets: string[] = [];
    const values: unknown[] = [id];
    for (const f of PHI_FIELDS) {
      const v = input[f];
      if (v === undefined) continue;
      values.push(v === null ? null : ctx.cipher.encrypt(v, `patients.${COLUMN[f]}:${id}`));
      sets.push(`${COLUMN[f]} = $${values.length}`);
    }
    await ctx.db.query(`UPDATE patients SET ${sets.join(', ')} WHERE id = $1`, values);
    reportPhiWrite(ctx, auth, auth.role === 'admin' ? 'admin_access' : 'own_record', {
      type: 'patient_record',
      id,
    });
    res.status(204).end();
  });

  r.put('/:id/providers/:providerId', async (req, res) => {
    const { id, providerId } = params(req, assignmentParams);
    if (getAuth(res).role !== 'admin') throw roleForbidden(ctx, getAuth(res), { type: 'patient_record', id });
    await patientExists(ctx, id);
    const p = await ctx.db.query(`SELECT 1 FROM users WHERE id = $1 AND role = 'provider'`, [providerId]);
    if (p.rowCount === 0) throw notFound('Provider');
    await ctx.db.query(
      `INSERT INTO provider_assignments (patient_id, provider_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [id, providerId],
    );
    res.status(204).end();
  });

  r.delete('/:id/providers/:providerId', async (req, res) => {
    const { id, providerId } = params(req, assignmentParams);
    if (getAuth(res).role !== 'admin') throw roleForbidden(ctx, getAuth(res), { type: 'patient_record', id });
    const d = await ctx.db.query(
      `DELETE FROM provider_assignments WHERE patient_id = $1 AND provider_id = $2`,
      [id, providerId],
    );
    if (d.rowCount === 0) throw notFound('Assignment');
    res.status(204).end();
  });

  r.post('/:id/soap-notes', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    if (auth.role !== 'provider') throw roleForbidden(ctx, auth, { type: 'soap_note', id });
    const input = body(req, soapBody);
    await authorizePatient(ctx, auth, id, { resource: 'soap_note', phiRead: false });
    const noteId = randomUUID();
    await ctx.db.query(
      `INSERT INTO soap_notes (id, patient_id, provider_id, content_enc) VALUES ($1, $2, $3, $4)`,
      [noteId, id, auth.userId, ctx.cipher.encrypt(JSON.stringify(input), soapNoteContext(noteId, id))],
    );
    reportPhiWrite(ctx, auth, 'assigned_provider', { type: 'soap_note', id });
    res.status(201).json({ id: noteId });
  });

  r.get('/:id/soap-notes', async (req, res) => {
    const { id } = params(req, idParams);
    const q = query(req, z.object({ limit }).strict());
    const auth = getAuth(res);
    await authorizePatient(ctx, auth, id, { resource: 'soap_note', phiRead: true });
    const actor = { role: auth.role, id: auth.userId };
    const { rows } = await ctx.db.query<{
      id: string;
      provider_id: string;
      content_enc: string;
      created_at: Date;
    }>(
      `SELECT id, provider_id, content_enc, created_at FROM soap_notes WHERE patient_id = $1
        ORDER BY created_at DESC LIMIT $2`,
      [id, q.limit],
    );
    res.json({
      notes: rows.map((n) => ({
        id: n.id,
        providerId: n.provider_id,
        createdAt: n.created_at,
        ...decryptedJson(
          ctx,
          actor,
          { type: 'soap_note', id: n.id },
          n.content_enc,
          soapNoteContext(n.id, id),
        ),
      })),
    });
  });

  r.get('/:id/prescriptions', async (req, res) => {
    const { id } = params(req, idParams);
    const q = query(req, z.object({ limit }).strict());
    const auth = getAuth(res);
    await authorizePatient(ctx, auth, id, { resource: 'prescription', phiRead: true });
    const actor = { role: auth.role, id: auth.userId };
    const { rows } = await ctx.db.query<{
      id: string;
      provider_id: string;
      details_enc: string;
      status: string;
      created_at: Date;
    }>(
      `SELECT id, provider_id, details_enc, status, created_at FROM prescriptions WHERE patient_id = $1
        ORDER BY created_at DESC LIMIT $2`,
      [id, q.limit],
    );
    res.json({
      prescriptions: rows.map((p) => ({
        id: p.id,
        providerId: p.provider_id,
        status: p.status,
        createdAt: p.created_at,
        ...decryptedJson(
          ctx,
          actor,
          { type: 'prescription', id: p.id },
          p.details_enc,
          prescriptionContext(p.id, id),
        ),
      })),
    });
  });

  return r;
}
