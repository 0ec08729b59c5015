/**
 * Logger.compile(): a line compiled for fixed fields is the line the level method writes for the
 * same values (same keys, same order, same ECS prefix and child bindings), and it applies the same
 * allow-list checks, counts refused values, honours the level and adds the active trace context.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger, logAccess, type LogFields } from '../../../collector/logging';
import { captureTarget } from './capture-target';

const NAMES = [
  'event.action',
  'event.outcome',
  'http.request.method',
  'url.path',
  'http.response.status_code',
  'event.duration',
  'trace.id',
  'span.id',
] as const;

/** The line without its @timestamp (two lines are never written in the same millisecond reliably). */
const untimed = (line: string) => line.replace(/,"@timestamp":"[^"]*"/, '');

function pair(values: LogFields, level: 'info' | 'debug' = 'info') {
  const target = captureTarget();
  const log = createLogger({
    serviceName: 'svc',
    serviceVersion: '1.2.3',
    serviceEnvironment: 'test',
    target,
    elasticsearch: false,
  }).child({ 'labels.component': 'api' });
  log[level](values, 'request completed');
  log.compile(level, NAMES, 'request completed')(values);
  return { log, target };
}

describe('Logger.compile', () => {
  test('writes the same line as the generic path, byte for byte apart from the time', async () => {
    const { log, target } = pair({
      'event.action': 'http_request',
      'event.outcome': 'success',
      'http.request.method': 'GET',
      'url.path': '/api/patients/:id',
      'http.response.status_code': 200,
      'event.duration': 1234567,
      'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736',
      'span.id': '00f067aa0ba902b7',
    });
    await log.close();
    const [generic, compiled] = target.text().split('\n');
    expect(compiled).toMatch(/^\{"log\.level":"info","@timestamp":"\d{4}-\d\d-\d\dT[\d:.]+Z",/);
    expect(untimed(compiled!)).toBe(untimed(generic!));
    expect(JSON.parse(compiled!)).toMatchObject({ 'labels.component': 'api', 'service.version': '1.2.3' });
  });

  test('refuses the same values as the allow-list (concrete paths, bad ids) and counts them', async () => {
    const { log, target } = pair({
      'event.action': 'http request with spaces',
      'http.request.method': 'BREW' as never,
      'url.path': '/api/patients/8812345',
      'http.response.status_code': 1000,
      'event.duration': -1,
      'trace.id': 'not-a-trace-id',
      'span.id': undefined,
    });
    await log.close();
    const [generic, compiled] = target.text().split('\n');
    expect(untimed(compiled!)).toBe(untimed(generic!));
    expect(compiled).not.toContain('8812345');
    expect(JSON.parse(compiled!)['http.request.method']).toBe('_OTHER');
    // Five refused per line, for both lines.
    expect(log.stats().fieldsDropped).toBe(10);
  });

  test('a level below the configured one writes nothing', async () => {
    const { log, target } = pair({ 'event.action': 'http_request' }, 'debug');
    await log.close();
    expect(target.text()).toBe('');
  });

  describe('with a context manager', () => {
    beforeAll(() => {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    });
    afterAll(() => {
      context.disable();
    });

    test('without trace ids in its values, it takes those of the active span, as the generic path does', async () => {
      const spanContext = {
        traceId: '5bf92f3577b34da6a3ce929d0e0e4737',
        spanId: '10f067aa0ba902b8',
        traceFlags: TraceFlags.NONE,
      };
      const { log, target } = context.with(trace.setSpanContext(context.active(), spanContext), () =>
        pair({ 'event.action': 'http_request', 'url.path': '/api/ping' }),
      );
      await log.close();
      const [generic, compiled] = target.text().split('\n');
      expect(untimed(compiled!)).toBe(untimed(generic!));
      expect(JSON.parse(compiled!)).toMatchObject({
        'trace.id': spanContext.traceId,
        'span.id': spanContext.spanId,
      });
    });
  });

  test('a name outside the allow-list is refused when compiling', () => {
    const log = createLogger({ serviceName: 'svc', target: captureTarget(), elasticsearch: false });
    expect(() => log.compile('info', ['patient.name' as never], 'x')).toThrow(/allow-listed/);
  });

  test('logAccess writes the access line through it', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    logAccess(log, { method: 'PATCH', route: '/api/patients/:id', statusCode: 503, durationNs: 42 });
    await log.close();
    expect(target.lines()).toEqual([
      expect.objectContaining({
        'event.action': 'http_request',
        'event.category': 'web',
        'event.outcome': 'failure',
        'http.request.method': 'PATCH',
        'url.path': '/api/patients/:id',
        'http.response.status_code': 503,
        'event.duration': 42,
        message: 'request completed',
      }),
    ]);
  });
});
