import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import express from 'express';
import { trace } from '@opentelemetry/api';
import { createTelemetry } from '../exporter';
const t = createTelemetry({ version: 'x', defaultMetrics: process.env.DM !== '0' });
const handler = (req: express.Request, res: express.Response) => { res.json({ id: req.params.id, ok: true }); };
const variants: Record<string, express.RequestHandler | null> = {
  bare: null,
  noop: (_q, _s, n) => n(),
  listeners: (_q, res, next) => { const done = () => { res.removeListener('finish', done); res.removeListener('close', done); }; res.on('finish', done); res.on('close', done); next(); },
  finishOnly: (_q, res, next) => { res.once('finish', () => undefined); next(); },
  span: (_q, _s, next) => { trace.getActiveSpan(); next(); },
  full: t.httpMiddleware(),
};
(async () => {
  const ports: Record<string, number> = {};
  for (const [name, mw] of Object.entries(variants)) {
    const app = express(); if (mw) app.use(mw); app.get('/api/v1/items/:id', handler);
    ports[name] = await new Promise<number>((r) => { const s = http.createServer(app).listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)); });
  }
  const res: Record<string, number[]> = {};
  for (let round = 0; round < 3; round++) for (const name of Object.keys(variants)) {
    const c0 = process.cpuUsage();
    const r = await autocannon({ url: `http://127.0.0.1:${ports[name]}/api/v1/items/42`, connections: 20, duration: 2 });
    const c = process.cpuUsage(c0);
    (res[name] ??= []).push((c.user + c.system) / r.requests.total);
  }
  for (const [n, xs] of Object.entries(res)) console.log(n.padEnd(12), xs.map((x) => x.toFixed(1)).join(' '));
  process.exit(0);
})();
