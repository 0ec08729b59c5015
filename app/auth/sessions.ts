/**
 * Sessions: a signed JWT (HS256, 15 minutes) whose `jti` names a server-side session row. The row is
 * what makes logout and inactivity real: a revoked or idle session is refused even while the token
 * is still inside its lifetime. One atomic UPDATE per request both checks and touches the session.
 */
import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import jwt from 'jsonwebtoken';
import type { AppContext, AuthContext, Role } from '../context';
import { ROLES } from '../context';
import { HttpError, unauthorized } from '../http/errors';
import { roleForbidden } from './phi-access';

const AUDIENCE = 'telehealth-api';
/**
 * Activity is recorded at most this often per session, so a session ends between
 * SESSION_IDLE_SECONDS - TOUCH_SECONDS and SESSION_IDLE_SECONDS after the last request (never later).
 */
export const TOUCH_SECONDS = 15;

/**
 * The HMAC key as a KeyObject, made once per config: given a string, jsonwebtoken first tries to
 * parse it as a PEM public key on every call (an exception per request, most of a request's CPU).
 */
const keys = new WeakMap<object, KeyObject>();
function signingKey(ctx: AppContext): KeyObject {
  let key = keys.get(ctx.config);
  if (!key) keys.set(ctx.config, (key = createSecretKey(Buffer.from(ctx.config.jwtSecret, 'utf8'))));
  return key;
}

interface Claims {
  sub: string;
  role: Role;
  pid?: string;
  jti: string;
  /** Set by createSession; a token without it is refused (the session's expires_at bounds it too). */
  exp: number;
}

export async function createSession(
  ctx: AppContext,
  user: { id: string; role: Role; patientId: string | null },
): Promise<{ token: string; expiresIn: number; sessionId: string }> {
  const sessionId = randomUUID();
  const ttl = ctx.config.jwtTtlSeconds;
  await ctx.db.query(
    `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`,
    [sessionId, user.id, ttl],
  );
  const payload: Record<string, unknown> = { role: user.role };
  if (user.patientId) payload.pid = user.patientId;
  const token = jwt.sign(payload, signingKey(ctx), {
    algorithm: 'HS256',
    expiresIn: ttl,
    subject: user.id,
    jwtid: sessionId,
    issuer: ctx.config.serviceName,
    audience: AUDIENCE,
  });
  return { token, expiresIn: ttl, sessionId };
}

export type RevokeReason = 'logout' | 'admin_revoked' | 'password_changed' | 'inactivity' | 'token_expired';

/** Revokes one session; true when this call revoked it (so its event is reported once). */
export async function revokeSession(
  ctx: AppContext,
  sessionId: string,
  reason: RevokeReason,
): Promise<boolean> {
  const r = await ctx.db.query(
    `UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
    [sessionId, reason],
  );
  return r.rowCount > 0;
}

export async function revokeUserSessions(
  ctx: AppContext,
  userId: string,
  reason: RevokeReason,
): Promise<number> {
  const r = await ctx.db.query(
    `UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`,
    [userId, reason],
  );
  return r.rowCount;
}

export function getAuth(res: Response): AuthContext {
  const auth = res.locals.auth as AuthContext | undefined;
  if (!auth) throw unauthorized();
  return auth;
}

function decodeUnverified(token: string): Partial<Claims> | null {
  const d = jwt.decode(token);
  return d && typeof d === 'object' ? (d as Partial<Claims>) : null;
}

const expired = () => new HttpError(401, 'session_expired', 'The session has expired; log in again');

/** Ends a session that ran out and refuses the request; reported once, by the request that ended it. */
async function endExpiredSession(
  ctx: AppContext,
  session: Pick<Claims, 'jti' | 'sub' | 'role'>,
  reason: 'token_expired' | 'inactivity',
): Promise<never> {
  if (await revokeSession(ctx, session.jti, reason)) {
    ctx.events.report('session_expired', {
      actor: { role: session.role, id: session.sub },
      reason,
      resource: { type: 'session', id: session.jti },
    });
  }
  throw expired();
}

/** Requires a valid, live session; `roles` narrows who may call the route. */
export function requireAuth(ctx: AppContext, roles?: readonly Role[]): RequestHandler {
  const allowed = roles ? new Set<Role>(roles) : null;
  return async (req, res, next) => {
    const header = req.get('authorization');
    // The scheme is case-insensitive (RFC 7235 §2.1): `bearer` is a Bearer token too.
    const match = header ? /^Bearer ([A-Za-z0-9_\-.]{20,4096})$/i.exec(header) : null;
    if (!match) throw unauthorized();
    const token = match[1] as string;
    let claims: Claims;
    try {
      claims = jwt.verify(token, signingKey(ctx), {
        algorithms: ['HS256'],
        audience: AUDIENCE,
        issuer: ctx.config.serviceName,
      }) as Claims;
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) {
        // Only a token that we signed (verified apart from its age) may end its session.
        const d = decodeUnverified(token);
        const verifiedButOld = (() => {
          try {
            jwt.verify(token, signingKey(ctx), {
              algorithms: ['HS256'],
              audience: AUDIENCE,
              issuer: ctx.config.serviceName,
              ignoreExpiration: true,
            });
            return true;
          } catch {
            return false;
          }
        })();
        if (verifiedButOld && d?.jti && d.sub && d.role) {
          return endExpiredSession(ctx, { jti: d.jti, sub: d.sub, role: d.role }, 'token_expired');
        }
        throw expired();
      }
      throw unauthorized('invalid_token', 'The access token is invalid');
    }
    if (!claims.sub || !claims.jti || typeof claims.exp !== 'number' || !ROLES.includes(claims.role))
      throw unauthorized('invalid_token', 'The access token is invalid');
    // One round trip checks the session and, at most every TOUCH_SECONDS, records the activity:
    // a write per request would cost a WAL flush on every read of the API.
    const { rows } = await ctx.db.query<{ live: boolean; revoked: boolean; expired: boolean }>(
      `WITH s AS (
         SELECT sessions.id, sessions.revoked_at IS NOT NULL AS revoked,
                sessions.revoked_at IS NULL AND sessions.last_seen_at > now() - make_interval(secs => $3) AS live,
                sessions.last_seen_at < now() - make_interval(secs => $4) AS stale,
                -- The session's own end, on the database's clock: not the token's word alone.
                sessions.expires_at <= now() AS expired
           FROM sessions JOIN users ON users.id = sessions.user_id
          WHERE sessions.id = $1 AND sessions.user_id = $2
            -- A disabled account, or one whose role changed, ends its sessions at once (not at expiry);
            -- migration 005 revokes them for good as the account changes.
            AND NOT users.disabled AND users.role = $5),
       touched AS (
         UPDATE sessions SET last_seen_at = now() FROM s
          WHERE sessions.id = s.id AND s.live AND s.stale RETURNING sessions.id)
       SELECT live, revoked, expired FROM s`,
      [claims.jti, claims.sub, ctx.config.sessionIdleSeconds, TOUCH_SECONDS, claims.role],
    );
    const row = rows[0];
    if (!row || row.revoked) throw unauthorized('token_revoked', 'The session has ended; log in again');
    if (row.expired) return endExpiredSession(ctx, claims, 'token_expired');
    if (!row.live) return endExpiredSession(ctx, claims, 'inactivity');
    const auth: AuthContext = {
      userId: claims.sub,
      role: claims.role,
      sessionId: claims.jti,
      patientId: claims.pid ?? null,
    };
    res.locals.auth = auth;
    if (allowed && !allowed.has(auth.role)) throw roleForbidden(ctx, auth);
    next();
  };
}
