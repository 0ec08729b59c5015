/**
 * The head sampler's decisions as a counter read at scrape time: incoming requests sampled, not
 * sampled, and rate_limited (chosen by the ratio, refused by TRACE_SAMPLING_MAX_PER_SECOND). A
 * non-zero rate_limited rate says the cap binds, i.e. why there are fewer traces than the ratio gives.
 * The request path only increments a field (request-sampler.ts); the counter catches up per scrape.
 */
import { COLLECTOR_METRICS, TRACE_SAMPLING_DECISIONS } from '../metric-names';
import { RequestSampler, type TraceSamplingCounts, type TraceSamplingDecision } from './request-sampler';

/** The part of the exporter's Telemetry this needs (structural, so no import cycle). */
export interface CollectedCounterFactory {
  counter<L extends string>(def: {
    name: string;
    help: string;
    labels?: Record<L, readonly string[]>;
    zeroInit?: boolean;
    collect?: () => void;
  }): { inc(labels: Record<L, string>, value?: number): void };
}

const HELP =
  'Incoming requests by head-sampling decision (probes and scrapes excluded); rate_limited: chosen by the ratio, refused by the per-second cap.';

/**
 * Registers the counter when tracing runs (returns false, registering nothing, when it does not).
 * `read` is the running sampler's counts (tests pass their own).
 */
export function registerTraceSamplingMetrics(
  telemetry: CollectedCounterFactory,
  read: () => TraceSamplingCounts | undefined = () => RequestSampler.installedCounts(),
): boolean {
  if (read() === undefined) return false;
  let last: TraceSamplingCounts = { sampled: 0, not_sampled: 0, rate_limited: 0 };
  const counter = telemetry.counter<'decision'>({
    name: COLLECTOR_METRICS.traceSamplingDecisionsTotal,
    help: HELP,
    labels: { decision: TRACE_SAMPLING_DECISIONS },
    zeroInit: true,
    collect: () => {
      const now = read();
      if (now === undefined) return;
      for (const d of TRACE_SAMPLING_DECISIONS as readonly TraceSamplingDecision[]) {
        // A restarted tracer counts from 0 again: the counter never goes down.
        const delta = now[d] - last[d];
        if (delta > 0) counter.inc({ decision: d }, delta);
      }
      last = now;
    },
  });
  return true;
}
