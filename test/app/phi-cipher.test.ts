/** AES-256-GCM field encryption: random IVs, key ids for rotation, and tamper/context failures. */
import { randomBytes } from 'node:crypto';
import { createPhiCipher, PhiDecryptionError } from '../../app';

describe('createPhiCipher', () => {
  const key = randomBytes(32);
  const cipher = createPhiCipher({ keyId: 'k1', key });

  it('round-trips and never repeats a ciphertext', () => {
    const a = cipher.encrypt('123-45-6789', 'patients.ssn_enc:1');
    const b = cipher.encrypt('123-45-6789', 'patients.ssn_enc:1');
    expect(a).not.toBe(b);
    expect(a.startsWith('v1.k1.')).toBe(true);
    expect(a).not.toContain('123-45-6789');
    expect(cipher.decrypt(a, 'patients.ssn_enc:1')).toBe('123-45-6789');
    expect(cipher.decrypt(cipher.encrypt('', 'c'), 'c')).toBe('');
    expect(cipher.decrypt(cipher.encrypt('Zoë 👩‍⚕️', 'c'), 'c')).toBe('Zoë 👩‍⚕️');
  });

  it('refuses a value moved to another row or column, a flipped bit, a wrong key or an unknown format, saying which', () => {
    const reasonOf = (stored: string, context: string, c = cipher): string => {
      try {
        c.decrypt(stored, context);
      } catch (err) {
        expect(err).toBeInstanceOf(PhiDecryptionError);
        return (err as PhiDecryptionError).reason;
      }
      throw new Error('expected a failure');
    };
    const v = cipher.encrypt('secret', 'patients.name_enc:1');
    expect(reasonOf(v, 'patients.name_enc:2')).toBe('authentication_failed');
    expect(reasonOf(v, 'patients.email_enc:1')).toBe('authentication_failed');
    const parts = v.split('.');
    const ct = Buffer.from(parts[3]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[3] = ct.toString('base64url');
    expect(reasonOf(parts.join('.'), 'patients.name_enc:1')).toBe('authentication_failed');
    const other = createPhiCipher({ keyId: 'k1', key: randomBytes(32) });
    expect(reasonOf(v, 'patients.name_enc:1', other)).toBe('authentication_failed');
    expect(reasonOf('plaintext', 'x')).toBe('unknown_format');
    expect(reasonOf(v.replace('v1.k1.', 'v1.k9.'), 'patients.name_enc:1')).toBe('unknown_key');
    expect(reasonOf(`${parts.slice(0, 4).join('.')}.AAAA`, 'patients.name_enc:1')).toBe('malformed');
  });

  it('never puts the value in an error message', () => {
    try {
      cipher.decrypt(cipher.encrypt('CANARY-VALUE', 'a'), 'b');
      throw new Error('expected a failure');
    } catch (err) {
      expect(String(err)).not.toContain('CANARY-VALUE');
    }
  });

  it('decrypts values of a previous key after rotation and encrypts with the new one', () => {
    const old = cipher.encrypt('rotate me', 'ctx');
    const rotated = createPhiCipher({
      keyId: 'k2',
      key: randomBytes(32),
      previousKeys: new Map([['k1', key]]),
    });
    expect(rotated.decrypt(old, 'ctx')).toBe('rotate me');
    expect(rotated.encrypt('x', 'ctx').startsWith('v1.k2.')).toBe(true);
  });

  it('refuses a key of the wrong size', () => {
    expect(() => createPhiCipher({ keyId: 'k1', key: randomBytes(16) })).toThrow(/32 bytes/);
  });
});
