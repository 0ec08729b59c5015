/**
 * Sampling from the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG variables, with our
 * default when they are unset: parent-based ratio sampling at DEFAULT_TRACE_SAMPLE_RATIO. Parent
 * based, so a caller's sampling decision (traceparent flags) is honoured end to end. The ratio
 * samplers' new traces are also capped per second (TRACE_SAMPLING_MAX_PER_SECOND, not an OTEL_*
 * variable: the specification has none; rate-limited-sampler.ts says why).
 */
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { RateLimitedSampler } from './rate-limited-sampler';

/** 10 % of new traces: enough exemplars and slow-request traces at our volume, cheap to export. */
export const DEFAULT_TRACE_SAMPLE_RATIO = 0.1;
export const DEFAULT_TRACE_SAMPLER = 'parentbased_traceidratio';
/**
 * At most 10 new traces a second per process: about 5 ms of CPU a second (a sampled request costs
 * ~0.5 ms more than an unsampled one), ~860,000 traces a day, and the full ratio below 100 req/s.
 */
export const DEFAULT_TRACE_MAX_PER_SECOND = 10;
const MAX_PER_SECOND_VARIABLE = 'TRACE_SAMPLING_MAX_PER_SECOND';

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
  /** The ratio samplers' cap on new traces per second (undefined: none). */
  maxPerSecond?: number;
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
  let maxPerSecond: number | undefined = DEFAULT_TRACE_MAX_PER_SECOND;
  const rawMax = env[MAX_PER_SECOND_VARIABLE]?.trim();
  if (rawMax) {
    const parsed = Number(rawMax);
    if (Number.isFinite(parsed) && parsed >= 0) maxPerSecond = parsed === 0 ? undefined : parsed;
    else
      warnings.push(
        `${MAX_PER_SECOND_VARIABLE}: must be a number >= 0 (0: no cap), using ${DEFAULT_TRACE_MAX_PER_SECOND}`,
      );
  }
  const warning = warnings.length > 0 ? warnings.join('; ') : undefined;
  // always_on stays "every trace": a cap applies to the ratio samplers only.
  const ratioRoot = (): Sampler => {
    const bare = new TraceIdRatioBasedSampler(ratio);
    return maxPerSecond === undefined ? bare : new RateLimitedSampler(bare, maxPerSecond);
  };
  switch (name) {
    case 'always_on':
      return { sampler: new AlwaysOnSampler(), name, warning };
    case 'always_off':
      return { sampler: new AlwaysOffSampler(), name, warning };
    case 'traceidratio':
      return { sampler: ratioRoot(), name, ratio, maxPerSecond, warning };
    case 'parentbased_always_on':
      return { sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }), name, warning };
    case 'parentbased_always_off':
      return { sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }), name, warning };
    case 'parentbased_traceidratio':
      return {
        sampler: new ParentBasedSampler({ root: ratioRoot() }),
        name,
        ratio,
        maxPerSecond,
        warning,
      };
  }
}
