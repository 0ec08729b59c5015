/**
 * Pseudonymous references: the only form in which a user, patient or record id enters an event.
 * HMAC-SHA256 with a secret key, so the reference is stable (events about one subject correlate)
 * but cannot be reversed or recomputed by anyone without the key (a plain hash of a sequential id or
 * an email address can be brute-forced).
 */
import { createHmac } from 'node:crypto';

const MIN_KEY_BYTES = 16;

/**
 * 32 lowercase hex characters (the first 128 bits of the HMAC). If those happen to be all digits
 * (probability ~3e-7) the next 128 bits are used, so that the schema can refuse all-digit refs,
 * which is what a padded SSN, phone number or date of birth would look like.
 */
export function pseudonymousRef(key: string | Buffer, id: string): string {
  const keyBytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (keyBytes.length < MIN_KEY_BYTES) {
    throw new Error(`pseudonymousRef: the key must be at least ${MIN_KEY_BYTES} bytes`);
  }
  if (typeof id !== 'string' || id.length === 0) {
    throw new Error('pseudonymousRef: the id must be a non-empty string');
  }
  const hex = createHmac('sha256', keyBytes).update(id, 'utf8').digest('hex');
  const first = hex.slice(0, 32);
  return /[a-f]/.test(first) ? first : hex.slice(32, 64);
}
