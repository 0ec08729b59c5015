/** POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me */
import { Router } from 'express';
import { z } from 'zod';
import { login } from '../auth/login';
import { getAuth, requireAuth, revokeSession } from '../auth/sessions';
import type { AppContext } from '../context';
import { text } from '../http/schemas';
import { body } from '../http/validate';

const loginBody = z
  .object({
    // Control characters are refused here: a NUL would otherwise reach PostgreSQL, which rejects it
    // (a 500, uncounted by the lockout and unseen by the login events).
    username: text(254),
    password: z.string().min(1).max(1024),
    totp: z
      .string()
      .regex(/^\d{6}$/, 'must be 6 digits')
      .optional(),
  })
  .strict();

export function authRoutes(ctx: AppContext): Router {
  const r = Router();
  r.post('/login', async (req, res) => {
    const input = body(req, loginBody);
    const result = await login(ctx, input);
    res.json({ token: result.token, tokenType: 'Bearer', expiresIn: result.expiresIn, user: result.user });
  });
  r.post('/logout', requireAuth(ctx), async (_req, res) => {
    const auth = getAuth(res);
    if (await revokeSession(ctx, auth.sessionId, 'logout')) {
      ctx.events.report('authn_token_revoked', {
        actor: { role: auth.role, id: auth.userId },
        reason: 'logout',
        resource: { type: 'session', id: auth.sessionId },
      });
    }
    res.status(204).end();
  });
  r.get('/me', requireAuth(ctx), async (_req, res) => {
    const auth = getAuth(res);
    res.json({ id: auth.userId, role: auth.role, patientId: auth.patientId });
  });
  return r;
}
