/**
 * `npm run stack -- [--fast] [--scenario S] [--rate N]`: the whole product on this machine without
 * Docker. Starts the reference service (embedded PostgreSQL unless DATABASE_URL is set), the dead man's
 * switch, a local PagerDuty Events API sink, and Debian's prometheus, alertmanager and node_exporter
 * with the generated configuration; drives the service with the simulator; shows request rate, error
 * ratio, p95, firing alerts and pages sent, refreshed every second from Prometheus' API.
 * Ctrl-C stops everything it started. `--fast` uses the incident test's profile (1 s scrape, `for`
 * capped at 5 s) so that a fault pages within seconds; without it the shipped timings apply.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDeadmanSwitch, createPager, createPagerDutyClient, DEADMAN_DEDUP_KEY } from '../alerts';
import { runScenario, SCENARIOS, startService, type RunningService, type Scenario } from '../app';
import {
  createPromClient,
  FAST_PROFILE,
  freePort,
  LOCAL_ROUTING_KEYS,
  missingBinaries,
  SHIPPED_PROFILE,
  startLocalStack,
  type LocalStack,
} from '../deploy/local-stack';
import { exporterMetricNames } from '../exporter';
import { startPagerDutyDouble, type PagerDutyDouble } from '../test/support/pagerduty-double';

const USAGE = `Usage: npm run stack -- [--fast] [--scenario <${SCENARIOS.join('|')}>] [--rate N] [--keep]`;

interface Options {
  fast: boolean;
  scenario: Scenario;
  rate: number;
  keep: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      fast: { type: 'boolean', default: false },
      scenario: { type: 'string', default: 'normal' },
      rate: { type: 'string', default: '5' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const scenario = values.scenario as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  const rate = Number(values.rate);
  if (!(rate > 0 && rate <= 1000))
    throw new Error('--rate must be a number of requests per second in (0, 1000]');
  return { fast: values.fast === true, scenario, rate, keep: values.keep === true };
}

const m = exporterMetricNames();

interface View {
  rate: number | null;
  errorRatio: number | null;
  p95: number | null;
  firing: string[];
  down: string[];
}

async function sample(stack: LocalStack, window: string): Promise<View> {
  const prom = createPromClient(stack.prometheusUrl);
  const one = async (expr: string) => {
    const r = await prom.query(expr);
    const v = r[0]?.value;
    return v === undefined || Number.isNaN(v) ? null : v;
  };
  const [rate, errorRatio, p95, alerts, down] = await Promise.all([
    one(`sum(rate(${m.httpRequestsTotal}[${window}]))`),
    // `or vector(0)`: no 5xx series at all means a ratio of 0, not "no data".
    one(
      `(sum(rate(${m.httpRequestsTotal}{status_code=~"5.."}[${window}])) or vector(0)) / sum(rate(${m.httpRequestsTotal}[${window}]))`,
    ),
    one(`histogram_quantile(0.95, sum by (le) (rate(${m.httpRequestDurationSeconds}_bucket[${window}])))`),
    prom.alerts(),
    prom.downTargets(),
  ]);
  const firing = alerts
    .filter((a) => a.state === 'firing' && a.labels.alertname !== 'Watchdog')
    .map(
      (a) => `${a.labels.alertname} (${a.labels.severity ?? '?'}, ${a.labels.service ?? a.labels.job ?? ''})`,
    );
  return {
    rate,
    errorRatio,
    p95,
    firing: [...new Set(firing)].sort(),
    down: down.map((d) => d.job),
  };
}

function render(view: View | Error, pager: PagerDutyDouble, header: string[], simulator: string): string {
  const fmt = (v: number | null, f: (n: number) => string) => (v === null ? '—' : f(v));
  const triggers = pager.events.filter((e) => e.event_action === 'trigger');
  const resolves = pager.events.filter((e) => e.event_action === 'resolve');
  const lines = [...header, ''];
  if (view instanceof Error) lines.push(`Prometheus: ${view.message}`);
  else {
    lines.push(
      `request rate  ${fmt(view.rate, (n) => `${n.toFixed(1)} req/s`)}`,
      `error ratio   ${fmt(view.errorRatio, (n) => `${(n * 100).toFixed(2)} %`)}`,
      `p95 latency   ${fmt(view.p95, (n) => `${(n * 1000).toFixed(0)} ms`)}`,
      `targets down  ${view.down.length === 0 ? 'none' : view.down.join(', ')}`,
      '',
      `firing alerts (${view.firing.length})`,
      ...(view.firing.length === 0 ? ['  none'] : view.firing.map((f) => `  ${f}`)),
    );
  }
  lines.push('', `pages sent: ${triggers.length} triggers, ${resolves.length} resolves`);
  for (const e of pager.events.slice(-6)) {
    const what =
      e.event_action === 'trigger'
        ? `${e.payload?.severity ?? ''} ${e.payload?.summary ?? ''}`
        : `${e.dedup_key === DEADMAN_DEDUP_KEY ? "dead man's switch" : e.dedup_key.slice(0, 12)}`;
    lines.push(
      `  ${new Date(e.receivedAt).toISOString().slice(11, 19)} ${e.event_action.padEnd(8)} ${what}`.slice(
        0,
        150,
      ),
    );
  }
  lines.push('', simulator, '', 'Ctrl-C stops everything.');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = options();
  const missing = missingBinaries();
  if (missing.length > 0) {
    console.error(
      `stack: ${missing.join(', ')} not installed. On Debian/Ubuntu:\n` +
        '  sudo apt-get install -y --no-install-recommends prometheus prometheus-alertmanager prometheus-node-exporter\n' +
        'or run the containers instead: docker compose up (see docs/stack.md).',
    );
    process.exit(1);
  }
  const profile = o.fast ? FAST_PROFILE : SHIPPED_PROFILE;
  const dir = mkdtempSync(join(tmpdir(), 'telehealth-stack-'));
  const cleanups: Array<() => Promise<void>> = [];
  let stopping = false;
  let starting: Promise<void> = Promise.resolve();
  const abort = new AbortController();
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    abort.abort();
    // A Ctrl-C during start-up lets the start finish first, so that every process it began is known.
    console.log('stopping…');
    await starting.catch(() => undefined);
    // Reverse order of start: the switch and the monitoring first, then the service (it flushes its events).
    for (const step of cleanups.reverse())
      await step().catch((err: Error) => console.error(`stack: ${err.message}`));
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`configuration and logs kept in ${dir}`);
    process.exit(code);
  };
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));

  let started!: () => void;
  starting = new Promise<void>((resolve) => (started = resolve));
  const step = (what: string) => {
    if (stopping) throw new Error('stopped during start-up');
    console.log(what);
  };
  try {
    step('starting the PagerDuty sink…');
    const metricsToken = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'service-metrics.token');
    writeFileSync(tokenFile, metricsToken, { mode: 0o600 });
    const pager = await startPagerDutyDouble();
    cleanups.push(() => pager.close());
    step(
      'starting the service (embedded PostgreSQL unless DATABASE_URL is set; the first start seeds demo data)…',
    );

    const service: RunningService = await startService({
      env: {
        ...process.env,
        METRICS_BEARER_TOKEN_FILE: tokenFile,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
      },
      host: '127.0.0.1',
      port: await freePort(3000),
      metricsPort: await freePort(9464),
      dataDir: process.env.DATA_DIR ?? join(dir, 'data'),
      faultInjection: true,
      print: () => undefined,
    });
    cleanups.push(() => service.close());
    step('starting prometheus, alertmanager and node_exporter…');

    const deadmanPorts = { webhook: await freePort(9095), metrics: await freePort(9466) };
    const stack = await startLocalStack(
      {
        dir,
        profile,
        metricsToken,
        targets: {
          api: [`127.0.0.1:${String(service.metricsPort)}`],
          deadman: [`127.0.0.1:${deadmanPorts.metrics}`],
        },
        pagerDuty: { url: pager.url, caFile: pager.caFile },
        deadmanWebhookUrl: `http://127.0.0.1:${deadmanPorts.webhook}/watchdog`,
        deadmanToken: metricsToken,
      },
      { prometheus: 9090, alertmanager: 9093, nodeExporter: 9100 },
    );
    cleanups.push(() => stack.stop());

    const client = createPagerDutyClient({ server: pager.server, ca: pager.ca });
    const deadman = createDeadmanSwitch({
      pager: createPager({ client, routingKey: LOCAL_ROUTING_KEYS.high, source: 'telehealth-deadman' }),
      timeoutSeconds: o.fast ? 15 : 300,
      checkSchedule: o.fast ? '* * * * * *' : '*/15 * * * * *',
      token: metricsToken,
    });
    await deadman.listen({
      webhookPort: deadmanPorts.webhook,
      metricsPort: deadmanPorts.metrics,
      host: '127.0.0.1',
    });
    cleanups.push(async () => {
      await deadman.close();
      client.close();
    });

    const header = [
      `telehealth local stack (${o.fast ? 'fast profile: 1 s scrape, for <= 5 s' : 'shipped timings: 15 s scrape'})`,
      `  API           ${service.apiUrl}   (demo credentials: ${service.config.devCredentialsFile})`,
      `  Prometheus    ${stack.prometheusUrl}   Alertmanager ${stack.alertmanagerUrl}   node_exporter ${stack.nodeExporterUrl}`,
      `  faults        npm run simulate -- --target ${service.apiUrl} --scenario error-spike --rate 10 --duration 120`,
    ];

    // The simulator runs the chosen scenario in one-minute rounds until Ctrl-C.
    let simulator = `simulator: ${o.scenario} at ${o.rate}/s starting`;
    void (async () => {
      while (!abort.signal.aborted) {
        const summary = await runScenario({
          target: service.apiUrl,
          scenario: o.scenario,
          rate: o.rate,
          durationSeconds: 60,
          credentials: service.credentials ?? undefined,
          signal: abort.signal,
          onProgress: (p) => {
            simulator = `simulator: ${o.scenario} at ${o.rate}/s — ${p.requests} requests this round`;
          },
        }).catch((err: Error) => err);
        if (summary instanceof Error) {
          simulator = `simulator: ${summary.message}`;
          await new Promise((r) => setTimeout(r, 5000));
        }
      }
    })();

    const window = o.fast ? '15s' : '1m';
    const tty = process.stdout.isTTY === true;
    const tick = async () => {
      if (stopping) return;
      const view = await sample(stack, window).catch((err: Error) => err);
      const text = render(view, pager, header, simulator);
      // A terminal gets a redrawn screen; a pipe gets one line per refresh.
      if (tty) process.stdout.write(`\x1b[2J\x1b[H${text}\n`);
      else if (!(view instanceof Error)) {
        console.log(
          `${new Date().toISOString()} rate=${view.rate?.toFixed(2) ?? '-'} errors=${view.errorRatio?.toFixed(4) ?? '-'} ` +
            `p95=${view.p95?.toFixed(3) ?? '-'} firing=${view.firing.length} pages=${pager.events.length}`,
        );
      }
    };
    const timer = setInterval(() => void tick(), 1000);
    // The readiness probe an orchestrator would run (compose's healthcheck): it keeps the service's
    // dependency_up gauges current, which the DependencyDown alert reads.
    const probe = setInterval(
      () =>
        void fetch(`${service.apiUrl}/api/ready`).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        ),
      5000,
    );
    cleanups.unshift(async () => {
      clearInterval(timer);
      clearInterval(probe);
    });
    started();
  } catch (err) {
    started();
    if (stopping) return;
    console.error(`stack: ${(err as Error).message}`);
    await stopAll(1);
  }
}

void main();
