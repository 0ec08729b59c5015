import fc from 'fast-check';
import { fitDedupKey, MAX_DEDUP_KEY, MAX_SUMMARY, truncateSummary, validateEvent } from '../../alerts';

const KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

test('any summary is cut to at most 1024 characters; short ones are untouched', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 3000 }), (s) => {
      const t = truncateSummary(s);
      expect(t.length).toBeLessThanOrEqual(MAX_SUMMARY);
      if (s.length <= MAX_SUMMARY) expect(t).toBe(s);
      else expect(s.startsWith(t.slice(0, -1))).toBe(true);
    }),
  );
});

test('a summary of emoji and other astral characters is never cut inside one', () => {
  const wellFormed = (v: string) => !/\p{Cs}/u.test(v);
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', minLength: 400, maxLength: 1500 }), (s) => {
      const t = truncateSummary(s);
      expect(t.length).toBeLessThanOrEqual(MAX_SUMMARY);
      expect(wellFormed(t)).toBe(true);
    }),
    // Shrinking strings this long takes minutes; the failing case is reported as found.
    { endOnFailure: true },
  );
  // Every cut position: an emoji ending exactly where the cut falls, or one character later.
  for (const pad of [MAX_SUMMARY - 3, MAX_SUMMARY - 2, MAX_SUMMARY - 1]) {
    const t = truncateSummary(`${'a'.repeat(pad)}${'😀'.repeat(10)}`);
    expect(wellFormed(t)).toBe(true);
    expect(t.endsWith('…')).toBe(true);
  }
});

test('any dedup key fits in 255 characters, stays stable, and distinct long keys stay distinct', () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 600 }),
      fc.string({ minLength: 256, maxLength: 600 }),
      (a, b) => {
        expect(fitDedupKey(a).length).toBeLessThanOrEqual(MAX_DEDUP_KEY);
        expect(fitDedupKey(a)).toBe(fitDedupKey(a));
        if (a.length <= MAX_DEDUP_KEY) expect(fitDedupKey(a)).toBe(a);
        if (a !== b) expect(fitDedupKey(a)).not.toBe(fitDedupKey(b));
      },
    ),
  );
});

test('validation names the field, and resolve needs a dedup_key but no payload', () => {
  expect(validateEvent({ routing_key: KEY, event_action: 'resolve', dedup_key: 'k' })).toMatchObject({
    ok: true,
  });
  const r = validateEvent({ routing_key: KEY, event_action: 'resolve' });
  expect(r.ok).toBe(false);
  expect(r.ok ? [] : r.errors.join()).toContain('dedup_key');
  const t = validateEvent({
    routing_key: KEY,
    event_action: 'trigger',
    payload: { summary: 's', severity: 'critical' },
  });
  expect(t.ok ? [] : t.errors.join()).toContain('payload.source');
  expect(validateEvent({ routing_key: KEY, event_action: 'snooze', dedup_key: 'k' }).ok).toBe(false);
});
