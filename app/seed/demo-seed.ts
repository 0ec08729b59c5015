/**
 * Demo data for development (never in production: the config refuses SEED_DEMO_DATA there).
 * Users get random passwords and TOTP secrets, written only to a 0600 file under the data folder;
 * the console gets usernames and the file's path, never a secret. Patients' PHI is obviously fake
 * (SSNs in the 900 range, which are never issued; example.test addresses; 555-01xx phone numbers).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AppContext, Role } from '../context';
import { insertPatient } from '../routes/patient-routes';
import { insertUser } from '../routes/user-routes';

export interface DemoUser {
  username: string;
  role: Role;
  password: string;
  totpSecret: string | null;
  userId: string;
  patientId: string | null;
}

export interface DemoCredentials {
  createdAt: string;
  users: DemoUser[];
  /** Every seeded patient id (the simulator's PHI-snooping targets). */
  patientIds: string[];
}

export const DEMO_PATIENT_COUNT = 20;
const PATIENT_LOGINS = 5;
/** Patients 0-7 belong to provider 1, 8-13 to provider 2; the rest to nobody. */
const ASSIGNMENTS: Array<[providerIndex: number, from: number, to: number]> = [
  [0, 0, 8],
  [1, 8, 14],
];

const pad = (n: number) => String(n).padStart(2, '0');
const password = () => randomBytes(18).toString('base64url');

function demoPatient(i: number) {
  const n = i + 1;
  return {
    name: `Demo Patient ${pad(n)}`,
    dateOfBirth: `19${50 + (n % 45)}-0${1 + (n % 9)}-1${n % 10}`,
    ssn: `9${pad(n)}-${pad(10 + n)}-${String(1000 + n * 37).slice(-4)}`,
    email: `patient${pad(n)}@example.test`,
    phone: `+1 555 01${pad(n)}`,
    address: `${n} Example Street, Testville`,
  };
}

/** Seeds once per database; returns the credentials when this call seeded, else null. */
export async function seedDemoData(ctx: AppContext): Promise<DemoCredentials | null> {
  const claim = await ctx.db.query(
    `INSERT INTO app_seed (id) VALUES (1) ON CONFLICT DO NOTHING RETURNING id`,
  );
  if (claim.rowCount === 0) return null;
  const users: DemoUser[] = [];
  const add = async (username: string, role: Role, patientId: string | null = null) => {
    const pw = password();
    const u = await insertUser(ctx, { username, password: pw, role, patientId: patientId ?? undefined });
    users.push({ username, role, password: pw, totpSecret: u.totpSecret, userId: u.id, patientId });
    return u.id;
  };
  const patientIds: string[] = [];
  for (let i = 0; i < DEMO_PATIENT_COUNT; i++)
    patientIds.push(await insertPatient(ctx, demoPatient(i), null));
  await add('demo-admin', 'admin');
  const providers = [await add('demo-provider-1', 'provider'), await add('demo-provider-2', 'provider')];
  await add('demo-staff', 'staff');
  for (let i = 0; i < PATIENT_LOGINS; i++)
    await add(`demo-patient-${i + 1}`, 'patient', patientIds[i] as string);
  for (const [p, from, to] of ASSIGNMENTS) {
    for (let i = from; i < to; i++) {
      await ctx.db.query(`INSERT INTO provider_assignments (patient_id, provider_id) VALUES ($1, $2)`, [
        patientIds[i],
        providers[p],
      ]);
    }
  }
  return { createdAt: new Date().toISOString(), users, patientIds };
}

export function writeCredentialsFile(file: string, creds: DemoCredentials): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
  // writeFileSync keeps the mode of an existing file: set it explicitly.
  chmodSync(file, 0o600);
}

export function readCredentialsFile(file: string): DemoCredentials | null {
  if (!existsSync(file)) return null;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
  if (!Array.isArray(parsed.users) || !Array.isArray(parsed.patientIds)) return null;
  return parsed;
}
