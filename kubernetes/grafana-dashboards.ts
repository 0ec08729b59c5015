/**
 * The generated dashboards as ConfigMaps for Grafana's dashboard sidecar (kube-prometheus-stack and the
 * Grafana Helm chart load every ConfigMap labelled `grafana_dashboard: "1"`). One ConfigMap per
 * dashboard: a ConfigMap is limited to 1 MiB, and one per file keeps each far below it.
 */
import { PART_OF, type KubernetesObject } from './manifest-yaml';

export interface DashboardFile {
  readonly path: string;
  readonly content: string;
}

/** ConfigMap data is limited to 1 MiB in total (etcd's object size); stay well under it. */
const CONFIGMAP_LIMIT_BYTES = 900 * 1024;

export function dashboardConfigMaps(files: readonly DashboardFile[], folder: string): KubernetesObject[] {
  const dashboards = files.filter((f) => /^grafana\/dashboards\/[^/]+\.json$/.test(f.path));
  if (dashboards.length === 0) throw new Error('no dashboard JSON found in the dashboards output');
  return dashboards.map((f) => {
    const file = f.path.slice('grafana/dashboards/'.length);
    const uid = (JSON.parse(f.content) as { uid?: unknown }).uid;
    if (typeof uid !== 'string' || uid === '') throw new Error(`${f.path}: dashboard has no uid`);
    if (Buffer.byteLength(f.content) > CONFIGMAP_LIMIT_BYTES)
      throw new Error(`${f.path}: too large for a ConfigMap`);
    // Object names are DNS labels: lower-case letters, digits and dashes.
    const name = `grafana-dashboard-${uid.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`
      .slice(0, 63)
      .replace(/-+$/, '');
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        labels: { ...PART_OF, grafana_dashboard: '1' },
        // The sidecar's folder annotation (`folderAnnotation: grafana_folder` in the Helm chart).
        annotations: { grafana_folder: folder },
      },
      data: { [file]: f.content },
    };
  });
}
