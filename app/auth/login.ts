/**
 * Login with lockout that holds under concurrency. Before the (slow) password check, an attempt
 * "slot" is claimed with one atomic UPDATE ... RETURNING: it increments `failed_attempts` only while
 * the account is unlocked and below the threshold. So 20 parallel wrong passwords get at most
 * `threshold` password checks; the rest are refused as locked without touching argon2. A correct
 * password (and code) gives the slot back by resetting the counter.
 */
import { pseudonymousRef } from '../collector-api';
import type { AppContext, Role } from '../context';
import { MFA_ROLES } from '../context';
import { decryptReported } from '../crypto/decrypt-reported';
import { HttpError } from '../http/errors';
import { matchTotpStep } from './totp';
import { createSession } from './sessions';

export interface LoginInput {
  username: string;
  password: string;
  totp?: string | undefined;
}

export interface LoginResult {
  token: string;
  expiresIn: number;
  user: { id: string; role: Role; patientId: string | null };
}

interface UserRow {
  id: string;
  role: Role;
  password_hash: string;
  totp_secret_enc: string | null;
  patient_id: string | null;
  disabled: boolean;
}

const invalid = () => new HttpError(401, 'invalid_credentials', 'Invalid username, password or code');
const locked = (retryAfterSeconds: number) =>
  new HttpError(423, 'account_locked', 'Too many failed attempts: the account is locked for now', undefined, {
    'Retry-After': String(retryAfterSeconds),
  });

/**
 * The claim's SET and condition on a counter row (`users`, or `login_throttle` aliased t): a count
 * starts again when its lock expired, or when it reached the threshold without one (see login).
 * The claim that reaches the threshold ($2) locks for $3 seconds.
 */
function claimSql(t: string): { set: string; where: string } {
  const fresh = `((${t}locked_until IS NOT NULL AND ${t}locked_until <= now()) OR (${t}locked_until IS NULL AND ${t}failed_attempts >= $2))`;
  const next = `CASE WHEN ${fresh} THEN 1 ELSE ${t}failed_attempts + 1 END`;
  return {
    set: `failed_attempts = ${next},
          locked_until = CASE WHEN ${next} >= $2 THEN now() + make_interval(secs => $3) END`,
    where: `${fresh} OR (${t}locked_until IS NULL AND ${t}failed_attempts < $2)`,
  };
}
const USER_CLAIM = claimSql('');
const NAME_CLAIM = claimSql('t.');

export async function login(ctx: AppContext, input: LoginInput): Promise<LoginResult> {
  const { rows } = await ctx.db.query<UserRow>(
    `SELECT id, role, password_hash, totp_secret_enc, patient_id, disabled FROM users WHERE lower(username) = lower($1)`,
    [input.username],
  );
  const user = rows[0];
  if (!user || user.disabled) {
    // Counted and locked as an account would be: the answers (401, 401, 401, then 423) and the
    // work behind them (a write, then argon2, or neither when locked) do not tell that the name
    // is no account.
    const claimed = await claimUnknownName(ctx, input.username);
    if ('attempt' in claimed) await ctx.passwords.verifyDummy(input.password);
    ctx.events.report('authn_login_fail', {
      // The attempted name is pseudonymised too: it may be a typo of a real person's email.
      actor: user
        ? { role: user.role, id: user.id }
        : { role: 'anonymous', id: `username:${input.username.toLowerCase()}` },
      reason: user ? 'account_disabled' : 'unknown_user',
      resource: user ? { type: 'user_account', id: user.id } : undefined,
    });
    throw 'lockedFor' in claimed ? locked(claimed.lockedFor) : invalid();
  }
  const actor = { role: user.role, id: user.id };
  const resource = { type: 'user_account' as const, id: user.id };

  const threshold = ctx.config.lockoutThreshold;
  // Claim an attempt. An expired lock starts a fresh count. The claim that reaches the threshold
  // sets the lock itself: were it set only when that attempt fails, a request that never finished
  // (the process restarted during the password check, a database error) would leave the count at
  // the threshold with no lock, refused forever. That state, left by such a request before this
  // rule, counts as an expired lock.
  const claim = await ctx.db.query<{ attempt: number }>(
    `UPDATE users SET ${USER_CLAIM.set} WHERE id = $1 AND (${USER_CLAIM.where}) RETURNING failed_attempts AS attempt`,
    [user.id, threshold, ctx.config.lockoutSeconds],
  );
  const slot = claim.rows[0];
  if (!slot) {
    ctx.events.report('authn_login_fail', { actor, reason: 'account_locked', resource });
    throw locked(await secondsUntilUnlock(ctx, 'users WHERE id = $1', user.id));
  }

  const failAttempt = async (): Promise<boolean> => {
    if (slot.attempt < threshold) return false;
    // The claim locked already; the lock runs from the failure, unless a success meanwhile reset it.
    const lock = await ctx.db.query(
      `UPDATE users SET locked_until = now() + make_interval(secs => $2)
        WHERE id = $1 AND failed_attempts >= $3 RETURNING id`,
      [user.id, ctx.config.lockoutSeconds, threshold],
    );
    if (lock.rowCount > 0)
      ctx.events.report('authn_login_lock', { actor, reason: 'too_many_failures', resource });
    return true;
  };

  if (!(await ctx.passwords.verify(user.password_hash, input.password))) {
    ctx.events.report('authn_login_fail', { actor, reason: 'bad_password', resource });
    await failAttempt();
    throw invalid();
  }

  let reason: 'password' | 'password_and_totp' = 'password';
  if (MFA_ROLES.has(user.role)) {
    if (input.totp === undefined) {
      // Asking for the code is a normal first step for a client: the claimed slot is handed back,
      // with the lock it set when it was the last one.
      if (slot.attempt >= threshold)
        await ctx.db.query(
          `UPDATE users SET failed_attempts = GREATEST(failed_attempts - 1, 0), locked_until = NULL
            WHERE id = $1 AND failed_attempts >= $2`,
          [user.id, threshold],
        );
      else
        await ctx.db.query(
          `UPDATE users SET failed_attempts = GREATEST(failed_attempts - 1, 0) WHERE id = $1 AND locked_until IS NULL`,
          [user.id],
        );
      ctx.events.report('authn_mfa_fail', { actor, reason: 'missing_code', resource });
      throw new HttpError(401, 'mfa_required', 'A one-time code is required for this account');
    }
    const secret = user.totp_secret_enc
      ? decryptReported(ctx, actor, resource, user.totp_secret_enc, `users.totp_secret:${user.id}`)
      : null;
    const step = secret ? matchTotpStep(input.totp, secret) : null;
    if (step === null) {
      ctx.events.report('authn_mfa_fail', { actor, reason: 'bad_code', resource });
      await failAttempt();
      throw invalid();
    }
    const fresh = await ctx.db.query(
      `UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id`,
      [user.id, step],
    );
    if (fresh.rowCount === 0) {
      ctx.events.report('authn_mfa_fail', { actor, reason: 'replayed_code', resource });
      await failAttempt();
      throw new HttpError(
        401,
        'mfa_code_reused',
        'This one-time code was already used; wait for the next one',
      );
    }
    reason = 'password_and_totp';
  }

  await ctx.db.query(`UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1`, [user.id]);
  const session = await createSession(ctx, { id: user.id, role: user.role, patientId: user.patient_id });
  ctx.events.report('authn_login_success', {
    actor,
    reason,
    resource: { type: 'session', id: session.sessionId },
  });
  return {
    token: session.token,
    expiresIn: session.expiresIn,
    user: { id: user.id, role: user.role, patientId: user.patient_id },
  };
}

/** Claims done since the last clean-up of login_throttle (per process). */
let unknownClaims = 0;
const CLEAN_EVERY_CLAIMS = 256;

/**
 * The attempt number for a name that is no account, or how long it stays locked: the claim of
 * login() on login_throttle, keyed by an HMAC of the name. Now and then, rows that can no longer
 * lock anything are deleted, so that a stream of random names does not grow the table for good.
 */
async function claimUnknownName(
  ctx: AppContext,
  username: string,
): Promise<{ attempt: number } | { lockedFor: number }> {
  // The keyed hash events use for identifiers (pseudonymous-ref.ts), not the name itself.
  const key = Buffer.from(
    pseudonymousRef(ctx.config.pseudonymKey, `login-throttle:${username.toLowerCase()}`),
    'hex',
  );
  const threshold = ctx.config.lockoutThreshold;
  const claim = await ctx.db.query<{ attempt: number }>(
    `INSERT INTO login_throttle AS t (name_hmac, failed_attempts, locked_until)
       VALUES ($1, 1, CASE WHEN 1 >= $2 THEN now() + make_interval(secs => $3) END)
     ON CONFLICT (name_hmac) DO UPDATE SET ${NAME_CLAIM.set}, updated_at = now() WHERE ${NAME_CLAIM.where}
     RETURNING failed_attempts AS attempt`,
    [key, threshold, ctx.config.lockoutSeconds],
  );
  unknownClaims += 1;
  if (unknownClaims >= CLEAN_EVERY_CLAIMS) {
    unknownClaims = 0;
    await ctx.db.query(
      `DELETE FROM login_throttle
        WHERE updated_at < now() - make_interval(secs => $1) AND (locked_until IS NULL OR locked_until < now())`,
      [ctx.config.lockoutSeconds],
    );
  }
  const attempt = claim.rows[0]?.attempt;
  if (attempt !== undefined) return { attempt };
  return { lockedFor: await secondsUntilUnlock(ctx, 'login_throttle WHERE name_hmac = $1', key) };
}

/** Seconds until the lock of one counter row ends (`from`: table and condition on $1). */
async function secondsUntilUnlock(ctx: AppContext, from: string, param: unknown): Promise<number> {
  const { rows } = await ctx.db.query<{ s: number | string | null }>(
    `SELECT CEIL(EXTRACT(EPOCH FROM (locked_until - now())))::int AS s FROM ${from}`,
    [param],
  );
  const s = Number(rows[0]?.s ?? 0);
  // The lock is set with the last slot; a refused claim sees it. Defensive: never ask for 0 s.
  return Number.isFinite(s) && s > 0 ? s : 1;
}
