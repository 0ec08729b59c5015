import express from 'express';
import request from 'supertest';
import { accessLogMiddleware, createLogger } from '../../../collector/logging';
import { captureTarget, tick } from './capture-target';

/** An Express app whose first layer is the access log, writing to a captured target. */
function loggedApp() {
  const target = captureTarget();
  const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
  const app = express();
  app.use(accessLogMiddleware(log));
  return { target, log, app };
}

describe('accessLogMiddleware', () => {
  test('one line per request with the route template, status, method, duration and outcome', async () => {
    const { target, log, app } = loggedApp();
    const patients = express.Router();
    patients.get('/:id', (_req, res) => {
      res.status(200).json({ ok: true });
    });
    app.use('/api/patients', patients);
    app.get('/api/fail', () => {
      throw new Error('boom for zebediah.canary@example.org');
    });
    app.get('/api/health', (_req, res) => {
      res.json({ ok: true });
    });
    // express 5's default error handler would print the error (and its message) to stderr.
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: 'internal' });
    });

    await request(app).get('/api/patients/8812345?email=zebediah.canary@example.org').expect(200);
    await request(app).post('/api/patients/1').expect(404);
    await request(app).get('/api/fail').expect(500);
    await request(app).get('/api/health').expect(200);
    await tick(10);
    await log.close();

    const lines = target.lines();
    expect(lines).toHaveLength(3);
    const [ok, notFound, failed] = lines;
    expect(ok).toMatchObject({
      'event.action': 'http_request',
      'event.outcome': 'success',
      'http.request.method': 'GET',
      'url.path': '/api/patients/:id',
      'http.response.status_code': 200,
      message: 'request completed',
    });
    expect(ok!['event.duration']).toEqual(expect.any(Number));
    expect(ok!['event.duration'] as number).toBeGreaterThan(0);
    // No route matched: no path at all rather than the concrete URL.
    expect(notFound).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 404 });
    expect(notFound!['url.path']).toBeUndefined();
    expect(failed).toMatchObject({
      'url.path': '/api/fail',
      'http.response.status_code': 500,
      'event.outcome': 'failure',
    });
    expect(target.text()).not.toMatch(/canary|8812345/);
  });

  test('url.path is the route as the RED metrics label it: the mount templated and case-folded', async () => {
    const { target, log, app } = loggedApp();
    const notes = express.Router();
    notes.get('/', (_req, res) => {
      res.json({ ok: true });
    });
    app.use('/p/:pid/notes', notes);
    await request(app).get('/p/3f2a9c1e-0b7d-4c55-9e21-7a0c2b9d4e10/notes').expect(200);
    await request(app).get('/P/17/NOTES').expect(200);
    await tick(10);
    await log.close();
    expect(target.lines().map((l) => l['url.path'])).toEqual(['/p/:param/notes/', '/p/:param/notes/']);
    expect(target.text()).not.toContain('3f2a9c1e');
  });

  test('an error answered outside its router keeps the route with its mount path', async () => {
    const { target, log, app } = loggedApp();
    const auth = express.Router();
    auth.post('/login', () => {
      throw Object.assign(new Error('bad'), { status: 401 });
    });
    auth.post('/logout', (_req, res) => {
      res.status(204).end();
    });
    app.use('/api/auth', auth);
    // Express has restored req.baseUrl to '' by the time this answers.
    app.use(
      (
        err: { status?: number },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(err.status ?? 500).json({ error: 'unauthorised' });
      },
    );
    await request(app).post('/api/auth/login').expect(401);
    await request(app).post('/api/auth/logout').expect(204);
    await tick(10);
    await log.close();
    expect(target.lines().map((l) => [l['url.path'], l['http.response.status_code']])).toEqual([
      ['/api/auth/login', 401],
      ['/api/auth/logout', 204],
    ]);
  });
});
