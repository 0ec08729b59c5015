/**
 * Operational runbook steps, adapted from the infrastructure guide's "Operational Runbooks" (High
 * Error Rate, Database Connection Issues, Security Incident) with placeholders instead of real hosts.
 */

export const HIGH_ERROR_RATE_STEPS = [
  'Check the application logs of the failing job: in Grafana Explore (Elasticsearch) filter `service.name: telehealth-api` and `http.response.status_code >= 500` over the last 15 minutes, or `kubectl logs -l app=<api-app-label> -n <namespace> --since=15m`. Group by route to see whether one route or all fail.',
  'Verify database connectivity: `telehealth_dependency_up` must be 1 for the database and `GET /api/ready` must answer 200; if not, follow the DependencyDown / Database Connection Issues runbook.',
  'Check the external services the failing routes call (payment processor, pharmacy fulfilment, identity provider) on their status pages and in the logs of the failing requests.',
  'If a deployment preceded the errors, roll it back (`kubectl rollout undo deployment/<api-deployment> -n <namespace>`); if the service is saturated (CPU, event-loop lag, pool waiting), scale up: `kubectl scale deployment/<api-deployment> --replicas=<n> -n <namespace>`.',
] as const;

export const DATABASE_STEPS = [
  'Check the connection pool status: `telehealth_db_pool_connections` by `state` (a non-zero `waiting` means the pool is exhausted; `idle` 0 with `total` at the maximum means every connection is busy).',
  'Verify network connectivity from a service pod to PostgreSQL: `kubectl exec <api-pod> -n <namespace> -- pg_isready -h <database-host> -p 5432`.',
  'Check the PostgreSQL logs for refused connections, `too many connections`, authentication or TLS failures, and `pg_stat_activity` for long transactions holding locks.',
  'Restart affected pods if necessary once the database side is healthy: `kubectl rollout restart deployment/<api-deployment> -n <namespace>`.',
] as const;

export const SECURITY_INCIDENT_STEPS = [
  "IMMEDIATE: block the suspicious source addresses at the WAF (take them from the authentication events in the Security dashboard's log panel). Never copy patient data into the incident ticket.",
  'INVESTIGATE: review the audit log for the window (actor refs, roles, reasons); verify its integrity with `npm run audit:verify` before relying on it.',
  'CONTAIN: revoke the tokens and sessions of the affected or suspicious actors; lock accounts under attack.',
  'RECOVER: reset the affected credentials and require MFA re-enrolment for them.',
  'REPORT: document the incident as HIPAA requires (timeline, PHI possibly disclosed, breach risk assessment) with the security and compliance officers.',
] as const;

export const ALERTING_PIPELINE_STEPS = [
  'Open the Alertmanager UI (`/#/status` and `/#/alerts`) and its logs: look for notify errors naming the integration (pagerduty, webhook) and the HTTP status.',
  'Prove the PagerDuty routing keys still work: `npm run page:test -- --routing-key-file <key-file>` for the high- and the low-urgency key.',
  'Check egress from Alertmanager to the Events API (proxy, DNS, TLS) and that the routing key files are mounted and readable.',
  'Until notifications flow again, watch the Application Overview and Security dashboards by hand and tell the on-call channel that paging is degraded.',
] as const;

/** Alertmanager cannot deliver to PagerDuty: how that reaches on-call (alertmanager-config.ts). */
export const PAGERDUTY_DELIVERY_STEP =
  "When the failing integration is PagerDuty, this alert cannot be paged through it: it stops the Watchdog's heartbeats instead (an inhibition), and the dead man's switch pages from its own process once its timeout passes. That page is how you learn of it; the Alertmanager UI lists this alert as firing.";

export const SATURATION_STEPS = [
  "Find the consumer: for a host, `topk(5, rate(namedprocess_namegroup_cpu_seconds_total[5m]))` if the process exporter runs, else `top`/`ps` on the host; for the service, the Infrastructure dashboard's CPU, heap, GC and event-loop lag panels.",
  'Correlate with traffic (Application Overview request rate) and recent deployments: a rise in traffic wants capacity, a rise per request wants a fix or rollback.',
  'Scale out (`kubectl scale deployment/<api-deployment> --replicas=<n> -n <namespace>`) or raise the configured limit (and `process_*_limit_*` with it) if the usage is legitimate.',
  'For memory that only grows (a leak), take a heap snapshot of one instance before restarting it, then restart instances one at a time.',
] as const;

export const COLLECTOR_STEPS = [
  "Check the collector's Infrastructure panels: queue depth against capacity, spool bytes, store batch duration, store errors.",
  'Verify the audit database: `telehealth_dependency_up` for the database, `GET /api/ready` of the collector, PostgreSQL logs for refused writes (the writer role may only INSERT and SELECT).',
  'If the store is slow but healthy, the spool absorbs the backlog: confirm it drains after the database recovers; do not delete spool files (they are accepted audit events).',
  'If events were dropped, record the window and the counts from `telehealth_collector_events_dropped_total` in the incident: security events lost from the audit trail are a compliance finding.',
] as const;
