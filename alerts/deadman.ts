/**
 * The dead man's switch: Alertmanager sends the always-firing Watchdog to its webhook every minute;
 * a node-cron check pages PagerDuty directly when no heartbeat arrived for `timeoutSeconds`, and
 * resolves the same incident when heartbeats return. It runs apart from Prometheus and Alertmanager,
 * so it still pages when they (or the host between them) are gone.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { schedule, validate, type ScheduledTask } from 'node-cron';
import { Counter, Gauge, Registry } from 'prom-client';
import { alertsMetricNames } from './metric-names';
import type { Pager } from './pager';

export const DEADMAN_DEDUP_KEY = 'telehealth/deadman/watchdog-heartbeat';
const MAX_BODY_BYTES = 1024 * 1024;

export interface DeadmanOptions {
  readonly pager: Pager;
  /** Page when the last heartbeat is older than this. */
  readonly timeoutSeconds: number;
  /** node-cron expression of the check (seconds field allowed). */
  readonly checkSchedule?: string;
  /** Bearer token Alertmanager must send to the webhook. */
  readonly token?: string;
  /** Bearer token Prometheus must send to /metrics (default: `token`). */
  readonly metricsToken?: string;
  readonly registry?: Registry;
  readonly namespace?: string;
  readonly alertName?: string;
  readonly now?: () => number;
}

export interface DeadmanSwitch {
  /** Runs one check now (the cron job calls this). */
  check(): Promise<void>;
  /** Webhook on POST /watchdog; /metrics on the same handler for tests. */
  listen(opts: {
    webhookPort?: number;
    metricsPort?: number;
    host?: string;
  }): Promise<{ webhookUrl: string; metricsUrl: string }>;
  readonly registry: Registry;
  state(): { lastHeartbeatMs: number; triggered: boolean; heartbeats: number };
  close(): Promise<void>;
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function createDeadmanSwitch(o: DeadmanOptions): DeadmanSwitch {
  if (!(o.timeoutSeconds > 0)) throw new Error('timeoutSeconds must be positive');
  const checkSchedule = o.checkSchedule ?? '*/15 * * * * *';
  if (!validate(checkSchedule)) throw new Error(`invalid cron expression for the check: ${checkSchedule}`);
  const now = o.now ?? Date.now;
  const alertName = o.alertName ?? 'Watchdog';
  const registry = o.registry ?? new Registry();
  const names = alertsMetricNames(o.namespace);
  const heartbeatsTotal = new Counter({
    name: names.deadmanHeartbeatsTotal,
    help: 'Watchdog heartbeats received.',
    registers: [registry],
  });
  const lastHeartbeat = new Gauge({
    name: names.deadmanLastHeartbeatTimestampSeconds,
    help: 'Unix time of the last Watchdog heartbeat, 0 before the first.',
    registers: [registry],
  });
  const triggeredGauge = new Gauge({
    name: names.deadmanTriggered,
    help: '1 while the switch has paged for missing heartbeats.',
    registers: [registry],
  });
  heartbeatsTotal.inc(0);
  lastHeartbeat.set(0);
  triggeredGauge.set(0);

  // The grace period starts at start-up: a restarted switch does not page before the timeout passes.
  let lastHeartbeatMs = now();
  let heartbeats = 0;
  let triggered = false;
  let checking: Promise<void> | undefined;
  const servers: Server[] = [];
  let task: ScheduledTask | undefined;

  async function runCheck(): Promise<void> {
    const silentMs = now() - lastHeartbeatMs;
    if (!triggered && silentMs > o.timeoutSeconds * 1000) {
      const result = await o.pager.trigger(
        DEADMAN_DEDUP_KEY,
        `No ${alertName} heartbeat from Alertmanager for ${Math.round(silentMs / 1000)} s: the alerting pipeline (Prometheus or Alertmanager) may be down, or Alertmanager cannot deliver to PagerDuty`,
        {
          last_heartbeat: heartbeats > 0 ? new Date(lastHeartbeatMs).toISOString() : 'none since start',
          timeout_seconds: o.timeoutSeconds,
        },
      );
      // Not sent: stay untriggered, the next check tries again.
      if (result.ok) {
        triggered = true;
        triggeredGauge.set(1);
      }
    } else if (triggered && silentMs <= o.timeoutSeconds * 1000) {
      const result = await o.pager.resolve(DEADMAN_DEDUP_KEY);
      if (result.ok) {
        triggered = false;
        triggeredGauge.set(0);
      }
    }
  }

  function check(): Promise<void> {
    // One check at a time: a slow PagerDuty must not lead to two triggers.
    checking ??= runCheck().finally(() => (checking = undefined));
    return checking;
  }

  async function handleWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/watchdog')
      return reply(res, 404, { error: 'not found' });
    if (!authorized(req, o.token)) return reply(res, 401, { error: 'missing or wrong bearer token' });
    const body = await readBody(req);
    if (body === null) return reply(res, 413, { error: 'body too large' });
    let parsed: { alerts?: Array<{ status?: unknown; labels?: { alertname?: unknown } }> };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return reply(res, 400, { error: 'body is not JSON' });
    }
    const alerts = Array.isArray(parsed?.alerts) ? parsed.alerts : [];
    const beat = alerts.some((a) => a?.labels?.alertname === alertName && a.status === 'firing');
    if (!beat) return reply(res, 400, { error: `alerts[] holds no firing ${alertName}` });
    lastHeartbeatMs = now();
    heartbeats += 1;
    heartbeatsTotal.inc();
    lastHeartbeat.set(lastHeartbeatMs / 1000);
    reply(res, 200, { status: 'ok' });
    // Resolve promptly when heartbeats return instead of waiting for the next tick.
    if (triggered) void check();
  }

  async function handleMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics')
      return reply(res, 404, { error: 'not found' });
    if (!authorized(req, o.metricsToken ?? o.token))
      return reply(res, 401, { error: 'missing or wrong bearer token' });
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  }

  function start(server: Server, port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const a = server.address() as AddressInfo;
        resolve(`http://${host}:${a.port}`);
      });
    });
  }

  return {
    registry,
    check,
    state: () => ({ lastHeartbeatMs, triggered, heartbeats }),
    async listen({ webhookPort = 9095, metricsPort = 9466, host = '127.0.0.1' }) {
      const hook = createServer(
        (req, res) => void handleWebhook(req, res).catch(() => reply(res, 500, { error: 'internal' })),
      );
      const metrics = createServer(
        (req, res) => void handleMetrics(req, res).catch(() => reply(res, 500, { error: 'internal' })),
      );
      servers.push(hook, metrics);
      const webhookBase = await start(hook, webhookPort, host);
      const metricsBase = await start(metrics, metricsPort, host);
      task = schedule(checkSchedule, () => check(), { name: 'deadman-check', noOverlap: true });
      return { webhookUrl: `${webhookBase}/watchdog`, metricsUrl: `${metricsBase}/metrics` };
    },
    async close() {
      await task?.destroy();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      );
      await checking;
    },
  };
}
