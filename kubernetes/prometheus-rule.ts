/**
 * The PrometheusRule resource: the very rule groups `npm run generate` writes to prometheus/rules/,
 * re-wrapped for the Prometheus Operator, so the Kubernetes and the compose/bare-metal deployments
 * alert on identical expressions, thresholds and `for` durations.
 */
import { parse } from 'yaml';
import { PART_OF, type KubernetesObject } from './manifest-yaml';

export interface RuleFile {
  readonly path: string;
  readonly content: string;
}

interface RuleGroup {
  name: string;
  interval?: string;
  limit?: number;
  rules: Array<Record<string, unknown>>;
}

/** The keys a Prometheus rule may have; the Operator's CRD accepts the same. */
const RULE_KEYS = new Set(['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);

/** Rule groups out of Prometheus rule files (promtool test files, which have no `groups`, are skipped). */
export function ruleGroupsFrom(files: readonly RuleFile[]): RuleGroup[] {
  const groups: RuleGroup[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const doc = parse(file.content) as { groups?: unknown } | null;
    if (!doc || !Array.isArray(doc.groups)) continue;
    for (const g of doc.groups as RuleGroup[]) {
      const other = seen.get(g.name);
      // One PrometheusRule holds every group: the Operator rejects duplicate group names in it.
      if (other !== undefined)
        throw new Error(`rule group "${g.name}" is defined in ${other} and ${file.path}`);
      seen.set(g.name, file.path);
      for (const rule of g.rules) {
        const unknown = Object.keys(rule).filter((k) => !RULE_KEYS.has(k));
        if (unknown.length > 0)
          throw new Error(`${file.path}: group ${g.name}: unknown rule keys ${unknown.join(', ')}`);
      }
      groups.push(g);
    }
  }
  if (groups.length === 0) throw new Error('no Prometheus rule groups found in the alert catalogue output');
  return groups;
}

export function prometheusRule(files: readonly RuleFile[]): KubernetesObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'telehealth-alerts',
      labels: {
        ...PART_OF,
        'app.kubernetes.io/name': 'telehealth-alerts',
        // kube-prometheus selects rules by label; set your Prometheus' ruleSelector to match this.
        role: 'alert-rules',
      },
    },
    spec: { groups: ruleGroupsFrom(files) },
  };
}
