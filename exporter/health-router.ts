/**
 * GET /api/health (liveness: answers from memory, never calls a dependency, so a database outage does
 * not get the process restarted) and GET /api/ready (readiness: runs the registered checks).
 */
import { Router } from 'express';
import type { Readiness } from './readiness';

export function createHealthRouter(readiness: Readiness, startedAt: number): Router {
  const router = Router();
  router.get('/api/health', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    res.status(200).json({ status: 'ok', uptime_seconds: Math.round((Date.now() - startedAt) / 1000) });
  });
  router.get('/api/ready', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    if (readiness.isShuttingDown()) {
      // No dependency calls while draining: the answer is known.
      res.status(503).json({ status: 'shutting_down' });
      return;
    }
    readiness.run().then(
      (result) => {
        if (result.ready) {
          res.status(200).json({ status: 'ready', checks: result.checks });
        } else if (result.shuttingDown) {
          res.status(503).json({ status: 'shutting_down' });
        } else {
          res.status(503).json({ status: 'not_ready', failing: result.failing, checks: result.checks });
        }
      },
      () => {
        res.status(503).json({ status: 'not_ready' });
      },
    );
  });
  return router;
}
