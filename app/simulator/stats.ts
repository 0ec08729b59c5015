/** Request counts, status codes and latency percentiles of a simulator run. */

export interface StatsSnapshot {
  requests: number;
  byStatus: Record<string, number>;
  /** Requests that got no HTTP answer (connection refused, timeout). */
  networkErrors: number;
  /** Requests not sent because too many were still in flight (the service is that slow). */
  skipped: number;
  inFlight: number;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export function summarise(latencies: readonly number[]): LatencySummary {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 10) / 10;
  return {
    count: s.length,
    p50Ms: r(percentile(s, 50)),
    p95Ms: r(percentile(s, 95)),
    p99Ms: r(percentile(s, 99)),
    maxMs: r(s.length ? (s[s.length - 1] as number) : 0),
  };
}

export class RunStats {
  requests = 0;
  networkErrors = 0;
  skipped = 0;
  inFlight = 0;
  readonly byStatus: Record<string, number> = {};
  readonly latencies: number[] = [];
  readonly byAction = new Map<string, { latencies: number[]; byStatus: Record<string, number> }>();

  record(action: string, status: number | 'network_error', ms: number): void {
    this.requests += 1;
    const key = String(status);
    if (status === 'network_error') this.networkErrors += 1;
    this.byStatus[key] = (this.byStatus[key] ?? 0) + 1;
    this.latencies.push(ms);
    let a = this.byAction.get(action);
    if (!a) this.byAction.set(action, (a = { latencies: [], byStatus: {} }));
    a.latencies.push(ms);
    a.byStatus[key] = (a.byStatus[key] ?? 0) + 1;
  }

  snapshot(): StatsSnapshot {
    return {
      requests: this.requests,
      byStatus: { ...this.byStatus },
      networkErrors: this.networkErrors,
      skipped: this.skipped,
      inFlight: this.inFlight,
    };
  }
}
