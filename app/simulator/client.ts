/**
 * The simulator's HTTP client: one fetch per request, timed, recorded in the run's stats, and the
 * demo users' sessions (login with TOTP, re-login when a session ends). Sessions are cached per
 * target across runs in one process, as a real client keeps its token: logging in again within the
 * same 30 s TOTP step would be refused as a replayed code.
 */
import { totpCode } from '../auth/totp';
import type { DemoUser } from '../seed/demo-seed';
import type { RunStats } from './stats';

export interface HttpResult {
  status: number | 'network_error';
  body: unknown;
}

export class SimClient {
  constructor(
    readonly target: string,
    private readonly stats: RunStats,
    private readonly timeoutMs: number,
  ) {}

  async request(
    action: string,
    method: string,
    path: string,
    opts: { token?: string; body?: unknown } = {},
  ): Promise<HttpResult> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    this.stats.inFlight += 1;
    try {
      const res = await fetch(this.target + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      this.stats.record(action, res.status, performance.now() - started);
      let body: unknown = null;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          body = null;
        }
      }
      return { status: res.status, body };
    } catch {
      this.stats.record(action, 'network_error', performance.now() - started);
      return { status: 'network_error', body: null };
    } finally {
      this.stats.inFlight -= 1;
    }
  }
}

interface CachedSession {
  token: string;
  expiresAt: number;
}
const sessionCache = new Map<string, CachedSession>();
/** Last TOTP step used per target+user, so the next login picks a fresh code. */
const lastStep = new Map<string, number>();

const currentStep = () => Math.floor(Date.now() / 30_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function errorCode(body: unknown): string | undefined {
  const e = (body as { error?: { code?: unknown } } | null)?.error;
  return typeof e?.code === 'string' ? e.code : undefined;
}

/** A demo user's session: `token()` logs in when needed; `invalidate()` after a 401. */
export class UserSession {
  private readonly key: string;
  private pending: Promise<string | null> | undefined;

  constructor(
    private readonly client: SimClient,
    readonly user: DemoUser,
  ) {
    this.key = `${client.target}|${user.username}`;
  }

  invalidate(): void {
    sessionCache.delete(this.key);
  }

  async token(): Promise<string | null> {
    const cached = sessionCache.get(this.key);
    if (cached && cached.expiresAt > Date.now() + 5_000) return cached.token;
    this.pending ??= this.login().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async login(): Promise<string | null> {
    for (let attempt = 0; attempt < 6; attempt++) {
      const body: Record<string, string> = { username: this.user.username, password: this.user.password };
      if (this.user.totpSecret) {
        const now = currentStep();
        const step = Math.max(now, (lastStep.get(this.key) ?? 0) + 1);
        if (step > now + 1) {
          // Both usable codes are spent: wait for the next step.
          await sleep((step - 1) * 30_000 - Date.now() + 50);
          continue;
        }
        body.totp = totpCode(this.user.totpSecret, step - now);
        lastStep.set(this.key, step);
      }
      const r = await this.client.request('login', 'POST', '/api/auth/login', { body });
      if (r.status === 200) {
        const b = r.body as { token: string; expiresIn: number };
        sessionCache.set(this.key, { token: b.token, expiresAt: Date.now() + b.expiresIn * 1000 });
        return b.token;
      }
      if (r.status === 401 && errorCode(r.body) === 'mfa_code_reused') continue;
      // Injected faults and overload: try again shortly.
      if (r.status === 'network_error' || r.status >= 500) {
        await sleep(200 * (attempt + 1));
        continue;
      }
      return null;
    }
    return null;
  }
}
