import http from 'node:http';
import express from 'express';
import { createTelemetry } from '../exporter';
const t = createTelemetry({ version: 'x' });
const app = express();
if (process.env.INST === '1') app.use(t.httpMiddleware());
app.get('/api/v1/items/:id', (req, res) => { res.json({ id: req.params.id, ok: true }); });
const s = http.createServer(app).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGINT', () => { s.close(); const c = process.cpuUsage(); console.log('cpu', c.user + c.system); process.exit(0); });
