/** The few Prometheus and Alertmanager HTTP API calls the incident test and the live view make. */
export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface ActiveAlert {
  readonly labels: Record<string, string>;
  readonly state: string;
  readonly activeAt?: string;
}

export interface PromClient {
  query(expr: string): Promise<PromSample[]>;
  /** Alerts as Prometheus evaluates them (pending and firing). */
  alerts(): Promise<ActiveAlert[]>;
  /** Scrape targets that are not up. */
  downTargets(): Promise<Array<{ job: string; lastError: string }>>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (!res.ok || body.status !== 'success') throw new Error(`${url}: ${res.status} ${body.error ?? ''}`);
  return body.data;
}

export function createPromClient(baseUrl: string): PromClient {
  return {
    async query(expr) {
      const data = await getJson<{
        result: Array<{ metric: Record<string, string>; value: [number, string] }>;
      }>(`${baseUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async alerts() {
      const data = await getJson<{ alerts: ActiveAlert[] }>(`${baseUrl}/api/v1/alerts`);
      return data.alerts;
    },
    async downTargets() {
      const data = await getJson<{
        activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }>;
      }>(`${baseUrl}/api/v1/targets?state=active`);
      return data.activeTargets
        .filter((t) => t.health !== 'up')
        .map((t) => ({ job: t.labels.job ?? '?', lastError: t.lastError }));
    },
  };
}
