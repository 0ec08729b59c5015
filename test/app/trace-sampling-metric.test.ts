/**
 * The service exports its tracer's head-sampling decisions when tracing runs. No SDK is started
 * here: a sampler that samples nothing is installed as the preload's would be, and the service's
 * traceServer() consults it for every request.
 */
import request from 'supertest';
import { TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { RequestSampler } from '../../collector/tracing';
import { defaultBackend, metricValue, startTestService, type TestService } from './helpers';

describe('trace sampling decisions on the service', () => {
  let t: TestService;

  beforeAll(async () => {
    RequestSampler.install(new RequestSampler(new TraceIdRatioBasedSampler(0), new Set(['/api/health'])));
    t = await startTestService(defaultBackend());
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    RequestSampler.install(undefined);
  });

  test('each request counts as not sampled, probes not at all', async () => {
    const metric = 'telehealth_trace_sampling_decisions_total';
    expect(await metricValue(t, metric, { decision: 'not_sampled' })).toBe(0);
    const api = t.service.apiUrl;
    for (let i = 0; i < 3; i += 1) expect((await request(api).get('/api/ping')).status).toBe(200);
    expect((await request(api).get('/api/health')).status).toBe(200);
    expect(await metricValue(t, metric, { decision: 'not_sampled' })).toBe(3);
    expect(await metricValue(t, metric, { decision: 'sampled' })).toBe(0);
    expect(await metricValue(t, metric, { decision: 'rate_limited' })).toBe(0);
  });
});
