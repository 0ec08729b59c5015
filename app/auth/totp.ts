/**
 * TOTP (RFC 6238, 30 s steps, 6 digits) with one step of clock drift either way, and replay
 * protection: the step of the last accepted code is stored, and a code of that step or an earlier
 * one is refused (`UPDATE ... WHERE totp_last_step < $step` decides atomically under concurrency).
 */
import { authenticator as base } from 'otplib';

const authenticator = base.clone({ window: 1, step: 30, digits: 6 });

export function generateTotpSecret(): string {
  return authenticator.generateSecret(20);
}

export function totpUri(username: string, issuer: string, secret: string): string {
  return authenticator.keyuri(username, issuer, secret);
}

/** The time step a code belongs to, or null when it matches none in the window. */
export function matchTotpStep(code: string, secret: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  let delta: number | null;
  try {
    // The check and the step it returns read one clock: otplib would read Date.now() again, and a
    // 30 s boundary between the two reads would record the code a step early (replayable once more).
    delta = authenticator.clone({ epoch: now }).checkDelta(code, secret);
  } catch {
    return null;
  }
  if (delta === null) return null;
  return Math.floor(now / 1000 / 30) + delta;
}

/** A code for the current step (+ `offsetSteps`): used by the simulator and tests. */
export function totpCode(secret: string, offsetSteps = 0, now = Date.now()): string {
  const clone = authenticator.clone({ epoch: now + offsetSteps * 30_000 });
  return clone.generate(secret);
}
