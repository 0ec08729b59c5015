import fc from 'fast-check';
import { canonicalRow, canonicalText, type CanonicalRow } from '../../collector/canonical-row';
import { openDatabase, type Database } from '../../collector/database';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }), // lone surrogates, controls, quotes, backslashes
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', '"', '\\', '\\N', '\t', '\u2028', '\u007f', 'A0B1C2D3-0000-4000-8000-00000000000F'),
);
const nullable = fc.option(text, { nil: null });
const num = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(), // NaN, ±Infinity, -0, fractions: JSON writes some as null or differently
  fc.constantFrom(-0, Number.MAX_SAFE_INTEGER + 2, 1e21),
);
const row: fc.Arbitrary<CanonicalRow> = fc.record({
  seq: num,
  event_id: text,
  schema_version: num,
  event_type: text,
  occurred_at_ms: num,
  recorded_at_ms: num,
  source: text,
  actor_role: text,
  actor_ref: nullable,
  outcome: text,
  reason: text,
  resource_type: nullable,
  resource_ref: nullable,
  amount_minor: nullable,
  currency: nullable,
});

describe('canonicalText', () => {
  it('is canonicalRow() on every kind of row (10,000 generated)', () => {
    fc.assert(
      fc.property(row, (r) => canonicalText(r) === canonicalRow(r)),
      { numRuns: 10_000, seed: 7 },
    );
  });

  it('is canonicalRow() on the rows validated events make', () => {
    const r: CanonicalRow = {
      seq: 9_007_199_254_740_991,
      event_id: 'A0B1C2D3-0000-4000-8000-00000000000F',
      schema_version: 1,
      event_type: 'payment_refunded',
      occurred_at_ms: 1_763_852_400_123,
      recorded_at_ms: 0,
      source: 'billing-eu',
      actor_role: 'staff',
      actor_ref: 'r'.repeat(40),
      outcome: 'success',
      reason: 'none',
      resource_type: 'invoice',
      resource_ref: null,
      amount_minor: '-12345',
      currency: 'JPY',
    };
    expect(canonicalText(r)).toBe(canonicalRow(r));
    expect(canonicalText({ ...r, seq: 1 })).toMatch(/^\["1","a0b1c2d3-/);
  });
});

// The verifier reads times as floor(epoch * 1000) computed by the database; rows written before
// it did were verified through a JavaScript Date of the value. Both must give the same milliseconds.
describe.each(['postgres', 'pglite'] as const)('epoch milliseconds in SQL (%s)', (kind) => {
  let testDb: TestDatabase | undefined;
  let db: Database;
  beforeAll(async () => {
    testDb = kind === 'postgres' ? await createTestDatabase('canonical') : undefined;
    db = await openDatabase(testDb ? { url: testDb.url, poolMax: 1 } : {});
  });
  afterAll(async () => {
    await db.close();
    await testDb?.drop();
  });

  it('equal what a Date of the stored value holds, to the microsecond and before 1970', async () => {
    const values = [
      '2026-12-02T12:58:23.123Z',
      '2026-12-02T12:58:23.123999Z',
      '2026-12-02T12:58:23.000001Z',
      '2026-12-02T12:58:23Z',
      '1969-12-31T23:59:59.999500Z',
      '1950-06-15T08:00:00.000250Z',
    ];
    const r = await db.query<{ t: Date; ms: string }>(
      `SELECT t, floor(extract(epoch FROM t) * 1000)::int8 AS ms
       FROM unnest($1::timestamptz[]) WITH ORDINALITY AS v(t, i) ORDER BY i`,
      [values],
    );
    expect(r.rows.map((x) => Number(x.ms))).toEqual(r.rows.map((x) => new Date(x.t).getTime()));
    expect(Number(r.rows[1]?.ms)).toBe(Date.parse('2026-12-02T12:58:23.123Z'));
  });
});
