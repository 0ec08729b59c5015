import fc from 'fast-check';
import { parseEvent, PSEUDONYMOUS_REF_PATTERN } from '../../collector/events';
import { EVENT_TYPES, EVENT_TYPE_NAMES } from '../../collector/metric-names';
import { pseudonymousRef } from '../../collector/pseudonymous-ref';
import { makeEvent, ref, REF_KEY } from './helpers';

describe('event schemas', () => {
  it.each(EVENT_TYPE_NAMES)('round-trips a valid %s event unchanged', (type) => {
    const e = makeEvent(type);
    const r = parseEvent(JSON.parse(JSON.stringify(e)));
    expect(r).toEqual({ ok: true, event: e });
  });

  it('accepts every declared reason and refuses the reasons of other types', () => {
    for (const type of EVENT_TYPE_NAMES) {
      for (const reason of EVENT_TYPES[type].reasons)
        expect(parseEvent(makeEvent(type, { reason })).ok).toBe(true);
    }
    const r = parseEvent(makeEvent('authn_login_fail', { reason: 'none' }));
    expect(r).toEqual({ ok: false, errors: [{ path: 'reason', message: 'not an allowed value' }] });
  });

  it('fixes the outcome of each event type', () => {
    const r = parseEvent(makeEvent('authn_login_fail', { outcome: 'success' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.path).toBe('outcome');
  });

  it('requires an amount on payments and forbids it elsewhere', () => {
    const payment = makeEvent('payment_captured');
    delete (payment as Record<string, unknown>).amount;
    expect(parseEvent(payment)).toEqual({ ok: false, errors: [{ path: 'amount', message: 'required' }] });
    const order = makeEvent('order_created', { amount: { minor_units: 1, currency: 'USD' } });
    expect(parseEvent(order)).toEqual({
      ok: false,
      errors: [{ path: 'amount', message: 'not allowed for this event type' }],
    });
    for (const bad of [1.5, -1, 1e13, '100']) {
      const r = parseEvent(
        makeEvent('payment_refunded', { reason: 'duplicate', amount: { minor_units: bad, currency: 'USD' } }),
      );
      expect(r.ok).toBe(false);
    }
    expect(
      parseEvent(makeEvent('payment_captured', { amount: { minor_units: 1, currency: 'XYZ' } })).ok,
    ).toBe(false);
  });

  it('refuses unknown keys at every level, without naming them', () => {
    const cases = [
      { ...makeEvent(), patient_name: 'Jane Doe' },
      makeEvent('authn_login_fail', { actor: { role: 'patient', ref: ref('u'), email: 'jane@example.com' } }),
      makeEvent('authn_login_fail', {
        resource: { type: 'patient_record', ref: ref('p'), dob: '1980-02-03' },
      }),
      makeEvent('payment_captured', {
        amount: { minor_units: 1, currency: 'USD', card: '4111111111111111' },
      }),
    ];
    for (const c of cases) {
      const r = parseEvent(c);
      expect(r.ok).toBe(false);
      const text = JSON.stringify(r);
      for (const leak of [
        'patient_name',
        'Jane',
        'email',
        'jane@example.com',
        'dob',
        '1980',
        'card',
        '4111',
      ]) {
        expect(text).not.toContain(leak);
      }
    }
  });

  it('gives no field room for PHI, secrets or contact data', () => {
    const phi = [
      'Jane Doe',
      'jane.doe@example.com',
      '123-45-6789',
      '123456789',
      '+1 (555) 010-9999',
      '00000000000000000000000019800203',
      '42 Main Street, Springfield',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
      'hunter2',
    ];
    for (const v of phi) {
      expect(parseEvent(makeEvent('phi_access', { actor: { role: 'provider', ref: v } })).ok).toBe(false);
      expect(parseEvent(makeEvent('phi_access', { resource: { type: 'soap_note', ref: v } })).ok).toBe(false);
      // A source id is a configured service name (record() and HTTP also require the configured one).
      if (v !== 'hunter2') expect(parseEvent(makeEvent('phi_access', { source: v })).ok).toBe(false);
      expect(parseEvent(makeEvent('phi_access', { reason: v })).ok).toBe(false);
      expect(parseEvent(makeEvent('phi_access', { resource: { type: v, ref: ref('x') } })).ok).toBe(false);
    }
    // A date of birth is not an event time.
    expect(parseEvent(makeEvent('phi_access', { occurred_at: '1980-02-03T00:00:00Z' })).ok).toBe(false);
    expect(parseEvent(makeEvent('phi_access', { occurred_at: '2026-02-30T00:00:00Z' })).ok).toBe(false);
    expect(
      parseEvent(makeEvent('phi_access', { occurred_at: new Date().toISOString().replace('Z', '+00:00') }))
        .ok,
    ).toBe(false);
  });

  it('validates identifiers and versions', () => {
    expect(parseEvent(makeEvent('authn_login_fail', { event_id: 'not-a-uuid' })).ok).toBe(false);
    expect(parseEvent(makeEvent('authn_login_fail', { schema_version: 2 })).ok).toBe(false);
    expect(parseEvent(makeEvent('authn_login_fail', { actor: { role: 'root', ref: null } })).ok).toBe(false);
    expect(parseEvent(makeEvent('authn_login_fail', { actor: { role: 'anonymous', ref: null } })).ok).toBe(
      true,
    );
    expect(parseEvent(makeEvent('authn_login_fail', { event_type: 'nope' })).ok).toBe(false);
    for (const v of [null, 1, 'x', [], undefined]) expect(parseEvent(v).ok).toBe(false);
  });

  it('never throws on hostile objects', () => {
    const evil = makeEvent();
    Object.defineProperty(evil, 'event_type', {
      enumerable: true,
      get() {
        throw new Error('ssn 123-45-6789');
      },
    });
    const r = parseEvent(evil);
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain('123-45-6789');
    const cyclic: Record<string, unknown> = makeEvent();
    cyclic.actor = cyclic;
    expect(parseEvent(cyclic).ok).toBe(false);
  });
});

describe('pseudonymousRef', () => {
  it('is a stable keyed HMAC that the schema accepts', () => {
    const a = pseudonymousRef(REF_KEY, 'patient-42');
    expect(a).toMatch(PSEUDONYMOUS_REF_PATTERN);
    expect(pseudonymousRef(REF_KEY, 'patient-42')).toBe(a);
    expect(pseudonymousRef(REF_KEY, 'patient-43')).not.toBe(a);
    expect(pseudonymousRef(`${REF_KEY}-other`, 'patient-42')).not.toBe(a);
    for (let i = 0; i < 2000; i += 1)
      expect(pseudonymousRef(REF_KEY, `id-${i}`)).toMatch(PSEUDONYMOUS_REF_PATTERN);
  });

  it('pattern: exactly 32 lowercase hex characters with at least one letter', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABFgx-'.split(''));
    const candidates = fc.oneof(
      fc.array(chars, { minLength: 30, maxLength: 34 }).map((c) => c.join('')),
      // Mostly digits, a letter (or none) anywhere: where a backtracking mistake would show.
      fc
        .tuple(fc.nat(31), fc.constantFrom('a', 'f', '0', 'A', 'g'), fc.stringMatching(/^[0-9]{32}$/))
        .map(([at, c, digits]) => digits.slice(0, at) + c + digits.slice(at + 1)),
    );
    fc.assert(
      fc.property(candidates, (s) => {
        const expected = /^[0-9a-f]{32}$/.test(s) && /[a-f]/.test(s);
        expect(PSEUDONYMOUS_REF_PATTERN.test(s)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
    expect(PSEUDONYMOUS_REF_PATTERN.test('0'.repeat(32))).toBe(false);
    expect(PSEUDONYMOUS_REF_PATTERN.test(`${'0'.repeat(31)}a`)).toBe(true);
  });

  it('refuses short keys and empty ids', () => {
    expect(() => pseudonymousRef('short', 'x')).toThrow(/16 bytes/);
    expect(() => pseudonymousRef(REF_KEY, '')).toThrow(/non-empty/);
  });
});
