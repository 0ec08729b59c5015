/**
 * argon2id password hashing. The cost is configurable (OWASP's 19 MiB / 2 passes by default) and
 * unknown usernames are checked against a dummy hash so that response time does not reveal which
 * accounts exist.
 */
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the same work as a real check, for unknown or disabled accounts. */
  verifyDummy(password: string): Promise<void>;
}

export async function createPasswordHasher(opts: {
  memoryKiB: number;
  timeCost: number;
}): Promise<PasswordHasher> {
  const params = {
    type: argon2.argon2id as 2,
    memoryCost: opts.memoryKiB,
    timeCost: opts.timeCost,
    parallelism: 1,
  };
  const dummy = await argon2.hash(randomBytes(16).toString('hex'), params);
  const verify = async (hash: string, password: string) => {
    try {
      return await argon2.verify(hash, password);
    } catch {
      // A malformed stored hash is a failed check, never a 500 that tells the caller something.
      return false;
    }
  };
  return {
    hash: (password) => argon2.hash(password, params),
    verify,
    async verifyDummy(password) {
      await verify(dummy, password);
    },
  };
}
