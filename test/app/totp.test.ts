import { generateTotpSecret, matchTotpStep, totpCode } from '../../app/auth/totp';

describe('matchTotpStep', () => {
  const secret = generateTotpSecret();
  // A fixed instant, not the wall clock: the step must come from the `now` it is given.
  const t = 1_800_000_015_000;
  const step = Math.floor(t / 30_000);

  it('returns the step the code belongs to, read against the given time, with one step of drift', () => {
    const code = totpCode(secret, 0, t);
    expect(matchTotpStep(code, secret, t)).toBe(step);
    expect(matchTotpStep(code, secret, t - 30_000)).toBe(step);
    expect(matchTotpStep(code, secret, t + 30_000)).toBe(step);
    expect(matchTotpStep(code, secret, t + 90_000)).toBeNull();
  });

  it('refuses what is not six digits', () => {
    expect(matchTotpStep('12345', secret, t)).toBeNull();
    expect(matchTotpStep('12345a', secret, t)).toBeNull();
  });
});
