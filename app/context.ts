/** What every route needs, built once at start-up by service.ts. */
import type { Database } from './collector-api';
import type { AppConfig } from './config';
import type { PhiCipher } from './crypto/phi-cipher';
import type { EventReporter } from './events/event-reporter';
import type { PasswordHasher } from './auth/passwords';

export type Role = 'admin' | 'provider' | 'staff' | 'patient';
export const ROLES = ['admin', 'provider', 'staff', 'patient'] as const;
/** Roles that must present a TOTP code at login. */
export const MFA_ROLES: ReadonlySet<Role> = new Set(['admin', 'provider']);

export interface AppContext {
  readonly config: AppConfig;
  readonly db: Database;
  readonly cipher: PhiCipher;
  readonly events: EventReporter;
  readonly passwords: PasswordHasher;
}

/** The authenticated caller, set by the auth middleware. */
export interface AuthContext {
  userId: string;
  role: Role;
  sessionId: string;
  /** The patient record of a patient login. */
  patientId: string | null;
}
