/**
 * Grafana provisioning files: the datasources under their fixed uids, and the file provider that loads
 * the generated dashboards into one folder. Addresses are the compose service names and default ports.
 * Grafana expands `$NAME` in provisioning files, so a literal `$` is written `$$`.
 */
import { stringify } from 'yaml';
import { DATASOURCES, LOG_INDEX_PATTERN, LOG_TIME_FIELD } from './datasources';
import { GENERATED_MARKER } from './layout';

const HEADER = `# ${GENERATED_MARKER}\n`;

/** Where the compose file mounts grafana/dashboards inside the Grafana container. */
export const DASHBOARDS_MOUNT = '/var/lib/grafana/dashboards/telehealth';
export const DASHBOARD_FOLDER = { title: 'Telehealth', uid: 'telehealth' } as const;

/** Prometheus' scrape interval: Grafana's $__rate_interval is derived from it. */
const SCRAPE_INTERVAL = '15s';

export function datasourcesYaml(): string {
  const doc = {
    apiVersion: 1,
    // Re-provisioning replaces these by uid; removing them first keeps a renamed datasource from lingering.
    deleteDatasources: Object.values(DATASOURCES).map((d) => ({ name: d.name, orgId: 1 })),
    datasources: [
      {
        name: DATASOURCES.prometheus.name,
        uid: DATASOURCES.prometheus.uid,
        type: DATASOURCES.prometheus.type,
        access: 'proxy',
        url: 'http://prometheus:9090',
        isDefault: true,
        editable: false,
        jsonData: {
          httpMethod: 'POST',
          timeInterval: SCRAPE_INTERVAL,
          // Exemplars on the latency histogram open the trace they came from.
          exemplarTraceIdDestinations: [{ name: 'trace_id', datasourceUid: DATASOURCES.tempo.uid }],
        },
      },
      {
        name: DATASOURCES.alertmanager.name,
        uid: DATASOURCES.alertmanager.uid,
        type: DATASOURCES.alertmanager.type,
        access: 'proxy',
        url: 'http://alertmanager:9093',
        editable: false,
        jsonData: { implementation: 'prometheus', handleGrafanaManagedAlerts: false },
      },
      {
        name: DATASOURCES.elasticsearch.name,
        uid: DATASOURCES.elasticsearch.uid,
        type: DATASOURCES.elasticsearch.type,
        access: 'proxy',
        url: 'http://elasticsearch:9200',
        editable: false,
        // Elasticsearch runs with security on: Grafana reads the password from the mounted secret file.
        basicAuth: true,
        basicAuthUser: 'elastic',
        secureJsonData: { basicAuthPassword: '$__file{/run/secrets/elastic_password}' },
        jsonData: {
          index: LOG_INDEX_PATTERN,
          timeField: LOG_TIME_FIELD,
          logMessageField: 'message',
          logLevelField: 'log.level',
          dataLinks: [{ field: 'trace.id', datasourceUid: DATASOURCES.tempo.uid, url: '$${__value.raw}' }],
        },
      },
      {
        name: DATASOURCES.tempo.name,
        uid: DATASOURCES.tempo.uid,
        type: DATASOURCES.tempo.type,
        access: 'proxy',
        url: 'http://tempo:3200',
        editable: false,
        jsonData: {
          tracesToLogsV2: {
            datasourceUid: DATASOURCES.elasticsearch.uid,
            filterByTraceID: true,
            customQuery: false,
          },
          serviceMap: { datasourceUid: DATASOURCES.prometheus.uid },
          nodeGraph: { enabled: true },
        },
      },
    ],
  };
  return HEADER + stringify(doc, { lineWidth: 0, singleQuote: true });
}

export function dashboardProviderYaml(): string {
  const doc = {
    apiVersion: 1,
    providers: [
      {
        name: 'telehealth',
        orgId: 1,
        folder: DASHBOARD_FOLDER.title,
        folderUid: DASHBOARD_FOLDER.uid,
        type: 'file',
        // The JSON is generated from dashboards/: edits in the UI would be lost, so they are refused.
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: DASHBOARDS_MOUNT, foldersFromFilesStructure: false },
      },
    ],
  };
  return HEADER + stringify(doc, { lineWidth: 0, singleQuote: true });
}
