/**
 * bench:stack's investigation knobs, read once at start: which parts each side runs and extra
 * environment for one side. They turn the instrumented-vs-bare bench into an interleaved A/B of
 * any two configurations (one part against another, one sampler setting against another), with
 * the same alternating rounds, so a component's cost is measured as the goal itself is.
 */
export type Part = 'metrics' | 'log' | 'tracing';
export const ALL_PARTS: readonly Part[] = ['metrics', 'log', 'tracing'];

export class KnobError extends Error {
  override name = 'KnobError';
}

/** `metrics,log`: the named parts; '' none. An unknown name is an error, not silently dropped. */
export function partsFrom(variable: string, value: string | undefined, fallback: readonly Part[]): Part[] {
  if (value === undefined) return [...fallback];
  const names = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const unknown = names.filter((p) => !(ALL_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new KnobError(`${variable}: unknown part ${unknown.join(', ')} (known: ${ALL_PARTS.join(', ')})`);
  return [...new Set(names)] as Part[];
}

/**
 * Extra environment for one side, a JSON object of strings: `{"OTEL_TRACES_SAMPLER_ARG":"0"}`.
 * Values are passed as given; the bench's own variables for that side are overridden by them.
 */
export function envFrom(variable: string, value: string | undefined): Record<string, string> {
  if (value === undefined || value.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new KnobError(
      `${variable}: not JSON (expected an object of strings, e.g. {"OTEL_TRACES_SAMPLER_ARG":"0"})`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new KnobError(`${variable}: expected a JSON object of strings`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k))
      throw new KnobError(`${variable}: ${JSON.stringify(k)} is not a variable name`);
    if (typeof v !== 'string') throw new KnobError(`${variable}: the value of ${k} must be a string`);
    env[k] = v;
  }
  return env;
}
