import type { IncomingMessage } from 'node:http';
import { propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOnSampler, TraceIdRatioBasedSampler, ParentBasedSampler } from '@opentelemetry/sdk-trace';
import {
  RateLimitedSampler,
  registerTraceSamplingMetrics,
  RequestSampler,
  type TraceSamplingCounts,
} from '../../../collector/tracing';
import { createTelemetry } from '../../../exporter';

const request = (url: string, headers: Record<string, string> = {}): IncomingMessage =>
  ({ url, method: 'GET', headers }) as unknown as IncomingMessage;

async function samples(render: () => Promise<string>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await render()).matchAll(
    /^telehealth_trace_sampling_decisions_total\{decision="(\w+)"\} (\d+)$/gm,
  )) {
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

describe('head-sampling decisions, counted', () => {
  beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
  afterAll(() => propagation.disable());
  afterEach(() => RequestSampler.install(undefined));

  test('each decision is counted in one process-wide total, which a restarted tracer continues', () => {
    const before = RequestSampler.decisionCounts();
    const delta = () => {
      const now = RequestSampler.decisionCounts();
      return {
        sampled: now.sampled - before.sampled,
        not_sampled: now.not_sampled - before.not_sampled,
        rate_limited: now.rate_limited - before.rate_limited,
      };
    };
    // A stopped clock: the bucket's two tokens are all there is.
    const capped = new RequestSampler(
      new ParentBasedSampler({ root: new RateLimitedSampler(new AlwaysOnSampler(), 2, () => 0) }),
      new Set(['/api/health']),
    );
    RequestSampler.install(capped);
    for (let i = 0; i < 5; i += 1) capped.decide(request(`/api/things/${i}`));
    capped.decide(request('/api/health'));
    // A caller's "not sampled" is a not_sampled decision, not the cap's; its "sampled" passes the cap.
    const tp = (flags: string) => ({
      traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${flags}`,
    });
    capped.decide(request('/api/things/9', tp('00')));
    capped.decide(request('/api/things/9', tp('01')));
    expect(delta()).toEqual({ sampled: 3, not_sampled: 1, rate_limited: 3 });

    // Tracing stopped and started again: a new sampler, the same totals.
    RequestSampler.install(undefined);
    const never = new RequestSampler(new TraceIdRatioBasedSampler(0), new Set());
    RequestSampler.install(never);
    for (let i = 0; i < 4; i += 1) never.decide(request('/x'));
    expect(delta()).toEqual({ sampled: 3, not_sampled: 5, rate_limited: 3 });
  });

  test('the counter starts at 0 for every decision and adds what was decided between scrapes', async () => {
    const telemetry = createTelemetry({ defaultMetrics: false });
    // Decisions made before the counter was registered are not counted.
    let counts: TraceSamplingCounts = { sampled: 7, not_sampled: 70, rate_limited: 1 };
    expect(registerTraceSamplingMetrics(telemetry, { running: () => true, read: () => counts })).toBe(true);
    const render = () => telemetry.render();
    expect(await samples(render)).toEqual({ sampled: 0, not_sampled: 0, rate_limited: 0 });
    counts = { sampled: 10, not_sampled: 110, rate_limited: 6 };
    expect(await samples(render)).toEqual({ sampled: 3, not_sampled: 40, rate_limited: 5 });
    counts = { sampled: 11, not_sampled: 111, rate_limited: 6 };
    expect(await samples(render)).toEqual({ sampled: 4, not_sampled: 41, rate_limited: 5 });
  });

  test('registers nothing when tracing is not running', async () => {
    const telemetry = createTelemetry({ defaultMetrics: false });
    expect(registerTraceSamplingMetrics(telemetry)).toBe(false); // no sampler installed here
    expect(await telemetry.render()).not.toContain('trace_sampling_decisions_total');
  });
});
