/**
 * The allow-list and the ECS shape: unknown fields, PHI-looking values and error details never
 * reach the output, whatever path they take (fields, nested objects, errors, child bindings,
 * messages); trace ids come from the active span.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger, errorType, sanitiseFields, type LogFields } from '../../../collector/logging';
import { captureTarget, tick } from './capture-target';

const CANARIES = {
  name: 'Zebediah Canaryfield',
  ssn: '987-65-4320',
  email: 'zebediah.canary@example.org',
  phone: '+1 (555) 010-9999',
  dob: '1931-02-29',
  token: 'tok_canary_5f2b9c',
};
const ALL = Object.values(CANARIES);

function expectNoCanary(text: string): void {
  for (const value of ALL) expect(text).not.toContain(value);
  expect(text).not.toMatch(/canary/i);
}

describe('createLogger: allow-list', () => {
  test('writes ECS lines with only allowed fields and drops the rest', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', serviceVersion: '1.0.0', target, elasticsearch: false });
    const fields = {
      'event.action': 'order_created',
      'event.outcome': 'success',
      'http.request.method': 'POST',
      'url.path': '/api/orders/:id',
      'http.response.status_code': 201,
      'event.duration': 1234567,
      'labels.component': 'orders',
      patient: { name: CANARIES.name, ssn: CANARIES.ssn },
      email: CANARIES.email,
      'user.email': CANARIES.email,
      'labels.patient_name': CANARIES.name,
      password: CANARIES.token,
    };
    log.info(fields as LogFields, 'order stored');
    await log.close();
    const [line] = target.lines();
    expect(line).toMatchObject({
      'log.level': 'info',
      'ecs.version': expect.any(String),
      'service.name': 'svc',
      'service.version': '1.0.0',
      'event.action': 'order_created',
      'event.outcome': 'success',
      'http.request.method': 'POST',
      'url.path': '/api/orders/:id',
      'http.response.status_code': 201,
      'event.duration': 1234567,
      'labels.component': 'orders',
      message: 'order stored',
    });
    expect(typeof line!['@timestamp']).toBe('string');
    expect(Object.keys(line!)).not.toEqual(
      expect.arrayContaining(['patient', 'email', 'user.email', 'password', 'labels.patient_name']),
    );
    expectNoCanary(target.text());
    expect(log.stats().fieldsDropped).toBe(5);
  });

  test('values of the wrong shape are dropped: concrete paths, free text in identifiers, unknown methods', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    log.info(
      {
        'url.path': '/api/patients/1234567',
        'event.action': `login ${CANARIES.email}`,
        'event.reason': CANARIES.name,
        'labels.source': CANARIES.phone,
        'http.request.method': 'BREW' as never,
        'http.response.status_code': 9000,
        'trace.id': 'not-a-trace',
        'event.id': CANARIES.token,
      },
      'shapes',
    );
    log.info({ 'url.path': '/api/patients/zebediah.canary@example.org' }, 'email in path');
    await log.close();
    const [line, second] = target.lines();
    expect(line!['url.path']).toBeUndefined();
    expect(line!['event.action']).toBeUndefined();
    expect(line!['http.request.method']).toBe('_OTHER');
    expect(line!['http.response.status_code']).toBeUndefined();
    expect(second!['url.path']).toBeUndefined();
    expectNoCanary(target.text());
  });

  test('errors contribute their class name or code only, never message, stack or properties', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    class PatientLookupError extends Error {
      detail = CANARIES.dob;
    }
    const pgLike = Object.assign(new Error(`duplicate key value (email)=(${CANARIES.email})`), {
      code: '23505',
      detail: CANARIES.ssn,
    });
    const badCode = Object.assign(new Error(CANARIES.name), { code: CANARIES.email });
    log.error(
      { err: new PatientLookupError(`no patient ${CANARIES.name} born ${CANARIES.dob}`) },
      'lookup failed',
    );
    log.error({ err: pgLike }, 'insert failed');
    log.error({ err: badCode }, 'odd code');
    log.error({ err: `thrown string ${CANARIES.ssn}` }, 'string thrown');
    log.error({ err: { message: CANARIES.email, stack: CANARIES.phone } }, 'plain object thrown');
    await log.close();
    const types = target.lines().map((l) => l['error.type']);
    expect(types).toEqual(['PatientLookupError', '23505', 'Error', 'string', 'Error']);
    expectNoCanary(target.text());
    for (const l of target.lines()) {
      expect(l['error.message']).toBeUndefined();
      expect(l['error.stack_trace']).toBeUndefined();
    }
  });

  test('messages: values slipped into them at run time are masked', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    // A JavaScript caller (or a cast) bypasses the string-literal check of the typed API.
    const untyped = log.info as unknown as (f: object, m: string) => void;
    untyped({}, `reset mail sent to ${CANARIES.email} for ${CANARIES.ssn}, call ${CANARIES.phone}`);
    untyped({}, `token %s`);
    await log.close();
    const text = target.text();
    for (const v of [CANARIES.email, CANARIES.ssn, CANARIES.phone]) expect(text).not.toContain(v);
    expect(target.lines()[0]!.message).toContain('[redacted]');
  });

  test('child bindings pass through the same allow-list', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    const child = log.child({ 'labels.component': 'spool', patient: CANARIES.name } as LogFields);
    child.warn({ 'telehealth.count': 3 }, 'replayed');
    await log.close();
    const [line] = target.lines();
    expect(line).toMatchObject({ 'labels.component': 'spool', 'telehealth.count': 3, 'log.level': 'warn' });
    expectNoCanary(target.text());
  });

  test('levels below the configured one are not written', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false, level: 'warn' });
    log.info({}, 'hidden');
    log.debug({}, 'hidden');
    log.warn({}, 'shown');
    await log.close();
    expect(target.lines().map((l) => l.message)).toEqual(['shown']);
  });

  test('sanitiseFields and errorType are usable on their own', () => {
    expect(sanitiseFields({ 'event.action': 'a', foo: 1 })).toEqual({
      fields: { 'event.action': 'a' },
      dropped: 1,
    });
    expect(errorType(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorType(null)).toBe('Unknown');
  });
});

describe('createLogger: trace correlation', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    manager.enable();
    context.setGlobalContextManager(manager);
  });
  afterAll(() => {
    context.disable();
  });

  test('a line written inside an active span carries trace.id and span.id; outside it does not', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    const spanContext = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    };
    await context.with(trace.setSpanContext(context.active(), spanContext), async () => {
      await tick();
      log.info({ 'event.action': 'inside' }, 'in span');
    });
    log.info({ 'event.action': 'outside' }, 'no span');
    await log.close();
    const [inside, outside] = target.lines();
    expect(inside).toMatchObject({ 'trace.id': spanContext.traceId, 'span.id': spanContext.spanId });
    expect(outside!['trace.id']).toBeUndefined();
  });
});

describe('createLogger: nested ECS objects', () => {
  test('nested objects under known namespaces are flattened and checked; others are dropped whole', async () => {
    const target = captureTarget();
    const log = createLogger({ serviceName: 'svc', target, elasticsearch: false });
    // The collector's own log calls use this form (typed as a plain object there).
    const asCollector = log as unknown as { info(obj: object, msg: string): void };
    asCollector.info(
      {
        event: {
          id: '0b7c9a4e-51d2-4c1e-9d6f-2f1a3b4c5d6e',
          action: 'phi_access',
          outcome: 'success',
          reason: 'own_record',
          kind: 'event',
        },
        audit: { source: 'app', actor_role: 'patient', resource_type: null, chain_head_seq: 42 },
        error: { code: 'ECONNREFUSED', message: CANARIES.email },
        patient: { name: CANARIES.name, address: { line1: CANARIES.phone } },
        http: { request: { method: 'GET', headers: { authorization: CANARIES.token } } },
      },
      'audit event stored',
    );
    await log.close();
    const [line] = target.lines();
    expect(line).toMatchObject({
      'event.id': '0b7c9a4e-51d2-4c1e-9d6f-2f1a3b4c5d6e',
      'event.action': 'phi_access',
      'event.outcome': 'success',
      'event.reason': 'own_record',
      'event.kind': 'event',
      'audit.source': 'app',
      'audit.actor_role': 'patient',
      'audit.chain_head_seq': 42,
      'error.code': 'ECONNREFUSED',
      'http.request.method': 'GET',
    });
    expectNoCanary(target.text());
  });
});
