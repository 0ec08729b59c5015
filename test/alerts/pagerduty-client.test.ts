import { request } from 'node:https';
import { Registry } from 'prom-client';
import { createPager, createPagerDutyClient, MAX_DEDUP_KEY, type PagerDutyClient } from '../../alerts';
import { startPagerDutyDouble, type PagerDutyDouble } from '../support/pagerduty-double';

const KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

let pd: PagerDutyDouble;
let registry: Registry;
let client: PagerDutyClient;
const sleeps: number[] = [];

function newClient(extra: Partial<Parameters<typeof createPagerDutyClient>[0]> = {}): PagerDutyClient {
  return createPagerDutyClient({
    server: pd.server,
    ca: pd.ca,
    registry,
    attemptTimeoutMs: 1000,
    maxAttempts: 4,
    backoffBaseMs: 100,
    pdjsRetryDelayMs: 1,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...extra,
  });
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as Array<{ labels: Record<string, string>; value: number }> | undefined)?.find((x) =>
    Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value ?? NaN;
}

beforeEach(async () => {
  pd = await startPagerDutyDouble();
  registry = new Registry();
  sleeps.length = 0;
  client = newClient();
});
afterEach(async () => {
  client.close();
  await pd.close();
});

const trigger = (summary = 'HighErrorRate on telehealth-api', dedup = 'telehealth/test/1') =>
  ({
    routing_key: KEY,
    event_action: 'trigger',
    dedup_key: dedup,
    payload: { summary, source: 'telehealth-api', severity: 'critical' },
  }) as const;

test('a trigger is accepted (202) and arrives as sent, with the metrics counting it', async () => {
  const r = await client.send(trigger());
  expect(r).toEqual({ ok: true, status: 202, dedupKey: 'telehealth/test/1', attempts: 1 });
  expect(pd.events).toHaveLength(1);
  expect(pd.events[0]).toMatchObject({
    event_action: 'trigger',
    dedup_key: 'telehealth/test/1',
    payload: { severity: 'critical' },
  });
  expect(
    await metric('telehealth_pagerduty_events_total', { event_action: 'trigger', outcome: 'sent' }),
  ).toBe(1);
  expect(
    await metric('telehealth_pagerduty_events_total', { event_action: 'resolve', outcome: 'failed' }),
  ).toBe(0);
});

test('summary is cut to 1024 characters and a long dedup_key becomes a stable hash that resolve reuses', async () => {
  const pager = createPager({ client, routingKey: KEY, source: 'telehealth-collector' });
  const longKey = `audit-chain/${'x'.repeat(400)}`;
  const t = await pager.trigger(longKey, 'S'.repeat(5000), { rows: 3 });
  const r = await pager.resolve(longKey);
  expect(t.ok && r.ok).toBe(true);
  const [sent, resolved] = pd.events;
  expect(sent!.payload!.summary).toHaveLength(1024);
  expect(sent!.payload!.summary.endsWith('…')).toBe(true);
  expect(sent!.dedup_key.length).toBeLessThanOrEqual(MAX_DEDUP_KEY);
  expect(resolved!.event_action).toBe('resolve');
  expect(resolved!.dedup_key).toBe(sent!.dedup_key);
  expect(sent!.payload!.custom_details).toEqual({ rows: 3 });
});

test('5xx is retried with backoff and delivered once', async () => {
  pd.script({ kind: 'status', status: 500 }, { kind: 'status', status: 503 });
  const r = await client.send(trigger());
  expect(r).toMatchObject({ ok: true, attempts: 3 });
  expect(pd.events).toHaveLength(1);
  expect(pd.requests.map((q) => q.status)).toEqual([500, 503, 202]);
  // Full jitter with random 0.5: half of 100, then half of 200.
  expect(sleeps).toEqual([50, 100]);
  expect(await metric('telehealth_pagerduty_attempt_failures_total', { reason: 'server_error' })).toBe(2);
});

test('429 is retried: pdjs re-sends it three times itself, then our loop retries', async () => {
  pd.script(...Array.from({ length: 4 }, () => ({ kind: 'status' as const, status: 429 })));
  const r = await client.send(trigger());
  expect(r).toMatchObject({ ok: true, attempts: 2 });
  expect(pd.requests.map((q) => q.status)).toEqual([429, 429, 429, 429, 202]);
  expect(await metric('telehealth_pagerduty_attempt_failures_total', { reason: 'rate_limited' })).toBe(1);
});

test("400 is not retried and the reason names PagerDuty's message", async () => {
  pd.script({
    kind: 'status',
    status: 400,
    body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: ['x'] }),
  });
  const r = await client.send(trigger());
  expect(r).toMatchObject({ ok: false, reason: 'rejected', status: 400, attempts: 1 });
  expect(r.ok ? '' : r.message).toContain('Event object is invalid');
  expect(pd.requests).toHaveLength(1);
  expect(
    await metric('telehealth_pagerduty_events_total', { event_action: 'trigger', outcome: 'failed' }),
  ).toBe(1);
});

test('a hung request is cut by the per-attempt timeout and retried', async () => {
  client.close();
  client = newClient({ attemptTimeoutMs: 300 });
  pd.script({ kind: 'hang' });
  const started = Date.now();
  const r = await client.send(trigger());
  expect(r).toMatchObject({ ok: true, attempts: 2 });
  expect(Date.now() - started).toBeLessThan(3000);
  expect(await metric('telehealth_pagerduty_attempt_failures_total', { reason: 'timeout' })).toBe(1);
});

test('a malformed answer and a reset connection are retried', async () => {
  pd.script({ kind: 'malformed' }, { kind: 'reset' });
  const r = await client.send(trigger());
  expect(r).toMatchObject({ ok: true, attempts: 3 });
  expect(await metric('telehealth_pagerduty_attempt_failures_total', { reason: 'network' })).toBe(2);
});

test('retries stop after maxAttempts with the last reason', async () => {
  pd.script(...Array.from({ length: 10 }, () => ({ kind: 'status' as const, status: 502 })));
  const r = await client.send(trigger());
  expect(r).toMatchObject({ ok: false, reason: 'exhausted', status: 502, attempts: 4 });
  expect(pd.requests).toHaveLength(4);
  expect(sleeps).toEqual([50, 100, 200]);
});

test('invalid events are refused before sending: wrong key length, bad severity, > 512 KB', async () => {
  const badKey = await client.send({ ...trigger(), routing_key: 'short' });
  const badSeverity = await client.send({
    ...trigger(),
    payload: { summary: 's', source: 'x', severity: 'fatal' as 'critical' },
  });
  const huge = await client.send({
    ...trigger(),
    payload: {
      summary: 's',
      source: 'x',
      severity: 'info',
      custom_details: { blob: 'x'.repeat(600 * 1024) },
    },
  });
  for (const r of [badKey, badSeverity, huge])
    expect(r).toMatchObject({ ok: false, reason: 'invalid', attempts: 0 });
  expect(badKey.ok ? '' : badKey.message).toContain('routing_key');
  expect(badKey.ok ? '' : badKey.message).not.toContain('short');
  expect(huge.ok ? '' : huge.message).toContain('524288');
  expect(pd.requests).toHaveLength(0);
  expect(
    await metric('telehealth_pagerduty_events_total', { event_action: 'trigger', outcome: 'invalid' }),
  ).toBe(3);
});

describe('the double enforces the Events API contract', () => {
  function post(body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        `https://${pd.server}/v2/enqueue`,
        { method: 'POST', ca: pd.ca, headers: { 'content-type': 'application/json' } },
        (res) => {
          let data = '';
          res.on('data', (c) => (data += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  test('missing source, long summary, long dedup_key and bad action are 400 with the reasons', async () => {
    const r = await post(
      JSON.stringify({
        routing_key: KEY,
        event_action: 'trigger',
        dedup_key: 'k'.repeat(256),
        payload: { summary: 's'.repeat(1025), severity: 'critical' },
      }),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).errors).toEqual([
      'dedup_key must be a string of at most 255 characters',
      'payload.summary must be at most 1024 characters',
      'payload.source is required',
    ]);
    expect((await post('{"routing_key": 1, "event_action": "page"}')).status).toBe(400);
    expect((await post('not json')).status).toBe(400);
    expect((await post(JSON.stringify({ routing_key: KEY, event_action: 'resolve' }))).status).toBe(400);
    expect(pd.events).toHaveLength(0);
  });

  test('over 512 KB is 413; a valid trigger without dedup_key gets one', async () => {
    expect((await post(JSON.stringify({ pad: 'x'.repeat(513 * 1024) }))).status).toBe(413);
    const ok = await post(
      JSON.stringify({
        routing_key: KEY,
        event_action: 'trigger',
        payload: { summary: 's', source: 'x', severity: 'info' },
      }),
    );
    expect(ok.status).toBe(202);
    expect(JSON.parse(ok.body)).toMatchObject({ status: 'success', message: 'Event processed' });
    expect(JSON.parse(ok.body).dedup_key).toHaveLength(32);
  });
});
