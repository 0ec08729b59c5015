/**
 * `npm run deadman`: the dead man's switch as a process. Configuration from the environment:
 *   DEADMAN_ROUTING_KEY_FILE (required), DEADMAN_TOKEN_FILE (bearer Alertmanager sends to the webhook),
 *   DEADMAN_METRICS_TOKEN_FILE (bearer Prometheus sends to /metrics; default DEADMAN_TOKEN_FILE),
 *   DEADMAN_TIMEOUT_SECONDS (300), DEADMAN_CHECK_SCHEDULE ('*\/15 * * * * *'),
 *   DEADMAN_WEBHOOK_PORT (9095), DEADMAN_METRICS_PORT (9466), DEADMAN_HOST (127.0.0.1),
 *   PAGERDUTY_SERVER (events.pagerduty.com), PAGERDUTY_CA_FILE (extra CA, for a test double).
 */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import {
  createDeadmanSwitch,
  createPager,
  createPagerDutyClient,
  DEFAULT_PAGERDUTY_SERVER,
  readRoutingKeyFile,
} from '../alerts';

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
}

function port(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new Error(`${name} must be a port number`);
  return v;
}

async function main(): Promise<void> {
  const registry = new Registry();
  const caFile = process.env.PAGERDUTY_CA_FILE;
  const client = createPagerDutyClient({
    server: env('PAGERDUTY_SERVER', DEFAULT_PAGERDUTY_SERVER),
    registry,
    ...(caFile ? { ca: readFileSync(caFile) } : {}),
  });
  const tokenFile = process.env.DEADMAN_TOKEN_FILE;
  const metricsTokenFile = process.env.DEADMAN_METRICS_TOKEN_FILE;
  const timeoutSeconds = Number(env('DEADMAN_TIMEOUT_SECONDS', '300'));
  const sw = createDeadmanSwitch({
    pager: createPager({
      client,
      routingKey: readRoutingKeyFile(env('DEADMAN_ROUTING_KEY_FILE')),
      source: 'telehealth-deadman',
      severity: 'critical',
      component: 'alerting',
      group: 'alerting',
    }),
    timeoutSeconds,
    checkSchedule: env('DEADMAN_CHECK_SCHEDULE', '*/15 * * * * *'),
    registry,
    ...(tokenFile ? { token: readFileSync(tokenFile, 'utf8').trim() } : {}),
    ...(metricsTokenFile ? { metricsToken: readFileSync(metricsTokenFile, 'utf8').trim() } : {}),
  });
  const urls = await sw.listen({
    webhookPort: port('DEADMAN_WEBHOOK_PORT', 9095),
    metricsPort: port('DEADMAN_METRICS_PORT', 9466),
    host: env('DEADMAN_HOST', '127.0.0.1'),
  });
  console.log(
    JSON.stringify({
      msg: 'deadman listening',
      webhook: urls.webhookUrl,
      metrics: urls.metricsUrl,
      timeoutSeconds,
    }),
  );
  const stop = () => {
    void sw.close().then(() => {
      client.close();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(`deadman: ${err.message}`);
  process.exit(1);
});
