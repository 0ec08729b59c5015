/**
 * Label names of the exporter's HTTP metrics that the panels group and filter by (exporter/http-metrics.ts
 * declares them privately; exporter/metric-names does not export them yet, so they are named here once).
 */
export const HTTP_LABELS = { method: 'method', route: 'route', status: 'status_code' } as const;
