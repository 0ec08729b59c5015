/**
 * Authentication of event sources: an API key (stored only as its SHA-256, compared in constant
 * time against every source so the timing says nothing about which one matched), or an HMAC-SHA256
 * signature of `<timestamp>.<raw body>` with a replay window and a cache of seen signatures.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface EventSource {
  /** The source id: events sent with this credential must carry it in `source`. */
  id: string;
  /** Hex SHA-256 of the API key (never the key itself). */
  apiKeySha256?: string;
  /** Shared secret for HMAC-signed requests. */
  hmacSecret?: string | Buffer;
}

export const SIGNATURE_HEADER = 'x-telehealth-signature';
export const TIMESTAMP_HEADER = 'x-telehealth-timestamp';
export const SOURCE_HEADER = 'x-telehealth-source';

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The signature a client sends: `sha256=` + hex HMAC of `${timestamp}.${body}`. */
export function signBody(secret: string | Buffer, timestamp: number, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

const HEX64 = /^[0-9a-f]{64}$/;

export class SourceAuthenticator {
  private readonly keyed: { id: string; hash: Buffer }[];
  private readonly secrets = new Map<string, Buffer>();
  private readonly seen = new Map<string, number>();

  constructor(
    sources: readonly EventSource[],
    private readonly replayWindowSeconds = 300,
    private readonly maxSeen = 100_000,
  ) {
    this.keyed = [];
    for (const s of sources) {
      if (s.apiKeySha256 !== undefined) {
        const h = s.apiKeySha256.toLowerCase();
        if (!HEX64.test(h)) throw new Error(`source "${s.id}": apiKeySha256 must be 64 hex characters`);
        this.keyed.push({ id: s.id, hash: Buffer.from(h, 'hex') });
      }
      if (s.hmacSecret !== undefined) {
        const secret = Buffer.isBuffer(s.hmacSecret) ? s.hmacSecret : Buffer.from(s.hmacSecret, 'utf8');
        if (secret.length < 16) throw new Error(`source "${s.id}": hmacSecret must be at least 16 bytes`);
        this.secrets.set(s.id, secret);
      }
    }
  }

  /** The source whose API key this is, or null. Compares against every source (no early exit). */
  byApiKey(key: string): string | null {
    if (key.length === 0 || key.length > 512) return null;
    const presented = createHash('sha256').update(key, 'utf8').digest();
    let match: string | null = null;
    for (const k of this.keyed) {
      if (timingSafeEqual(presented, k.hash) && match === null) match = k.id;
    }
    return match;
  }

  /** The source that signed this body, or null (bad signature, stale timestamp or replay). */
  bySignature(
    sourceId: string,
    timestampHeader: string,
    signatureHeader: string,
    body: Buffer,
  ): string | null {
    const secret = this.secrets.get(sourceId);
    if (!secret || !/^\d{1,12}$/.test(timestampHeader)) return null;
    const ts = Number(timestampHeader);
    const now = Math.floor(Date.now() / 1000);
    if (Math.abs(now - ts) > this.replayWindowSeconds) return null;
    const sig = signatureHeader.startsWith('sha256=') ? signatureHeader.slice(7).toLowerCase() : '';
    if (!HEX64.test(sig)) return null;
    const expected = createHmac('sha256', secret).update(`${ts}.`).update(body).digest();
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return null;
    const key = `${sourceId}:${sig}`;
    if (this.seen.has(key)) return null;
    this.remember(key, now + this.replayWindowSeconds);
    return sourceId;
  }

  private remember(key: string, expiresAt: number): void {
    if (this.seen.size >= this.maxSeen) {
      const now = Math.floor(Date.now() / 1000);
      for (const [k, exp] of this.seen) {
        if (exp < now || this.seen.size >= this.maxSeen) this.seen.delete(k);
        else break;
      }
    }
    this.seen.set(key, expiresAt);
  }
}
