/**
 * Field-level encryption of PHI at rest: AES-256-GCM, a random 96-bit IV per value, and the key id
 * in the stored value so that keys can be rotated (old ids stay decryptable while new writes use the
 * current key). The associated data binds a ciphertext to its table, column and row, so a value
 * copied into another patient's row fails authentication instead of decrypting.
 *
 * Stored form: `v1.<keyId>.<iv b64url>.<ciphertext b64url>.<tag b64url>`
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EventReason } from '../collector-api';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Why a stored value did not decrypt: the reasons of the `phi_integrity_fail` event. */
export type PhiDecryptionReason = EventReason<'phi_integrity_fail'>;

export class PhiDecryptionError extends Error {
  constructor(readonly reason: PhiDecryptionReason) {
    // Never includes the value: the message may reach a log.
    super(`PHI value could not be decrypted: ${reason}`);
    this.name = 'PhiDecryptionError';
  }
}

export interface PhiCipher {
  encrypt(plaintext: string, context: string): string;
  decrypt(stored: string, context: string): string;
  readonly currentKeyId: string;
}

export function createPhiCipher(opts: {
  keyId: string;
  key: Buffer;
  previousKeys?: ReadonlyMap<string, Buffer>;
}): PhiCipher {
  if (opts.key.length !== 32) throw new Error('PHI encryption key must be 32 bytes');
  const keys = new Map<string, Buffer>(opts.previousKeys ?? []);
  keys.set(opts.keyId, opts.key);
  return {
    currentKeyId: opts.keyId,
    encrypt(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', opts.key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [
        VERSION,
        opts.keyId,
        iv.toString('base64url'),
        ct.toString('base64url'),
        tag.toString('base64url'),
      ].join('.');
    },
    decrypt(stored, context) {
      const parts = stored.split('.');
      if (parts.length !== 5 || parts[0] !== VERSION) throw new PhiDecryptionError('unknown_format');
      const [, keyId, ivB64, ctB64, tagB64] = parts as [string, string, string, string, string];
      const key = keys.get(keyId);
      if (!key) throw new PhiDecryptionError('unknown_key');
      const iv = Buffer.from(ivB64, 'base64url');
      const tag = Buffer.from(tagB64, 'base64url');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new PhiDecryptionError('malformed');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(ctB64, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new PhiDecryptionError('authentication_failed');
      }
    },
  };
}
