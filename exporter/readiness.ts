/**
 * Readiness: registered dependency checks run in parallel, each under its own timeout. The result
 * names failing dependencies only; their error text may carry hostnames or data and stays inside.
 */
import { errors } from './errors';
import type { Gauge } from './gauge';

const CHECK_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
export const DEFAULT_CHECK_TIMEOUT_MS = 2000;

export interface ReadinessResult {
  ready: boolean;
  shuttingDown: boolean;
  /** Dependency name -> 'up' | 'down'. */
  checks: Record<string, 'up' | 'down'>;
  failing: string[];
}

export interface Readiness {
  register(name: string, check: () => Promise<void>, opts?: { timeoutMs?: number }): void;
  beginShutdown(): void;
  isShuttingDown(): boolean;
  /** Runs every check (concurrent callers share one run) and updates `dependency_up`. */
  run(): Promise<ReadinessResult>;
  /** Runs the checks when the last run finished more than `maxAgeMs` ago (or never ran). */
  refresh(maxAgeMs: number): Promise<void>;
}

interface RegisteredCheck {
  name: string;
  check: () => Promise<void>;
  timeoutMs: number;
}

async function runOne(c: RegisteredCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      // A check that throws synchronously is a failed check, not a crashed probe.
      Promise.resolve().then(() => c.check()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new errors.CHECK_TIMEOUT(c.name, c.timeoutMs)), c.timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export function createReadiness(dependencyUp: Gauge<'dependency'>): Readiness {
  const checks = new Map<string, RegisteredCheck>();
  let shuttingDown = false;
  let inFlight: Promise<ReadinessResult> | null = null;
  let lastRunAt = Number.NEGATIVE_INFINITY;

  async function runAll(): Promise<ReadinessResult> {
    const list = [...checks.values()];
    const outcomes = await Promise.all(list.map(runOne));
    const result: ReadinessResult = { ready: true, shuttingDown, checks: {}, failing: [] };
    list.forEach((c, i) => {
      const up = outcomes[i] === true;
      result.checks[c.name] = up ? 'up' : 'down';
      dependencyUp.set({ dependency: c.name }, up ? 1 : 0);
      if (!up) result.failing.push(c.name);
    });
    result.shuttingDown = shuttingDown;
    lastRunAt = Date.now();
    result.ready = result.failing.length === 0 && !shuttingDown;
    return result;
  }

  return {
    register(name, check, opts = {}) {
      if (typeof name !== 'string' || !CHECK_NAME.test(name)) throw new errors.BAD_CHECK_NAME(String(name));
      if (checks.has(name)) throw new errors.DUPLICATE_CHECK(name);
      if (typeof check !== 'function')
        throw new errors.BAD_OPTION(`readiness.${name}`, 'check must be a function');
      const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
        throw new errors.BAD_OPTION(`readiness.${name}.timeoutMs`, 'must be an integer between 1 and 60000');
      }
      checks.set(name, { name, check, timeoutMs });
      // No series until the first check has run: a scrape runs it (see refresh), so none reads 0
      // merely because no probe came yet.
      lastRunAt = Number.NEGATIVE_INFINITY;
    },
    beginShutdown() {
      shuttingDown = true;
    },
    isShuttingDown() {
      return shuttingDown;
    },
    run() {
      if (inFlight === null) {
        inFlight = runAll().finally(() => {
          inFlight = null;
        });
      }
      return inFlight;
    },
    async refresh(maxAgeMs) {
      if (checks.size === 0 || Date.now() - lastRunAt <= maxAgeMs) return;
      await this.run();
    },
  };
}
