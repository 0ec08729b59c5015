import { performance } from 'node:perf_hooks';
import { createTelemetry } from '../exporter';
const t = createTelemetry({ version: 'x' });
(async () => {
  for (let i = 0; i < 20; i++) await t.render();
  const per = new Map<string, number[]>();
  for (let k = 0; k < 50; k++) for (const m of t.registry.getMetricsAsArray() as any[]) {
    const t0 = performance.now(); if (m.get) await m.get(); const d = performance.now() - t0;
    (per.get(m.name) ?? per.set(m.name, []).get(m.name)!).push(d);
  }
  const rows = [...per].map(([n, xs]) => [n, xs.sort((a, b) => a - b)[25]!] as const).sort((a, b) => b[1] - a[1]);
  for (const [n, v] of rows.slice(0, 8)) console.log(v.toFixed(3), n);
  const xs: number[] = [];
  for (let i = 0; i < 100; i++) { const t0 = performance.now(); Buffer.byteLength(await t.render()); xs.push(performance.now() - t0); }
  xs.sort((a, b) => a - b); console.log('full render median', xs[50]!.toFixed(2));
})();
