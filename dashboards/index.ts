/**
 * Dashboards as code: composes the four dashboards from the panel functions of each area and lists
 * the files `npm run generate` writes under grafana/.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, dashboardJson, DASHBOARD_UIDS, type DashboardKey } from './layout';
import * as alerting from './panels/alerting';
import * as app from './panels/application';
import * as business from './panels/business';
import * as infra from './panels/infrastructure';
import * as security from './panels/security';
import { dashboardProviderYaml, datasourcesYaml } from './provisioning';

export { DASHBOARD_UIDS, GENERATED_MARKER } from './layout';
export { DATASOURCES } from './datasources';

export function applicationOverview(): dashboard.Dashboard {
  return buildDashboard({
    key: 'appOverview',
    description:
      "Request rate, errors and latency by route, the SLOs and their error budgets, firing alerts and the alerting pipeline, the telemetry's own health.",
    variables: ['job', 'instance', 'route'],
    rows: [
      { title: 'Up', panels: [app.apiTargetsUp(), app.apiUptime()] },
      { title: 'Traffic and errors', panels: [app.requestRate(), app.errorRatioPanel()] },
      { title: 'Latency', panels: [app.latencyByRoute()] },
      {
        title: 'SLOs',
        panels: [app.availabilityBudget(), app.latencyBudget(), app.burnRate()],
      },
      { title: 'Worst routes', panels: [app.slowestRoutes(), app.mostFailingRoutes()] },
      { title: 'Alerts', panels: [app.firingAlerts()] },
      {
        title: 'Alerting pipeline',
        panels: [
          alerting.alertmanagersDiscovered(),
          alerting.alertmanagerConfigLoaded(),
          alerting.notifications(),
          alerting.ruleEvaluationFailures(),
        ],
      },
      { title: 'Telemetry', panels: [app.labelOverflow(), app.traceSampling()] },
    ],
  });
}

export function infrastructure(): dashboard.Dashboard {
  return buildDashboard({
    key: 'infrastructure',
    description: 'Hosts (node_exporter), the service process, the PostgreSQL pool and the event collector.',
    variables: ['node', 'job', 'instance'],
    rows: [
      { title: 'Scrape targets', panels: [infra.scrapeTargets()] },
      {
        title: 'Hosts',
        panels: [infra.hostCpu(), infra.hostMemory(), infra.hostDisk(), infra.hostNetwork()],
      },
      {
        title: 'Service process',
        panels: [
          infra.serviceCpu(),
          infra.serviceMemory(),
          infra.serviceRss(),
          infra.eventLoopLag(),
          infra.garbageCollection(),
        ],
      },
      {
        title: 'Database and collector',
        panels: [
          infra.databasePool(),
          infra.dependencies(),
          infra.collectorQueue(),
          infra.collectorSpool(),
          infra.collectorBacklog(),
          infra.collectorThroughput(),
          infra.collectorScheduledJobs(),
          infra.logPipeline(),
        ],
      },
    ],
  });
}

export function securityDashboard(): dashboard.Dashboard {
  return buildDashboard({
    key: 'security',
    description:
      'Authentication, lockouts, MFA, token revocations, PHI access and integrity, and the audit log hash chain, with their alert thresholds.',
    variables: ['job', 'instance', 'logsDatasource'],
    rows: [
      { title: 'Authentication', panels: [security.loginsByOutcome(), security.failedLogins()] },
      {
        title: 'Accounts and sessions',
        panels: [security.lockouts(), security.mfaFailures(), security.tokenRevocations()],
      },
      {
        title: 'PHI access',
        panels: [security.phiAccess(), security.phiDenialRate(), security.phiIntegrity()],
      },
      {
        title: 'Audit log integrity',
        panels: [security.auditChainState(), security.auditChainVerification(), security.auditRowsVerified()],
      },
      { title: 'Authentication events', panels: [security.authenticationLogs()] },
    ],
  });
}

export function businessDashboard(): dashboard.Dashboard {
  return buildDashboard({
    key: 'business',
    description:
      'Orders, prescriptions and invoices through their lifecycle, revenue by currency, payment failures and refunds, backlog gauges.',
    variables: ['job', 'instance'],
    rows: [
      {
        title: 'Orders and prescriptions',
        panels: [business.ordersTotal(), business.prescriptionsTotal(), business.revenueByCurrency()],
      },
      {
        title: 'Order flow',
        panels: [business.ordersAndPrescriptions(), business.invoicesIssuedAndVoided()],
      },
      { title: 'Payments', panels: [business.paymentsCaptured(), business.paymentFailuresAndRefunds()] },
      { title: 'Backlog', panels: [business.businessGauges()] },
    ],
  });
}

/** Every dashboard, keyed like DASHBOARD_UIDS. */
export function allDashboards(): Record<DashboardKey, dashboard.Dashboard> {
  return {
    appOverview: applicationOverview(),
    infrastructure: infrastructure(),
    security: securityDashboard(),
    business: businessDashboard(),
  };
}

/** The files under grafana/ that `npm run generate` writes and `npm run check:generated` compares. */
export function generatedFiles(): Array<{ path: string; content: string }> {
  const dashboards = allDashboards();
  return [
    ...(Object.keys(dashboards) as DashboardKey[]).map((key) => ({
      path: `grafana/dashboards/${DASHBOARD_UIDS[key]}.json`,
      content: dashboardJson(dashboards[key]),
    })),
    { path: 'grafana/provisioning/datasources/telehealth.yml', content: datasourcesYaml() },
    { path: 'grafana/provisioning/dashboards/telehealth.yml', content: dashboardProviderYaml() },
  ];
}
