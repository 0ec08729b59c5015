/**
 * The fields part of a log line whose field names are known in advance (the access log's, one per
 * request), serialised by a function made once for those names: the JSON keys are precomputed and
 * each value goes through the same allow-list check as sanitiseFields(), without pino's generic
 * per-line work (formatter object, key loop, serializer lookups), about 25 µs a line in a profile.
 * The output is what the generic path writes for the same values, in the same order (tested).
 */
import type { SpanContext } from '@opentelemetry/api';
import { fieldCheck, type LogFields } from './fields';

/** Flat fields a compiled line may carry: every allow-listed name but `err` (it needs errorType()). */
export type CompiledFieldName = Exclude<keyof LogFields, 'err'>;

export interface FieldsSerializer<K extends CompiledFieldName> {
  /**
   * `,"name":value` for each field with an accepted value, in `names` order; `trace.id`/`span.id`
   * from `active()` when the values carry no trace.id (as the logger's formatter does).
   */
  (values: Pick<LogFields, K>, active: () => SpanContext | undefined): string;
}

const TRACE_ID_KEY = ',"trace.id":';
const SPAN_ID_KEY = ',"span.id":';

function encodeValue(value: unknown): string {
  // Checked values are identifiers, templates, hex ids and integers: JSON.stringify escapes anyway.
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

export function compileFields<K extends CompiledFieldName>(
  names: readonly K[],
  onDropped: (count: number) => void,
): FieldsSerializer<K> {
  const keys = names.map((name) => `,${JSON.stringify(name)}:`);
  const checks = names.map((name) => {
    const check = fieldCheck(name);
    if (check === undefined) throw new Error(`logging: ${name} is not an allow-listed field`);
    return check;
  });
  const hasTraceId = names.includes('trace.id' as K);
  return (values, active) => {
    let out = '';
    let dropped = 0;
    let traced = false;
    for (let i = 0; i < names.length; i++) {
      const raw = values[names[i] as K];
      if (raw === undefined || raw === null) continue;
      const value = (checks[i] as (v: unknown) => unknown)(raw);
      if (value === undefined) {
        dropped++;
        continue;
      }
      if (hasTraceId && names[i] === 'trace.id') traced = true;
      out += (keys[i] as string) + encodeValue(value);
    }
    if (dropped > 0) onDropped(dropped);
    if (!traced) {
      const sc = active();
      if (sc !== undefined)
        out += TRACE_ID_KEY + JSON.stringify(sc.traceId) + SPAN_ID_KEY + JSON.stringify(sc.spanId);
    }
    return out;
  };
}
