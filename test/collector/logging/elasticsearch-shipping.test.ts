/**
 * Shipping to Elasticsearch through an outage, against the _bulk double. The outage is made long
 * enough that a stock pino-elasticsearch stream dies for good (checked side by side), but with
 * short timings so the test takes seconds instead of the 45 s of the field note.
 */
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import pinoElasticsearch from 'pino-elasticsearch';
import { Registry } from 'prom-client';
import { createLogger, logCountersFromRegistry, type Logger } from '../../../collector/logging';
import { startElasticsearchDouble, type ElasticsearchDouble } from '../../support/elasticsearch-double';
import { tick } from './capture-target';

jest.setTimeout(60_000);

const FAST = {
  flushIntervalMs: 100,
  stallTimeoutMs: 2000,
  backoffInitialMs: 100,
  backoffMaxMs: 400,
  requestTimeoutMs: 1000,
};

type TargetOptions = Omit<
  Exclude<Parameters<typeof createLogger>[0]['elasticsearch'], 'env' | false | undefined>,
  'node'
>;

/** A logger that ships only to `es` (FAST timings, then `options`), counting into its own registry. */
function shippingLogger(
  es: ElasticsearchDouble,
  options: TargetOptions = {},
  extra: { elasticsearchBufferBytes?: number } = {},
): { log: Logger; registry: Registry } {
  const registry = new Registry();
  const log = createLogger({
    serviceName: 'svc',
    destination: 'none',
    elasticsearch: { node: es.url, ...FAST, ...options },
    ...extra,
    counters: logCountersFromRegistry(registry),
  });
  return { log, registry };
}

async function metric(registry: Registry, name: string, reason?: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values
    .filter((v) => reason === undefined || v.labels.reason === reason)
    .reduce((n, v) => n + v.value, 0);
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return true;
    await tick(50);
  }
  return check();
}

function shipped(es: ElasticsearchDouble, phase: string): number {
  return es.documents().filter((d) => d.source['event.action'] === phase).length;
}

function writeLines(log: Logger, phase: 'before' | 'during' | 'after', n: number): void {
  for (let i = 0; i < n; i++) log.info({ 'event.action': phase, 'telehealth.count': i }, 'shipped line');
}

let es: ElasticsearchDouble;
afterEach(async () => {
  await es.close();
});

describe('Elasticsearch shipping', () => {
  test('stock pino-elasticsearch after an outage ships nothing again (the failure being fixed)', async () => {
    es = await startElasticsearchDouble();
    // The same client timings as our target below (1 retry, 1 s timeout): with the defaults
    // (3 retries, 30 s) the stock stream needs the field note's ~45 s outage to die.
    const clients: Client[] = [];
    class ShortTimeouts extends Client {
      constructor(o: ClientOptions) {
        super({ ...o, maxRetries: 1, requestTimeout: FAST.requestTimeoutMs });
        clients.push(this);
      }
    }
    const create = pinoElasticsearch as unknown as (
      o: object,
      deps: { Client: typeof Client },
    ) => NodeJS.WritableStream & {
      on(e: string, f: (...a: unknown[]) => void): void;
    };
    const stream = create(
      { node: es.url, index: 'stock-%{DATE}', esVersion: 8, flushInterval: FAST.flushIntervalMs },
      { Client: ShortTimeouts },
    );
    const errors: unknown[] = [];
    stream.on('error', (e) => errors.push(e));
    stream.write(JSON.stringify({ '@timestamp': new Date().toISOString(), phase: 'before' }) + '\n');
    expect(await waitFor(() => es.documents().length === 1, 3000)).toBe(true);
    await es.down('refuse');
    for (let i = 0; i < 10; i++)
      stream.write(JSON.stringify({ '@timestamp': new Date().toISOString(), phase: 'during' }) + '\n');
    await waitFor(() => errors.length > 0, 8000);
    await es.up();
    for (let i = 0; i < 10; i++)
      stream.write(JSON.stringify({ '@timestamp': new Date().toISOString(), phase: 'after' }) + '\n');
    await tick(1500);
    expect(errors.length).toBeGreaterThan(0);
    expect(es.documents().filter((d) => d.source.phase === 'after')).toHaveLength(0);
    (
      stream as unknown as { removeAllListeners(): void; on(e: string, f: () => void): void }
    ).removeAllListeners();
    stream.on('error', () => undefined);
    await Promise.all(clients.map((c) => c.close()));
  });

  test('survives the outage: lines written after recovery arrive, losses and errors are counted', async () => {
    es = await startElasticsearchDouble();
    const { log, registry } = shippingLogger(es, { index: 'logs-%{DATE}' });
    writeLines(log, 'before', 200);
    expect(await waitFor(() => shipped(es, 'before') === 200, 5000)).toBe(true);

    await es.down('refuse');
    writeLines(log, 'during', 300);
    // Longer than the stock stream survives (above), and several reconnection attempts.
    await tick(3000);
    expect(await metric(registry, 'telehealth_log_shipping_errors_total')).toBeGreaterThan(0);
    await es.up();

    writeLines(log, 'after', 200);
    expect(await waitFor(() => shipped(es, 'after') === 200, 10_000)).toBe(true);
    const result = await log.close(3000);
    expect(result.lostLines).toBe(0);

    // Every "during" line was either shipped or counted as dropped. (Typically most of them are
    // shipped after recovery: they waited in the bounded buffer, not in the dead stream.)
    const stats = log.stats().sinks[0]!;
    expect(shipped(es, 'during')).toBeGreaterThan(0);
    const droppedDuring = stats.droppedLines.sink_error + stats.droppedLines.buffer_full;
    expect(shipped(es, 'during') + droppedDuring).toBe(300);
    expect(await metric(registry, 'telehealth_log_lines_dropped_total')).toBe(droppedDuring);
    // Nothing shipped twice.
    const keys = es
      .documents()
      .map((d) => `${String(d.source['event.action'])}:${String(d.source['telehealth.count'])}`);
    expect(new Set(keys).size).toBe(keys.length);
    // The documents are the ECS lines.
    expect(es.documents('logs-' + new Date().toISOString().slice(0, 10))[0]!.source).toMatchObject({
      'service.name': 'svc',
      'log.level': 'info',
      message: 'shipped line',
    });
  });

  test('an outage answered with 503 is survived as well', async () => {
    es = await startElasticsearchDouble();
    const { log, registry } = shippingLogger(es);
    writeLines(log, 'before', 10);
    expect(await waitFor(() => shipped(es, 'before') === 10, 5000)).toBe(true);
    await es.down('503');
    writeLines(log, 'during', 50);
    await tick(2500);
    await es.up();
    writeLines(log, 'after', 50);
    expect(await waitFor(() => shipped(es, 'after') === 50, 10_000)).toBe(true);
    await log.close(2000);
    const stats = log.stats().sinks[0]!;
    expect(shipped(es, 'during') + stats.droppedLines.sink_error + stats.droppedLines.buffer_full).toBe(50);
    expect(await metric(registry, 'telehealth_log_shipping_errors_total')).toBeGreaterThan(0);
  });

  test('a stream that stops answering (no error at all) is detected as stalled and rebuilt', async () => {
    es = await startElasticsearchDouble();
    // Requests would time out only after 20 s: the stall detector (1 s) must act first.
    const { log, registry } = shippingLogger(es, { requestTimeoutMs: 20_000, stallTimeoutMs: 1000 });
    writeLines(log, 'before', 10);
    expect(await waitFor(() => shipped(es, 'before') === 10, 5000)).toBe(true);
    await es.down('hang');
    writeLines(log, 'during', 20);
    await waitFor(() => false, 2500);
    const errorsWhileHung = await metric(registry, 'telehealth_log_shipping_errors_total');
    await es.up();
    writeLines(log, 'after', 20);
    expect(await waitFor(() => shipped(es, 'after') === 20, 10_000)).toBe(true);
    await log.close(2000);
    expect(errorsWhileHung).toBeGreaterThan(0);
    const stats = log.stats().sinks[0]!;
    expect(shipped(es, 'during') + stats.droppedLines.sink_error + stats.droppedLines.buffer_full).toBe(20);
  });

  test('memory stays bounded while Elasticsearch is down: the overflow is counted as buffer_full', async () => {
    es = await startElasticsearchDouble();
    await es.down('refuse');
    const cap = 64 * 1024;
    const { log, registry } = shippingLogger(es, {}, { elasticsearchBufferBytes: cap });
    writeLines(log, 'during', 5000);
    await tick(300);
    writeLines(log, 'during', 5000);
    const stats = log.stats().sinks[0]!;
    expect(stats.peakBufferedBytes).toBeLessThanOrEqual(cap);
    expect(stats.droppedLines.buffer_full).toBeGreaterThan(9000);
    expect(await metric(registry, 'telehealth_log_lines_dropped_total', 'buffer_full')).toBe(
      stats.droppedLines.buffer_full,
    );
    const started = Date.now();
    await log.close(1000);
    expect(Date.now() - started).toBeLessThan(2500);
    const after = log.stats().sinks[0]!;
    expect(after.droppedLines.buffer_full + after.droppedLines.sink_error).toBe(10_000);
  });

  test('documents Elasticsearch refuses are counted as sink_error drops and shipping errors', async () => {
    es = await startElasticsearchDouble({ rejectDocument: (doc) => doc['telehealth.count'] === 3 });
    const { log, registry } = shippingLogger(es);
    writeLines(log, 'before', 10);
    expect(await waitFor(() => shipped(es, 'before') === 9, 5000)).toBe(true);
    await log.close(2000);
    expect(await metric(registry, 'telehealth_log_lines_dropped_total', 'sink_error')).toBe(1);
    expect(await metric(registry, 'telehealth_log_shipping_errors_total')).toBe(1);
    expect(es.requests().every((r) => r.status === 200)).toBe(true);
  });

  test('a _bulk answered 429 (overloaded) is re-sent with backoff until accepted: nothing is dropped', async () => {
    // More 429s than the 3 attempts a failed batch gets: a 429 must not be one of those.
    es = await startElasticsearchDouble({ overloadedBulkRequests: 6 });
    const { log, registry } = shippingLogger(es, { overloadBackoffInitialMs: 20, overloadBackoffMaxMs: 200 });
    writeLines(log, 'during', 50);
    expect(await waitFor(() => shipped(es, 'during') === 50, 5000)).toBe(true);
    writeLines(log, 'after', 10);
    expect(await waitFor(() => shipped(es, 'after') === 10, 3000)).toBe(true);
    expect((await log.close(2000)).lostLines).toBe(0);
    expect(await metric(registry, 'telehealth_log_lines_dropped_total')).toBe(0);
    // Each 429 is a failed shipping request; the same documents were re-sent, stored once.
    expect(es.requests().filter((r) => r.status === 429)).toHaveLength(6);
    expect(await metric(registry, 'telehealth_log_shipping_errors_total')).toBe(6);
    expect(es.documents()).toHaveLength(60);
    // The backoff doubles up to its cap, with jitter (half to all of it): 20, 40, 80, 160, 200, 200.
    const at = es.requests().map((r) => r.at);
    expect(at[6]! - at[0]!).toBeGreaterThanOrEqual(0.5 * (20 + 40 + 80 + 160 + 200 + 200) - 5);
  });

  test("a 429's Retry-After is honoured, up to overloadBackoffMaxMs", async () => {
    es = await startElasticsearchDouble({ overloadedBulkRequests: 1, retryAfter: '1' });
    const { log } = shippingLogger(es, { overloadBackoffInitialMs: 10, overloadBackoffMaxMs: 5000 });
    writeLines(log, 'during', 5);
    expect(await waitFor(() => shipped(es, 'during') === 5, 5000)).toBe(true);
    const [rejected, accepted] = es.requests();
    expect(rejected!.status).toBe(429);
    expect(accepted!.at - rejected!.at).toBeGreaterThanOrEqual(990);
    await log.close(1000);
    await es.close();

    // A Retry-After of an hour is capped.
    es = await startElasticsearchDouble({ overloadedBulkRequests: 1, retryAfter: '3600' });
    const { log: capped } = shippingLogger(es, { overloadBackoffInitialMs: 10, overloadBackoffMaxMs: 300 });
    writeLines(capped, 'during', 5);
    expect(await waitFor(() => shipped(es, 'during') === 5, 3000)).toBe(true);
    expect((await capped.close(1000)).lostLines).toBe(0);
  });

  test('a long 429 overload: lines wait in the bounded queue, its overflow is buffer_full, none is sink_error', async () => {
    es = await startElasticsearchDouble();
    await es.down('429');
    // Backoffs (0.5 to 1 s) longer than the stall timeout: a 429 backoff is not a stall.
    const { log, registry } = shippingLogger(
      es,
      { stallTimeoutMs: 300, overloadBackoffInitialMs: 1000, overloadBackoffMaxMs: 1000 },
      { elasticsearchBufferBytes: 64 * 1024 },
    );
    writeLines(log, 'during', 100);
    await tick(3000);
    writeLines(log, 'during', 2000);
    const stats = log.stats().sinks[0]!;
    expect(stats.droppedLines.sink_error).toBe(0);
    expect(stats.droppedLines.buffer_full).toBeGreaterThan(0);
    // One shipping error per 429, none from a stall or a rebuilt stream.
    const rejected = es.requests().filter((r) => r.status === 429).length;
    expect(rejected).toBeGreaterThanOrEqual(3);
    expect(await metric(registry, 'telehealth_log_shipping_errors_total')).toBe(rejected);
    await es.up();
    // What waited in the queue ships, then new lines do.
    expect(await waitFor(() => log.stats().sinks[0]!.bufferedLines === 0, 5000)).toBe(true);
    writeLines(log, 'after', 10);
    expect(await waitFor(() => shipped(es, 'after') === 10, 5000)).toBe(true);
    expect((await log.close(2000)).lostLines).toBe(0);
    const after = log.stats().sinks[0]!;
    expect(after.droppedLines.sink_error).toBe(0);
    expect(shipped(es, 'during') + after.droppedLines.buffer_full).toBe(2100);
    expect(await metric(registry, 'telehealth_log_lines_dropped_total', 'sink_error')).toBe(0);
  });

  test('close() during a 429 backoff ends by its deadline and counts the held lines as sink_error', async () => {
    es = await startElasticsearchDouble();
    await es.down('429');
    const { log } = shippingLogger(es, { overloadBackoffInitialMs: 20_000, overloadBackoffMaxMs: 20_000 });
    writeLines(log, 'during', 10);
    expect(await waitFor(() => es.requests().length > 0, 3000)).toBe(true);
    const started = Date.now();
    const result = await log.close(500);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.lostLines).toBe(10);
    expect(log.stats().sinks[0]!.droppedLines.sink_error).toBe(10);
  });

  test('documents still answered 429 after the bulk helper re-sent them are counted at once, and shipping goes on', async () => {
    es = await startElasticsearchDouble({ overloadDocument: (doc) => doc['telehealth.count'] === 3 });
    // The stall timer (30 s) must not be what ends the batch.
    const { log, registry } = shippingLogger(es, { stallTimeoutMs: 30_000, itemRetryWaitMs: 100 });
    const started = Date.now();
    writeLines(log, 'before', 10);
    expect(await waitFor(() => log.stats().sinks[0]!.droppedLines.sink_error === 1, 3000)).toBe(true);
    expect(shipped(es, 'before')).toBe(9);
    writeLines(log, 'after', 10);
    expect(await waitFor(() => shipped(es, 'after') === 9, 3000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(6000);
    await log.close(2000);
    // The helper re-sent each 429 document once before giving up on it.
    expect(es.requests().filter((r) => r.documents === 1)).toHaveLength(2);
    expect(await metric(registry, 'telehealth_log_lines_dropped_total', 'sink_error')).toBe(2);
    expect(await metric(registry, 'telehealth_log_shipping_errors_total')).toBe(2);
  });
});
