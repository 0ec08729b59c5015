/**
 * The simulator's scenarios move the metrics the alerts watch, read from /metrics before and
 * after each run: failed logins > 10/min, PHI denials > 5/min, 5xx ratio > 5%, p95 > 2 s.
 */
import { runScenario, type Scenario } from '../../app';
import { defaultBackend, startTestService, type TestService } from './helpers';

type Samples = Array<{ name: string; labels: string; value: number }>;

async function scrape(url: string): Promise<Samples> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const out: Samples = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([^ ]+)/.exec(line);
    if (m) out.push({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

function sum(s: Samples, name: string, match: (labels: string) => boolean = () => true): number {
  return s.filter((x) => x.name === name && match(x.labels)).reduce((n, x) => n + x.value, 0);
}

const EVENTS = 'telehealth_events_total';
const REQUESTS = 'telehealth_http_requests_total';
const BUCKET = 'telehealth_http_request_duration_seconds_bucket';
const COUNT = 'telehealth_http_request_duration_seconds_count';
const api = (labels: string) => !labels.includes('route="/api/_faults"');

describe(`simulator scenarios move the metrics (${defaultBackend()})`, () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService(defaultBackend(), { faultInjection: true });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
  }, 60_000);

  async function run(scenario: Scenario, durationSeconds: number, rate = 10) {
    const before = await scrape(t.service.metricsUrl!);
    const summary = await runScenario({
      target: t.service.apiUrl,
      scenario,
      rate,
      durationSeconds,
      credentials: t.service.credentials!,
    });
    const after = await scrape(t.service.metricsUrl!);
    const delta = (name: string, match?: (l: string) => boolean) =>
      sum(after, name, match) - sum(before, name, match);
    return { summary, delta, minutes: durationSeconds / 60 };
  }

  it('normal: logins with TOTP, PHI reads, orders and payments, no 5xx', async () => {
    // 8 s: an order is one action in ten, chosen at random; in 4 s (about 35 actions) a run made none
    // about one time in thirty (0.9^35), seen in a full run.
    const { summary, delta } = await run('normal', 8);
    expect(summary.requests).toBeGreaterThanOrEqual(70);
    expect(summary.byStatus['500'] ?? 0).toBe(0);
    expect(summary.byAction.login?.byStatus['200']).toBeGreaterThan(0);
    expect(delta(EVENTS, (l) => l.includes('event_type="phi_access"'))).toBeGreaterThan(0);
    expect(delta(EVENTS, (l) => l.includes('event_type="order_created"'))).toBeGreaterThan(0);
    // Each order is invoiced in the same action.
    expect(delta(EVENTS, (l) => l.includes('event_type="invoice_issued"'))).toBeGreaterThan(0);
    // The simulator fulfils only paid orders and cancels only unpaid ones: never a 409, and each change
    // is one event (how many of each a run makes is left to chance: a few actions in a hundred; the API
    // tests report each deterministically).
    const done = (action: string) => summary.byAction[action]?.byStatus['200'] ?? 0;
    for (const action of ['fulfil_order', 'cancel_order', 'fill_prescription'])
      expect({ action, statuses: Object.keys(summary.byAction[action]?.byStatus ?? {}) }).toEqual({
        action,
        statuses: summary.byAction[action] ? ['200'] : [],
      });
    const reported = (type: string, reason: string) =>
      delta(EVENTS, (l) => l.includes(`event_type="${type}"`) && l.includes(`reason="${reason}"`));
    expect({
      fulfilled: reported('order_updated', 'fulfilled'),
      cancelled: reported('order_updated', 'cancelled'),
      voided: reported('invoice_voided', 'order_cancelled'),
      filled: reported('prescription_filled', 'none'),
    }).toEqual({
      fulfilled: done('fulfil_order'),
      cancelled: done('cancel_order'),
      voided: done('cancel_order'),
      filled: done('fill_prescription'),
    });
    expect(delta(REQUESTS, (l) => /status_code="5/.test(l))).toBe(0);
    expect(summary.latency.p50Ms).toBeGreaterThan(0);
  }, 60_000);

  it('credential-stuffing: more than 10 failed logins per minute', async () => {
    const { summary, delta, minutes } = await run('credential-stuffing', 4);
    const failed = delta(EVENTS, (l) => l.includes('event_type="authn_login_fail"'));
    expect(failed).toBeGreaterThanOrEqual(summary.failedLogins);
    expect(failed / minutes).toBeGreaterThan(10);
  }, 60_000);

  it('phi-snooping: more than 5 PHI denials per minute', async () => {
    const { summary, delta, minutes } = await run('phi-snooping', 4);
    const denied = delta(EVENTS, (l) => l.includes('event_type="authz_fail"'));
    expect(denied).toBe(summary.phiDenied);
    expect(denied / minutes).toBeGreaterThan(5);
  }, 60_000);

  it('error-spike: more than 5% of requests answer 5xx, and the fault is off afterwards', async () => {
    const { summary, delta } = await run('error-spike', 4);
    const total = delta(REQUESTS, api);
    const errors = delta(REQUESTS, (l) => api(l) && /status_code="5/.test(l));
    expect(errors / total).toBeGreaterThan(0.05);
    expect(summary.serverErrorRatio).toBeGreaterThan(0.05);
    expect(t.service.faults!.state().active).toBe(false);
  }, 60_000);

  it('latency-spike: p95 above 2 s (fewer than 95% of requests within the 2 s bucket)', async () => {
    const { summary, delta } = await run('latency-spike', 4);
    const count = delta(COUNT, api);
    const within2s = delta(BUCKET, (l) => api(l) && l.includes('le="2"'));
    expect(count).toBeGreaterThan(20);
    expect(within2s / count).toBeLessThan(0.95);
    expect(summary.latency.p95Ms).toBeGreaterThan(2000);
    expect(t.service.faults!.state().active).toBe(false);
  }, 60_000);
});
