import fc from 'fast-check';
import { z } from 'zod';
import { auditEventSchema, parseEvent } from '../../collector/events';
import { compileFastValidator } from '../../collector/fast-validator';
import { EVENT_TYPES, EVENT_TYPE_NAMES } from '../../collector/metric-names';
import { makeEvent, ref } from './helpers';

const fast = compileFastValidator(auditEventSchema);

/** The fast check may only accept what zod accepts, and must then return zod's value. */
function expectAgreesWithZod(input: unknown): 'accepted' | 'deferred' {
  const out = fast(input);
  if (out === undefined) return 'deferred';
  const z4 = auditEventSchema.safeParse(input);
  expect(z4.success).toBe(true);
  expect(out).toStrictEqual(z4.data);
  // Same keys in the same order: the spool record (JSON) is the same text either way.
  expect(JSON.stringify(out)).toBe(JSON.stringify(z4.data));
  return 'accepted';
}

describe('fast validator compiled from the event schema', () => {
  it.each(EVENT_TYPE_NAMES)('accepts a valid %s event as zod does, as a fresh copy', (type) => {
    for (const e of [
      makeEvent(type),
      makeEvent(type, { resource: undefined }),
      makeEvent(type, { actor: { role: 'system', ref: null } }),
    ]) {
      if (e.resource === undefined) delete e.resource;
      expect(expectAgreesWithZod(e)).toBe('accepted');
      const out = fast(e) as Record<string, unknown>;
      expect(out).not.toBe(e);
      expect(out.actor).not.toBe(e.actor);
      (e.actor as Record<string, unknown>).ref = 'Jane Doe';
      expect((out.actor as Record<string, unknown>).ref).not.toBe('Jane Doe');
    }
  });

  it('never accepts what zod refuses (fuzzed fields, keys and values)', () => {
    const hostile = fc.oneof(
      fc.anything(),
      fc.string({ maxLength: 80 }),
      fc.constantFrom(
        undefined,
        null,
        '',
        '__proto__',
        'Jane Doe 123-45-6789',
        '2026-02-30T00:00:00Z',
        '1980-02-03T00:00:00Z',
        new Date().toISOString().replace('Z', '+00:00'),
        ref('x').toUpperCase(),
        '0'.repeat(32),
        1.5,
        -1,
        1e13,
        Number.NaN,
        Infinity,
        [],
        {},
      ),
    );
    const fields = [
      'schema_version',
      'event_id',
      'event_type',
      'occurred_at',
      'source',
      'actor',
      'actor.role',
      'actor.ref',
      'outcome',
      'reason',
      'resource',
      'resource.type',
      'resource.ref',
      'amount',
      'amount.minor_units',
      'amount.currency',
      'unknown',
      'actor.email',
      '__proto__',
    ];
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...EVENT_TYPE_NAMES),
        fc.array(fc.tuple(fc.constantFrom(...fields), hostile, fc.boolean()), { maxLength: 3 }),
        (type, edits) => {
          const e = JSON.parse(JSON.stringify(makeEvent(type))) as Record<string, unknown>;
          for (const [field, value, remove] of edits) {
            const [a, b] = field.split('.') as [string, string | undefined];
            const target = b === undefined ? e : (e[a] as Record<string, unknown> | undefined);
            if (target === null || typeof target !== 'object') continue;
            const key = b ?? a;
            if (remove) delete target[key];
            else
              Object.defineProperty(target, key, {
                value,
                enumerable: true,
                writable: true,
                configurable: true,
              });
          }
          if (expectAgreesWithZod(e) === 'accepted') accepted += 1;
        },
      ),
      { numRuns: 5000 },
    );
    // Valid events keep being generated (edits that change nothing), so the accept path is exercised.
    expect(accepted).toBeGreaterThan(100);
  });

  it('every reason and amount accepted by zod is accepted, and the others deferred to zod', () => {
    for (const type of EVENT_TYPE_NAMES)
      for (const reason of EVENT_TYPES[type].reasons)
        expect(expectAgreesWithZod(makeEvent(type, { reason }))).toBe('accepted');
    for (const minor of [0, 1, 1_000_000_000_000, 1_000_000_000_001, -0, 0.5])
      expectAgreesWithZod(makeEvent('payment_captured', { amount: { minor_units: minor, currency: 'USD' } }));
  });

  it('defers hostile objects to zod instead of deciding', () => {
    const e = makeEvent('order_created');
    const throwing = { ...e };
    Object.defineProperty(throwing, 'source', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    expect(fast(throwing)).toBeUndefined();
    expect(parseEvent(throwing)).toMatchObject({ ok: false });

    // A getter that changes its answer: the copy holds the value that was checked.
    let reads = 0;
    const shifty = { ...e };
    Object.defineProperty(shifty, 'source', {
      enumerable: true,
      get: () => (reads++ === 0 ? 'app' : 'Jane Doe'),
    });
    const out = fast(shifty) as Record<string, unknown> | undefined;
    if (out !== undefined) expect(out.source).toBe('app');

    class Custom {}
    expect(fast(Object.assign(new Custom(), e))).toBeUndefined();
    expect(fast(new Proxy(e, {}))).toStrictEqual(auditEventSchema.parse(e));
    expect(fast(JSON.parse(`{"__proto__": {"x": 1}, ${JSON.stringify(e).slice(1)}`))).toBeUndefined();
    expect(fast([e])).toBeUndefined();
    expect(fast(null)).toBeUndefined();
    expect(expectAgreesWithZod(Object.assign(Object.create(null) as object, e))).toBe('accepted');
  });

  it('refuses to compile constructs it cannot mirror', () => {
    const bad = [
      z.object({ a: z.string().transform((s) => s.trim()) }),
      z.object({ a: z.email() }),
      z.object({ a: z.coerce.number() }),
      z.object({ a: z.string() }).catchall(z.string()),
      z.object({ a: z.string().trim() }),
      z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]),
      z.object({ a: z.array(z.string()) }),
    ];
    for (const schema of bad) expect(() => compileFastValidator(schema)).toThrow(/unsupported/);
  });
});
