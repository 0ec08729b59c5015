/**
 * The Express application: security headers, body limits, health, the API routes and the one error
 * shape. Instrumentation (RED metrics, access log, trace context) wraps its request listener
 * (app/service.ts) rather than occupying Express layers, so the benchmark can build the same
 * application with all of it off.
 */
import express, { type Express, type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import type { AppContext } from '../context';
import { authRoutes } from '../routes/auth-routes';
import { invoiceRoutes, paymentRoutes } from '../routes/billing-routes';
import { orderRoutes, prescriptionRoutes } from '../routes/order-routes';
import { patientRoutes } from '../routes/patient-routes';
import { userRoutes } from '../routes/user-routes';
import { headersOf } from './client-error';
import { errorHandler, notFoundHandler } from './errors';
import { faultRoutes, type FaultSwitch } from './fault-switch';

/** The headers every response carries: security headers, and no caching of PHI. */
const HEADER_MIDDLEWARE: RequestHandler[] = [
  helmet({
    contentSecurityPolicy: {
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      useDefaults: false,
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    noSniff: true,
  }),
  (_req, res, next) => {
    // Responses carry PHI: no shared or browser cache may keep them.
    res.set('Cache-Control', 'no-store');
    next();
  },
];

/** The same headers as a list, for answers written outside Express (app/http/client-error.ts). */
export function responseHeaders(): Record<string, string> {
  return headersOf(HEADER_MIDDLEWARE);
}

export interface CreateAppOptions {
  /** GET /api/health and GET /api/ready. */
  healthRouter?: Router;
  /** Present only when FAULT_INJECTION=enabled. */
  faults?: FaultSwitch;
  onInternalError?: (err: unknown) => void;
}

export function createApp(ctx: AppContext, opts: CreateAppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Query strings are parsed flat: nested `a[b]=` objects are not an input any route accepts.
  app.set('query parser', 'simple');
  for (const m of HEADER_MIDDLEWARE) app.use(m);
  app.use(express.json({ limit: ctx.config.bodyLimitBytes, strict: true }));

  if (opts.healthRouter) app.use(opts.healthRouter);
  if (opts.faults) {
    app.use('/api/_faults', faultRoutes(ctx, opts.faults));
    app.use('/api', opts.faults.middleware());
  }
  // The benchmark's hello-world route: no database, no auth.
  app.get('/api/ping', (_req, res) => {
    res.json({ pong: true });
  });
  app.use('/api/auth', authRoutes(ctx));
  app.use('/api/users', userRoutes(ctx));
  app.use('/api/patients', patientRoutes(ctx));
  app.use('/api/orders', orderRoutes(ctx));
  app.use('/api/prescriptions', prescriptionRoutes(ctx));
  app.use('/api/invoices', invoiceRoutes(ctx));
  app.use('/api/payments', paymentRoutes(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler(opts.onInternalError ?? (() => undefined)));
  return app;
}
