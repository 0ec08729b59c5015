/**
 * PHI at rest: distinctive values written through the API are nowhere in the raw tables (patients,
 * SOAP notes, prescriptions, users' TOTP secrets, the audit table), and each stored value is an
 * AES-256-GCM ciphertext with its key id.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createPhiCipher, PhiDecryptionError } from '../../app/crypto/phi-cipher';
import { legacySoapNoteContext, soapNoteContext } from '../../app/crypto/phi-context';
import { bindPhiToPatients } from '../../app/db/bind-phi';
import { defaultBackend, demoUser, loginAs, startTestService, type TestService } from './helpers';

const CANARY = {
  name: 'Zebulon Quixotic-Canary',
  dateOfBirth: '1977-07-07',
  ssn: '078-05-1120',
  email: 'zebulon.canary@example.test',
  phone: '+1 555 0177',
  address: '77 Canary Wharf Lane, Testville',
};
const NOTE = 'CANARY-NOTE-subjective-complaint-xyzzy';
const MED = 'Canarymycin 250 mg';

describe(`PHI at rest (${defaultBackend()})`, () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService(defaultBackend());
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
  }, 60_000);

  it('stores no plaintext PHI in any table', async () => {
    const api = t.service.apiUrl;
    const admin = await loginAs(t, 'demo-admin');
    const provider = await loginAs(t, 'demo-provider-1');
    const created = await request(api)
      .post('/api/patients')
      .set('Authorization', `Bearer ${admin}`)
      .send(CANARY);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await request(api)
      .put(`/api/patients/${id}/providers/${demoUser(t, 'demo-provider-1').userId}`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(204);
    await request(api)
      .post(`/api/patients/${id}/soap-notes`)
      .set('Authorization', `Bearer ${provider}`)
      .send({ subjective: NOTE, objective: 'o', assessment: 'a', plan: 'p' })
      .expect(201);
    await request(api)
      .post('/api/prescriptions')
      .set('Authorization', `Bearer ${provider}`)
      .send({ patientId: id, medication: MED, dosage: 'daily' })
      .expect(201);
    // The API still returns the plaintext to an authorised reader.
    const read = await request(api).get(`/api/patients/${id}`).set('Authorization', `Bearer ${admin}`);
    expect(read.body).toMatchObject(CANARY);
    await t.service.collector.flush();

    // Long enough not to turn up by chance in ciphertext or ids ('0780' alone was found inside a uuid).
    const needles = [...Object.values(CANARY), '078051120', '078-05', NOTE, MED];
    for (const table of ['patients', 'soap_notes', 'prescriptions', 'users', 'sessions', 'audit_events']) {
      const { rows } = await t.service.database.query(`SELECT * FROM ${table}`);
      expect(rows.length).toBeGreaterThan(0);
      const raw = JSON.stringify(rows);
      for (const n of needles) expect(raw).not.toContain(n);
    }
    // TOTP secrets are encrypted too.
    const users = await t.service.database.query<{ totp_secret_enc: string | null }>(
      `SELECT totp_secret_enc FROM users WHERE role IN ('admin', 'provider')`,
    );
    for (const u of t.service.credentials!.users.filter((x) => x.totpSecret)) {
      expect(JSON.stringify(users.rows)).not.toContain(u.totpSecret);
    }

    const { rows } = await t.service.database.query<Record<string, string | null>>(
      `SELECT name_enc, dob_enc, ssn_enc, email_enc, phone_enc, address_enc FROM patients WHERE id = $1`,
      [id],
    );
    const values = Object.values(rows[0]!);
    for (const v of values)
      expect(v).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    // A random IV per value: equal plaintexts never give equal ciphertexts.
    expect(new Set(values.map((v) => v!.split('.')[2])).size).toBe(values.length);
  }, 60_000);

  it('a SOAP note or prescription moved to another patient in the database is not shown to that patient', async () => {
    const api = t.service.apiUrl;
    const admin = await loginAs(t, 'demo-admin');
    const provider = await loginAs(t, 'demo-provider-1');
    const owner = demoUser(t, 'demo-patient-1').patientId as string;
    const other = demoUser(t, 'demo-patient-2').patientId as string;
    const note = 'MOVED-NOTE-canary-plugh';
    const med = 'Movedomycin 5 mg';
    const created = await request(api)
      .post(`/api/patients/${owner}/soap-notes`)
      .set('Authorization', `Bearer ${provider}`)
      .send({ subjective: note, objective: 'o', assessment: 'a', plan: 'p' })
      .expect(201);
    const rx = await request(api)
      .post('/api/prescriptions')
      .set('Authorization', `Bearer ${provider}`)
      .send({ patientId: owner, medication: med, dosage: 'daily' })
      .expect(201);
    const db = t.service.database;
    // Someone with write access to the tables but not the key moves both rows to another patient.
    await db.query(`UPDATE soap_notes SET patient_id = $2 WHERE id = $1`, [created.body.id, other]);
    await db.query(`UPDATE prescriptions SET patient_id = $2 WHERE id = $1`, [rx.body.id, other]);
    try {
      for (const path of ['soap-notes', 'prescriptions']) {
        const read = await request(api)
          .get(`/api/patients/${other}/${path}`)
          .set('Authorization', `Bearer ${admin}`);
        expect(read.status).toBe(500);
        expect(JSON.stringify(read.body)).not.toContain(path === 'soap-notes' ? note : med);
      }
    } finally {
      await db.query(`UPDATE soap_notes SET patient_id = $2 WHERE id = $1`, [created.body.id, owner]);
      await db.query(`UPDATE prescriptions SET patient_id = $2 WHERE id = $1`, [rx.body.id, owner]);
    }
    const back = await request(api)
      .get(`/api/patients/${owner}/soap-notes`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(JSON.stringify(back.body)).toContain(note);
  }, 60_000);

  it('re-encrypts rows written before the binding once, and leaves a value that does not authenticate', async () => {
    const cipher = createPhiCipher({ keyId: 'kt', key: randomBytes(32) });
    const db = t.service.database;
    const { rows } = await db.query<{ id: string; patient_id: string }>(
      `SELECT id::text AS id, patient_id::text AS patient_id FROM soap_notes ORDER BY id LIMIT 2`,
    );
    const [a, b] = rows as [{ id: string; patient_id: string }, { id: string; patient_id: string }];
    const saved = await db.query<{ id: string; content_enc: string }>(
      `SELECT id::text AS id, content_enc FROM soap_notes WHERE id = ANY($1::uuid[])`,
      [[a.id, b.id]],
    );
    try {
      // As migration 003 finds them: the old associated data (row only), not yet bound.
      await db.query(`UPDATE soap_notes SET content_enc = $2, bound_to_patient = false WHERE id = $1`, [
        a.id,
        cipher.encrypt('{"subjective":"legacy"}', legacySoapNoteContext(a.id)),
      ]);
      await db.query(`UPDATE soap_notes SET content_enc = $2, bound_to_patient = false WHERE id = $1`, [
        b.id,
        'v1.kt.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA',
      ]);
      // A report the collector refused (false) is not kept: the next start passes the row on again.
      const refused: unknown[] = [];
      expect(
        await bindPhiToPatients(db, cipher, (f) => {
          refused.push(f);
          return false;
        }),
      ).toEqual({
        rebound: 1,
        failed: 1,
        reported: 0,
      });
      expect(refused).toHaveLength(1);
      // Reported, but the store did not confirm it (a crash, a store down): reported again next time.
      const unconfirmed: unknown[] = [];
      expect(
        await bindPhiToPatients(
          db,
          cipher,
          (f) => {
            unconfirmed.push(f);
          },
          () => Promise.reject(new Error('flush timed out')),
        ),
      ).toEqual({ rebound: 0, failed: 1, reported: 1 });
      expect(unconfirmed).toHaveLength(1);
      expect((await db.query(`SELECT 1 FROM phi_integrity_failures WHERE id = $1`, [b.id])).rowCount).toBe(0);
      const failures: unknown[] = [];
      expect(
        await bindPhiToPatients(db, cipher, (f) => {
          failures.push(f);
        }),
      ).toEqual({ rebound: 0, failed: 1, reported: 1 });
      // Passed on, so that the service reports it as phi_integrity_fail.
      expect(failures).toEqual([{ resource: 'soap_note', id: b.id, reason: 'authentication_failed' }]);
      const after = await db.query<{ id: string; content_enc: string; bound_to_patient: boolean }>(
        `SELECT id::text AS id, content_enc, bound_to_patient FROM soap_notes WHERE id = ANY($1::uuid[])`,
        [[a.id, b.id]],
      );
      const rowA = after.rows.find((r) => r.id === a.id)!;
      expect(rowA.bound_to_patient).toBe(true);
      expect(cipher.decrypt(rowA.content_enc, soapNoteContext(a.id, a.patient_id))).toBe(
        '{"subjective":"legacy"}',
      );
      expect(() => cipher.decrypt(rowA.content_enc, legacySoapNoteContext(a.id))).toThrow(PhiDecryptionError);
      expect(after.rows.find((r) => r.id === b.id)!.bound_to_patient).toBe(false);
      // Idempotent: nothing left to do but the row that does not authenticate, counted at every start
      // and reported (paged) only the first time.
      const again: unknown[] = [];
      expect(
        await bindPhiToPatients(db, cipher, (f) => {
          again.push(f);
        }),
      ).toEqual({ rebound: 0, failed: 1, reported: 0 });
      expect(again).toEqual([]);
      const kept = await db.query<{ resource: string; reason: string }>(
        `SELECT resource, reason FROM phi_integrity_failures WHERE id = $1`,
        [b.id],
      );
      expect(kept.rows).toEqual([{ resource: 'soap_note', reason: 'authentication_failed' }]);
    } finally {
      for (const r of saved.rows)
        await db.query(`UPDATE soap_notes SET content_enc = $2, bound_to_patient = true WHERE id = $1`, [
          r.id,
          r.content_enc,
        ]);
    }
  }, 60_000);
});
