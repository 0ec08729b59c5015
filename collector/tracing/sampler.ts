/**
 * Sampling from the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG variables, with our
 * default when they are unset: parent-based ratio sampling at DEFAULT_TRACE_SAMPLE_RATIO. Parent
 * based, so a caller's sampling decision (traceparent flags) is honoured end to end.
 */
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';

/** 10 % of new traces: enough exemplars and slow-request traces at our volume, cheap to export. */
export const DEFAULT_TRACE_SAMPLE_RATIO = 0.1;
export const DEFAULT_TRACE_SAMPLER = 'parentbased_traceidratio';

export const SAMPLER_NAMES = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export interface SamplerChoice {
  sampler: Sampler;
  name: SamplerName;
  /** The ratio, for the ratio samplers. */
  ratio?: number;
  /** Set when a variable was invalid and the default was used instead: says which and why. */
  warning?: string;
}

export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): SamplerChoice {
  const warnings: string[] = [];
  const rawName = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  let name: SamplerName = DEFAULT_TRACE_SAMPLER;
  if (rawName) {
    if ((SAMPLER_NAMES as readonly string[]).includes(rawName)) name = rawName as SamplerName;
    else warnings.push(`OTEL_TRACES_SAMPLER: unsupported value, using ${DEFAULT_TRACE_SAMPLER}`);
  }
  let ratio = DEFAULT_TRACE_SAMPLE_RATIO;
  const rawArg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (rawArg) {
    const parsed = Number(rawArg);
    if (Number.isFinite(parsed) && parsed >= 0 && parsed <= 1) ratio = parsed;
    else
      warnings.push(
        `OTEL_TRACES_SAMPLER_ARG: must be a number in [0, 1], using ${DEFAULT_TRACE_SAMPLE_RATIO}`,
      );
  }
  const warning = warnings.length > 0 ? warnings.join('; ') : undefined;
  switch (name) {
    case 'always_on':
      return { sampler: new AlwaysOnSampler(), name, warning };
    case 'always_off':
      return { sampler: new AlwaysOffSampler(), name, warning };
    case 'traceidratio':
      return { sampler: new TraceIdRatioBasedSampler(ratio), name, ratio, warning };
    case 'parentbased_always_on':
      return { sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }), name, warning };
    case 'parentbased_always_off':
      return { sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }), name, warning };
    case 'parentbased_traceidratio':
      return {
        sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
        name,
        ratio,
        warning,
      };
  }
}
