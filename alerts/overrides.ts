/**
 * Per-environment overrides of thresholds, `for`, `keep_firing_for` and labels, read from a YAML file
 * (alerts/overrides/<env>.yml, or a path named by TELEHEALTH_ALERT_OVERRIDES), validated against the
 * catalogue so that a typo in an alert name or a duration fails instead of silently doing nothing.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse } from 'yaml';
import { DURATION, RESERVED_LABELS, type AlertDefinition } from './catalogue-schema';

const labelsSchema = z
  .record(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a Prometheus label name'), z.string().max(128))
  .refine((l) => !Object.keys(l).some((k) => (RESERVED_LABELS as readonly string[]).includes(k)), {
    message: `may not set ${RESERVED_LABELS.join(', ')}`,
  });

const alertOverrideSchema = z
  .object({
    threshold: z.number().finite().optional(),
    for: z.string().regex(DURATION).optional(),
    keepFiringFor: z.string().regex(DURATION).optional(),
    labels: labelsSchema.optional(),
  })
  .strict();

export const overridesSchema = z
  .object({
    environment: z.string().regex(/^[a-z][a-z0-9-]*$/),
    runbookBaseUrl: z.url().optional(),
    dashboardBaseUrl: z.url().optional(),
    /** Added to every alert (e.g. `environment: staging`). */
    labels: labelsSchema.optional(),
    /** Keyed by rule id (one variant) or alert name (every variant). */
    alerts: z.record(z.string(), alertOverrideSchema).optional(),
  })
  .strict();

export type Overrides = z.infer<typeof overridesSchema>;
export type AlertOverride = z.infer<typeof alertOverrideSchema>;

/** Validates overrides against the schema and the catalogue; throws with every problem listed. */
export function validateOverrides(
  input: unknown,
  catalogue: readonly AlertDefinition[],
  origin = 'overrides',
): Overrides {
  const parsed = overridesSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${origin}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`Invalid alert overrides:\n  ${lines.join('\n  ')}`);
  }
  const problems: string[] = [];
  for (const [key, override] of Object.entries(parsed.data.alerts ?? {})) {
    const matches = catalogue.filter((e) => e.id === key || e.name === key);
    if (matches.length === 0) {
      problems.push(`${origin}: alerts.${key}: no alert or rule id of that name in the catalogue`);
      continue;
    }
    if (override.threshold !== undefined && matches.some((e) => !e.threshold)) {
      problems.push(`${origin}: alerts.${key}.threshold: the alert has no threshold to override`);
    }
  }
  if (problems.length > 0) throw new Error(`Invalid alert overrides:\n  ${problems.join('\n  ')}`);
  return parsed.data;
}

export function loadOverridesFile(path: string, catalogue: readonly AlertDefinition[]): Overrides {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot read alert overrides ${path}: ${(err as Error).message}`);
  }
  return validateOverrides(raw, catalogue, path);
}

/** The override for one rule: the alert-name entry, then the more specific rule-id entry on top. */
export function overrideFor(entry: AlertDefinition, overrides: Overrides | undefined): AlertOverride {
  const byName = overrides?.alerts?.[entry.name] ?? {};
  const byId = entry.id !== entry.name ? (overrides?.alerts?.[entry.id] ?? {}) : {};
  return {
    ...byName,
    ...byId,
    labels: { ...overrides?.labels, ...byName.labels, ...byId.labels },
  };
}
