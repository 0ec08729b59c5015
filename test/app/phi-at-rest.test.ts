/**
 * PHI at rest: distinctive values written through the API are nowhere in the raw tables (patients,
 * SOAP notes, prescriptions, users' TOTP secrets, the audit table), and each stored value is an
 * AES-256-GCM ciphertext with its key id.
 */
import request from 'supertest';
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

    const needles = [...Object.values(CANARY), '078051120', '0780', NOTE, MED];
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
});
