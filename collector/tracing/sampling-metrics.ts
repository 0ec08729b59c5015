/**
 * The head sampler's decisions as a counter read at scrape time: incoming requests sampled, not
 * sampled, and rate_limited (chosen by the ratio, refused by TRACE_SAMPLING_MAX_PER_SECOND). A
 * non-zero rate_limited rate says the cap binds, i.e. why there are fewer traces than the ratio gives.
 * The request path only increments a field (request-sampler.ts); the counter catches up per scrape.
 */
import type { CounterFactory } from '../logging/metrics';
import { COLLECTOR_METRICS, TRACE_SAMPLING_DECISIONS } from '../metric-names';
import { RequestSampler, type TraceSamplingCounts, type TraceSamplingDecision } from './request-sampler';

const HELP =
  'Incoming requests by head-sampling decision (probes and scrapes excluded); rate_limited: chosen by the ratio, refused by the per-second cap.';

/**
 * Registers the counter when tracing runs (returns false, registering nothing, when it does not).
 * `read` gives the process's cumulative decisions (tests pass their own).
 */
export function registerTraceSamplingMetrics(
  telemetry: CounterFactory,
  opts: { running?: () => boolean; read?: () => TraceSamplingCounts } = {},
): boolean {
  const running = opts.running ?? (() => RequestSampler.isInstalled());
  const read = opts.read ?? (() => RequestSampler.decisionCounts());
  if (!running()) return false;
  // Counted from registration on (the preload's requests before it are not HTTP traffic yet).
  let last = read();
  const counter = telemetry.counter<'decision'>({
    name: COLLECTOR_METRICS.traceSamplingDecisionsTotal,
    help: HELP,
    labels: { decision: TRACE_SAMPLING_DECISIONS },
    zeroInit: true,
    collect: () => {
      const now = read();
      for (const d of TRACE_SAMPLING_DECISIONS as readonly TraceSamplingDecision[]) {
        const delta = now[d] - last[d];
        if (delta > 0) counter.inc({ decision: d }, delta);
      }
      last = now;
    },
  });
  return true;
}
