/**
 * npm run simulate -- --scenario <normal|credential-stuffing|phi-snooping|error-spike|latency-spike>
 *                     --rate N --duration S [--target URL] [--credentials FILE] [--json]
 * Without --credentials: DEV_CREDENTIALS_FILE, else DATA_DIR/dev-credentials.json, else
 * .data/dev-credentials.json, as `npm start` writes it.
 * Drives a running service (npm start) with realistic traffic; a progress bar on a terminal, plain
 * lines otherwise, then a summary of requests, status codes and latency percentiles.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runScenario, SCENARIOS, type Scenario, type ScenarioSummary } from '../app';

const USAGE = `Usage: npm run simulate -- --scenario <${SCENARIOS.join('|')}> --rate N --duration S [--target URL] [--credentials FILE] [--json]`;

function fail(message: string): never {
  console.error(`simulate: ${message}\n${USAGE}`);
  process.exit(2);
}

function bar(fraction: number, width = 30): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

function statusLine(byStatus: Record<string, number>): string {
  return Object.entries(byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}:${n}`)
    .join(' ');
}

function printSummary(s: ScenarioSummary): void {
  const lines = [
    `scenario ${s.scenario} against ${s.target}: ${s.durationSeconds}s at ${s.rate}/s`,
    `requests ${s.requests}  (skipped ${s.skipped}, network errors ${s.networkErrors})`,
    `status   ${statusLine(s.byStatus)}`,
    `latency  p50 ${s.latency.p50Ms} ms  p95 ${s.latency.p95Ms} ms  p99 ${s.latency.p99Ms} ms  max ${s.latency.maxMs} ms`,
    `5xx      ${(s.serverErrorRatio * 100).toFixed(1)}%   failed logins ${s.failedLogins}   PHI denied ${s.phiDenied}`,
    'by action:',
    ...Object.entries(s.byAction)
      .sort(([, a], [, b]) => b.count - a.count)
      .map(
        ([name, a]) =>
          `  ${name.padEnd(24)} ${String(a.count).padStart(6)}  p50 ${a.p50Ms} ms  p95 ${a.p95Ms} ms  ${statusLine(a.byStatus)}`,
      ),
  ];
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        scenario: { type: 'string' },
        rate: { type: 'string', default: '5' },
        duration: { type: 'string', default: '60' },
        target: { type: 'string', default: process.env.SIMULATE_TARGET ?? 'http://127.0.0.1:3000' },
        credentials: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : 'bad arguments');
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const scenario = values.scenario as string | undefined;
  if (!scenario || !SCENARIOS.includes(scenario as Scenario))
    fail('--scenario is required and must be one of the list');
  const rate = Number(values.rate);
  const duration = Number(values.duration);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 10_000)
    fail('--rate must be a number of requests per second in (0, 10000]');
  if (!Number.isFinite(duration) || duration <= 0 || duration > 86_400)
    fail('--duration must be seconds in (0, 86400]');
  let target: URL;
  try {
    target = new URL(values.target as string);
  } catch {
    fail('--target must be a URL such as http://127.0.0.1:3000');
  }

  const tty = process.stderr.isTTY === true && !values.json;
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const summary = await runScenario({
    target: target.toString(),
    scenario: scenario as Scenario,
    rate,
    durationSeconds: duration,
    // Where the service wrote them: the same variables it reads (DEV_CREDENTIALS_FILE, DATA_DIR).
    credentialsFile:
      (values.credentials as string | undefined) ??
      (process.env.DEV_CREDENTIALS_FILE || undefined) ??
      (process.env.DATA_DIR ? join(process.env.DATA_DIR, 'dev-credentials.json') : undefined),
    signal: controller.signal,
    onProgress: (p) => {
      const line = `${bar(p.elapsedSeconds / p.durationSeconds)} ${p.elapsedSeconds.toFixed(0)}/${p.durationSeconds}s  ${p.requests} req  in flight ${p.inFlight}  ${statusLine(p.byStatus)}`;
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (!values.json) console.log(line);
    },
  });
  if (tty) process.stderr.write('\n');
  if (values.json) console.log(JSON.stringify(summary, null, 2));
  else printSummary(summary);
}

main().catch((err: unknown) => {
  console.error(`simulate: ${err instanceof Error ? err.message : 'failed'}`);
  process.exit(1);
});
