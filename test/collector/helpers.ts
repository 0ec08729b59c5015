/** Shared builders for the collector tests: valid events of every type, temp folders, a quiet collector. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createCollector, type Collector } from '../../collector/collector';
import type { Database } from '../../collector/database';
import { EVENT_TYPES, EVENT_TYPE_NAMES, type EventType } from '../../collector/metric-names';
import { pseudonymousRef } from '../../collector/pseudonymous-ref';
import { createTelemetry, type Telemetry } from '../../exporter';

export const REF_KEY = 'test-pseudonymisation-key-0123456789';

export function ref(id: string): string {
  return pseudonymousRef(REF_KEY, id);
}

/** A test event: valid unless `overrides` make it otherwise. */
export type TestEvent = Record<string, unknown> & { event_id: string; event_type: string };

export function makeEvent(
  type: EventType = 'authn_login_fail',
  overrides: Record<string, unknown> = {},
): TestEvent {
  const def = EVENT_TYPES[type];
  const base: Record<string, unknown> = {
    schema_version: 1,
    event_id: randomUUID(),
    event_type: type,
    occurred_at: new Date().toISOString(),
    source: 'app',
    actor: { role: 'patient', ref: ref('user-1') },
    outcome: def.outcome,
    reason: def.reasons[0],
    resource: { type: 'patient_record', ref: ref('patient-1') },
  };
  if (type.startsWith('payment_')) base.amount = { minor_units: 12345, currency: 'USD' };
  return { ...base, ...overrides } as TestEvent;
}

export function allTypes(): EventType[] {
  return [...EVENT_TYPE_NAMES];
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A collector on `database` with a spool in a temp folder and no scheduled jobs (verification and
 * gauges run only when a test asks); `close()` closes it and removes the folder.
 */
export function quietCollector(
  database: Database,
  prefix: string,
): { collector: Collector; telemetry: Telemetry; close(): Promise<void> } {
  const tmp = tempDir(prefix);
  const telemetry = createTelemetry({ defaultMetrics: false });
  const collector = createCollector({
    telemetry,
    database,
    spoolDir: tmp.dir,
    schedule: { verify: false, verifyFull: false, gauges: false },
  });
  return {
    collector,
    telemetry,
    async close() {
      try {
        await collector.close();
      } finally {
        tmp.remove();
      }
    },
  };
}
