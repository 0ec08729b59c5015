/**
 * The datasources Grafana is provisioned with, under FIXED uids: dashboards reference these uids (or a
 * variable defaulting to them), never an import-time `${DS_*}` placeholder, which file provisioning cannot fill.
 */
export interface DatasourceDef {
  readonly uid: string;
  readonly type: string;
  readonly name: string;
}

export const DATASOURCES = {
  prometheus: { uid: 'prometheus', type: 'prometheus', name: 'Prometheus' },
  alertmanager: { uid: 'alertmanager', type: 'alertmanager', name: 'Alertmanager' },
  elasticsearch: { uid: 'elasticsearch', type: 'elasticsearch', name: 'Elasticsearch' },
  tempo: { uid: 'tempo', type: 'tempo', name: 'Tempo' },
} as const satisfies Record<string, DatasourceDef>;

/** Index pattern and time field of the ECS log lines the collector ships (see collector/ logging). */
export const LOG_INDEX_PATTERN = 'telehealth-logs-*';
export const LOG_TIME_FIELD = '@timestamp';
