import { performance } from 'node:perf_hooks';
import { createTelemetry } from '../exporter';
const t = createTelemetry({ version: 'x' });
const mw = t.httpMiddleware();
for (let r = 0; r < 600; r++) {
  const listeners: Record<string, () => void> = {};
  const res = { statusCode: 200 + (r % 5), writableFinished: true, on(e: string, f: () => void) { listeners[e] = f; }, removeListener() {} };
  mw({ method: 'GET', baseUrl: '', route: { path: `/api/v1/r${r}/:id` } } as never, res as never, () => undefined);
  listeners.finish?.();
}
(async () => {
  for (let i = 0; i < 20; i++) Buffer.byteLength(await t.render());
  const xs: number[] = [];
  for (let i = 0; i < 100; i++) { const t0 = performance.now(); Buffer.byteLength(await t.render()); xs.push(performance.now() - t0); }
  xs.sort((a, b) => a - b);
  console.log('median', xs[50]!.toFixed(2), 'ms p90', xs[90]!.toFixed(2), (await t.render()).length);
})();
