/**
 * The fault switch the simulator's error-spike and latency-spike scenarios (and the end-to-end
 * incident test) use to make the alerts fire. It exists only when FAULT_INJECTION=enabled, which
 * the config refuses in production. A fault always has an end time, so a crashed driver cannot
 * leave the service broken.
 *   GET    /api/_faults   current state
 *   POST   /api/_faults   { errorRate 0..1, latencyMs 0..30000, durationSeconds 1..3600 }
 *   DELETE /api/_faults   off
 * Callable from loopback, or by an admin from elsewhere.
 */
import type { Request, RequestHandler } from 'express';
import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { requireAuth } from '../auth/sessions';
import { errorBody } from './errors';
import { body } from './validate';

export interface FaultState {
  errorRate: number;
  latencyMs: number;
  /** epoch ms; 0 when off */
  until: number;
}

export interface FaultSwitch {
  state(): FaultState & { active: boolean };
  set(f: { errorRate: number; latencyMs: number; durationSeconds: number }): void;
  clear(): void;
  /** Applies the fault to the request it runs for. */
  middleware(): RequestHandler;
}

export function createFaultSwitch(random: () => number = Math.random): FaultSwitch {
  let current: FaultState = { errorRate: 0, latencyMs: 0, until: 0 };
  const active = () => current.until > Date.now();
  return {
    state: () => ({ ...current, active: active() }),
    set(f) {
      current = {
        errorRate: f.errorRate,
        latencyMs: f.latencyMs,
        until: Date.now() + f.durationSeconds * 1000,
      };
    },
    clear() {
      current = { errorRate: 0, latencyMs: 0, until: 0 };
    },
    middleware() {
      return (_req, res, next) => {
        if (!active()) {
          next();
          return;
        }
        const f = current;
        const fail = f.errorRate > 0 && random() < f.errorRate;
        const go = () => {
          if (fail)
            res.status(503).json(errorBody('injected_fault', 'Injected fault (FAULT_INJECTION is enabled)'));
          else next();
        };
        if (f.latencyMs > 0) setTimeout(go, f.latencyMs).unref();
        else go();
      };
    },
  };
}

const faultBody = z
  .object({
    errorRate: z.number().min(0).max(1).default(0),
    latencyMs: z.int().min(0).max(30_000).default(0),
    durationSeconds: z.int().min(1).max(3600).default(300),
  })
  .strict();

function isLoopback(req: Request): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1';
}

export function faultRoutes(ctx: AppContext, faults: FaultSwitch): Router {
  const r = Router();
  const admin = requireAuth(ctx, ['admin']);
  r.use((req, res, next) => (isLoopback(req) ? next() : admin(req, res, next)));
  r.get('/', (_req, res) => {
    res.json(faults.state());
  });
  r.post('/', (req, res) => {
    const f = body(req, faultBody);
    faults.set(f);
    res.json(faults.state());
  });
  r.delete('/', (_req, res) => {
    faults.clear();
    res.json(faults.state());
  });
  return r;
}
