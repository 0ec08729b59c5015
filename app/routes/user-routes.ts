/**
 * Admin user management: POST/GET /api/users, PATCH /api/users/:id (disable or enable an account),
 * POST /api/users/:id/unlock, POST /api/users/:id/revoke-sessions
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { setChangeActor } from '../auth/account-change-outbox';
import { getAuth, requireAuth, revokeUserSessions } from '../auth/sessions';
import { generateTotpSecret, totpUri } from '../auth/totp';
import type { AppContext, Role } from '../context';
import { MFA_ROLES, ROLES } from '../context';
import { uniqueViolation } from '../db/unique-violation';
import { conflict, notFound } from '../http/errors';
import { uuid, idParams, limit } from '../http/schemas';
import { body, params, query } from '../http/validate';

const createUserBody = z
  .object({
    username: z
      .string()
      .trim()
      .min(3)
      .max(64)
      .regex(/^[A-Za-z0-9._@-]+$/, 'may contain letters, digits and . _ @ - only'),
    password: z.string().min(12).max(1024),
    role: z.enum(ROLES),
    patientId: uuid.optional(),
  })
  .strict()
  .refine((v) => (v.role === 'patient') === (v.patientId !== undefined), {
    message: 'patientId is required for role patient and only for it',
    path: ['patientId'],
  });

/**
 * Inserts a user (used by the route and by the demo seed). Returns the TOTP secret once, for MFA roles.
 * The creation is reported as user_created from the outbox the trigger writes (008), with `actor` (the
 * API's caller) named in the transaction, or as the system's when there is none (the demo seed).
 */
export async function insertUser(
  ctx: AppContext,
  input: { username: string; password: string; role: Role; patientId?: string | undefined },
  actor?: { id: string; role: Role },
): Promise<{ id: string; totpSecret: string | null }> {
  const id = randomUUID();
  const totpSecret = MFA_ROLES.has(input.role) ? generateTotpSecret() : null;
  const hash = await ctx.passwords.hash(input.password);
  await ctx.db.transaction(async (tx) => {
    if (actor) await setChangeActor(tx, actor);
    await tx.query(
      `INSERT INTO users (id, username, role, password_hash, totp_secret_enc, patient_id) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        id,
        input.username,
        input.role,
        hash,
        totpSecret ? ctx.cipher.encrypt(totpSecret, `users.totp_secret:${id}`) : null,
        input.patientId ?? null,
      ],
    );
  });
  return { id, totpSecret };
}

export function userRoutes(ctx: AppContext): Router {
  const r = Router();
  r.use(requireAuth(ctx, ['admin']));
  r.post('/', async (req, res) => {
    const auth = getAuth(res);
    const input = body(req, createUserBody);
    const taken = await ctx.db.query(`SELECT 1 FROM users WHERE lower(username) = lower($1)`, [
      input.username,
    ]);
    if (taken.rowCount > 0) throw conflict('username_taken', 'That username is taken');
    if (input.patientId) {
      const p = await ctx.db.query(
        `SELECT (SELECT count(*) FROM users WHERE patient_id = $1)::int AS logins FROM patients WHERE id = $1`,
        [input.patientId],
      );
      if (p.rowCount === 0) throw notFound('Patient');
      if (Number((p.rows[0] as { logins: number }).logins) > 0)
        throw conflict('patient_has_login', 'That patient already has a login');
    }
    // The checks above answer the common case; the unique indexes decide a race between two requests.
    const user = await insertUser(ctx, input, { id: auth.userId, role: auth.role }).catch((err: unknown) => {
      const index = uniqueViolation(err);
      if (index === 'users_username_lower_key') throw conflict('username_taken', 'That username is taken');
      if (index === 'users_patient_id_key')
        throw conflict('patient_has_login', 'That patient already has a login');
      throw err;
    });
    res.status(201).json({
      id: user.id,
      username: input.username,
      role: input.role,
      // Shown once, for enrolment in an authenticator app; stored encrypted.
      ...(user.totpSecret
        ? {
            totpSecret: user.totpSecret,
            otpauthUrl: totpUri(input.username, ctx.config.serviceName, user.totpSecret),
          }
        : {}),
    });
  });
  r.get('/', async (req, res) => {
    const q = query(req, z.object({ role: z.enum(ROLES).optional(), limit }).strict());
    const { rows } = await ctx.db.query<{
      id: string;
      username: string;
      role: Role;
      locked: boolean;
      disabled: boolean;
      created_at: Date;
    }>(
      `SELECT id, username, role, COALESCE(locked_until > now(), false) AS locked, disabled, created_at
         FROM users WHERE ($1::text IS NULL OR role = $1) ORDER BY created_at, id LIMIT $2`,
      [q.role ?? null, q.limit],
    );
    res.json({
      users: rows.map((u) => ({
        id: u.id,
        username: u.username,
        role: u.role,
        locked: u.locked,
        disabled: u.disabled,
        createdAt: u.created_at,
      })),
    });
  });
  r.patch('/:id', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    const { disabled } = body(req, z.object({ disabled: z.boolean() }).strict());
    // An admin who disables their own account ends their own session and may lock everyone out.
    if (disabled && id === auth.userId)
      throw conflict('cannot_disable_self', 'An admin cannot disable their own account');
    // The change, and the sessions it ends, are reported from the outbox the trigger writes (006),
    // with this caller as the actor: one path for the API's changes and an operator's.
    await ctx.db.transaction(async (tx) => {
      await setChangeActor(tx, { id: auth.userId, role: auth.role });
      const u = await tx.query(`UPDATE users SET disabled = $2 WHERE id = $1 RETURNING id`, [id, disabled]);
      if (u.rowCount === 0) throw notFound('User');
    });
    res.json({ id, disabled });
  });
  r.post('/:id/unlock', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    // Audited when it lifted something (a lock or counted failures): an admin's override of the
    // lockout is a security change, while unlocking an account in good standing changes nothing.
    const u = await ctx.db.query<{ was_locked: boolean }>(
      `WITH old AS (
         SELECT id, failed_attempts > 0 OR locked_until IS NOT NULL AS was_locked
           FROM users WHERE id = $1 FOR UPDATE)
       UPDATE users SET failed_attempts = 0, locked_until = NULL FROM old
        WHERE users.id = old.id RETURNING old.was_locked`,
      [id],
    );
    if (u.rowCount === 0) throw notFound('User');
    if (u.rows[0]?.was_locked) {
      ctx.events.report('user_updated', {
        actor: { role: auth.role, id: auth.userId },
        reason: 'unlocked',
        resource: { type: 'user_account', id },
      });
    }
    res.status(204).end();
  });
  r.post('/:id/revoke-sessions', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    const exists = await ctx.db.query(`SELECT 1 FROM users WHERE id = $1`, [id]);
    if (exists.rowCount === 0) throw notFound('User');
    const n = await revokeUserSessions(ctx, id, 'admin_revoked');
    if (n > 0) {
      ctx.events.report('authn_token_revoked', {
        actor: { role: auth.role, id: auth.userId },
        reason: 'admin_revoked',
        resource: { type: 'user_account', id },
      });
    }
    res.json({ revoked: n });
  });
  return r;
}
