import fc from 'fast-check';
import {
  auditRowOf,
  canonicalOfFields,
  canonicalTextOfRow,
  ROW_COLUMNS,
  rowEventId,
  rowEventType,
  rowFields,
  rowOfSpoolPayload,
} from '../../collector/audit-row';
import { canonicalRow, canonicalRowOf } from '../../collector/canonical-row';
import type { AuditEvent } from '../../collector/events';
import { EVENT_TYPE_NAMES } from '../../collector/metric-names';
import { makeEvent } from './helpers';

const asEvent = (e: unknown) => e as AuditEvent;

/** The chain's canonical text, made the reference way: from the event object. */
const reference = (e: AuditEvent, seq: number, recordedMs: number) =>
  canonicalRow(canonicalRowOf(e, seq, recordedMs));

describe('audit row', () => {
  it.each(EVENT_TYPE_NAMES)('gives a %s event the canonical text made from the event', (type) => {
    for (const e of [
      makeEvent(type),
      makeEvent(type, { resource: undefined }),
      makeEvent(type, { actor: { role: 'system', ref: null }, occurred_at: '2026-12-01T09:08:07Z' }),
    ]) {
      const event = asEvent(e);
      const row = auditRowOf(event);
      expect(row.split('\t')).toHaveLength(ROW_COLUMNS.length);
      expect(canonicalTextOfRow(row, 42, 1_764_000_000_123)).toBe(reference(event, 42, 1_764_000_000_123));
      expect(rowEventId(row)).toBe(event.event_id.toLowerCase());
      expect(rowEventType(row)).toBe(type);
    }
  });

  it('keeps the instant, not the text, of the occurrence time (as the chain does)', () => {
    const row = auditRowOf(asEvent(makeEvent('phi_access', { occurred_at: '2026-12-01T09:08:07.5Z' })));
    expect(rowFields(row).occurred_at).toBe('2026-12-01T09:08:07.500Z');
  });

  it('lowercases the event id, as the canonical form and the dedup do', () => {
    const e = asEvent(makeEvent('phi_access'));
    const upper = asEvent({ ...e, event_id: e.event_id.toUpperCase() });
    expect(rowEventId(auditRowOf(upper))).toBe(e.event_id.toLowerCase());
  });

  it('round-trips and hashes any text the store may be handed (escaping, quotes, unicode)', () => {
    // Direct AuditStore callers are not validated: whatever they pass must come back out of the row
    // field for field, and the fast canonical path must never differ from the general one.
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('\\N', '\\', 'a\\N', '\\\\N', '"', '\t', '\n\r', 'x\u2028y', '\ud800', 'é', 'N'),
    );
    fc.assert(
      fc.property(text, text, fc.option(text), fc.option(text), (source, reason, actorRef, resourceRef) => {
        const e = asEvent({
          ...makeEvent('order_created'),
          source,
          reason,
          actor: { role: 'patient', ref: actorRef },
          resource: resourceRef === null ? undefined : { type: 'order', ref: resourceRef },
        });
        if (e.resource === undefined) delete (e as { resource?: unknown }).resource;
        const row = auditRowOf(e);
        expect(row.split('\t')).toHaveLength(ROW_COLUMNS.length);
        const f = rowFields(row);
        expect(f.source).toBe(source);
        expect(f.reason).toBe(reason);
        expect(f.actor_ref).toBe(actorRef);
        expect(f.resource_ref).toBe(resourceRef);
        expect(canonicalTextOfRow(row, 7, 1000)).toBe(reference(e, 7, 1000));
        expect(canonicalRow(canonicalOfFields(row, 7, 1000))).toBe(reference(e, 7, 1000));
      }),
      { numRuns: 2000 },
    );
  });

  it('replays a spool record written as event JSON by an earlier version', () => {
    const e = asEvent(makeEvent('payment_captured'));
    const legacy = Buffer.from(JSON.stringify(e), 'utf8');
    expect(rowOfSpoolPayload(legacy)).toBe(auditRowOf(e));
    expect(rowOfSpoolPayload(Buffer.from(auditRowOf(e), 'utf8'))).toBe(auditRowOf(e));
  });
});
