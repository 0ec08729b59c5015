import { performance } from 'node:perf_hooks';
import { leTexts, newHistogramSeries, renderHistogramSeries, type HistogramSeries } from '../exporter/histogram';
const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 2.5, 5, 10];
const les = leTexts(bounds);
const series: HistogramSeries[] = [];
for (let r = 0; r < 600; r++) { const s = newHistogramSeries(`method="GET",route="/api/v1/r${r}/:id",status_code="200"`, 13); s.counts[r % 14] = 3; s.count = 3; s.sum = 0.123; series.push(s); }
const name = 'telehealth_http_request_duration_seconds';
function A() { let out = ''; for (const s of series) out += renderHistogramSeries(name, s, les, 'prometheus'); return out; }
const lesClosed = les.map((l) => `${l}} `);
function B() {
  const parts: string[] = [];
  for (const s of series) {
    const prefix = `${name}_bucket{${s.labelText},`;
    let c = 0;
    for (let i = 0; i < lesClosed.length; i++) { c += s.counts[i]!; parts.push(prefix + lesClosed[i] + c); }
    parts.push(`${name}_sum{${s.labelText}} ${s.sum}`, `${name}_count{${s.labelText}} ${s.count}`);
  }
  return parts.join('\n') + '\n';
}
function C() {
  let out = '';
  for (const s of series) {
    const prefix = `${name}_bucket{${s.labelText},`;
    let c = 0;
    for (let i = 0; i < lesClosed.length; i++) { c += s.counts[i]!; out += prefix + lesClosed[i] + c + '\n'; }
    out += `${name}_sum{${s.labelText}} ${s.sum}\n${name}_count{${s.labelText}} ${s.count}\n`;
  }
  return out;
}
function time(f: () => string) { const xs: number[] = []; for (let i = 0; i < 60; i++) { const t0 = performance.now(); Buffer.byteLength(f()); xs.push(performance.now() - t0); } xs.sort((a, b) => a - b); return xs[30]!.toFixed(2); }
for (let k = 0; k < 3; k++) console.log('A', time(A), 'B', time(B), 'C', time(C));
console.log(A() === C(), A().length, B() === A());
