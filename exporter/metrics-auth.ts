/**
 * Optional bearer token for /metrics. The token comes from an option, a file (for mounted secrets) or
 * the environment; it is compared in constant time on SHA-256 digests, so neither its content nor its
 * length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { errors } from './errors';

export interface BearerTokenOptions {
  bearerToken?: string;
  bearerTokenFile?: string;
}

const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

function checkToken(token: string, from: string): string {
  if (token.length < 16) throw new errors.BAD_TOKEN(from, 'shorter than 16 characters');
  if (token.length > 4096) throw new errors.BAD_TOKEN(from, 'longer than 4096 characters');
  if (!TOKEN_CHARS.test(token))
    throw new errors.BAD_TOKEN(from, 'not a bearer token (RFC 6750 token68 characters)');
  return token;
}

/**
 * The configured token, or undefined when /metrics is open. Order: option token, option file,
 * METRICS_BEARER_TOKEN_FILE, METRICS_BEARER_TOKEN. Throws at start-up on an unreadable file.
 */
export function resolveBearerToken(
  opts: BearerTokenOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (opts.bearerToken !== undefined && opts.bearerTokenFile !== undefined) {
    throw new errors.BAD_OPTION('bearerToken', 'give bearerToken or bearerTokenFile, not both');
  }
  if (opts.bearerToken !== undefined) return checkToken(opts.bearerToken, 'option bearerToken');
  const file = opts.bearerTokenFile ?? (env.METRICS_BEARER_TOKEN_FILE || undefined);
  if (file !== undefined) {
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'read error';
      throw new errors.TOKEN_FILE_UNREADABLE(file, code);
    }
    const token = content.trim();
    if (token.length === 0) throw new errors.TOKEN_FILE_UNREADABLE(file, 'the file is empty');
    return checkToken(token, `file ${file}`);
  }
  const fromEnv = env.METRICS_BEARER_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return checkToken(fromEnv, 'METRICS_BEARER_TOKEN');
  return undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Returns a request check; `undefined` token means every request is allowed. */
export function bearerAuthorizer(token: string | undefined): (req: IncomingMessage) => boolean {
  if (token === undefined) return () => true;
  const expected = digest(token);
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header !== 'string') return false;
    const match = /^Bearer[ ]+(.+)$/i.exec(header.trim());
    const given = match === null ? '' : (match[1] as string);
    // Always compare digests of equal length: a missing, short or long token costs the same.
    return timingSafeEqual(digest(given), expected) && given.length > 0;
  };
}

export const WWW_AUTHENTICATE = 'Bearer realm="metrics"';
