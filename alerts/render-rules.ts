/** Prometheus rule files (one per group) from the resolved catalogue and the SLO recording rules. */
import { stringify } from 'yaml';
import { RULE_GROUPS, type RuleGroup } from './catalogue-schema';
import { yamlHeader } from './generated-header';
import { addRunbookLinks, type ResolvedAlert } from './resolve';
import { sloRecordingRules } from './slo';

export interface PromRule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroupFile {
  readonly group: RuleGroup;
  readonly fileName: string;
  readonly groups: Array<{ name: string; interval?: string; rules: PromRule[] }>;
}

export const ruleGroupName = (group: RuleGroup): string => `telehealth-${group}`;

export function buildRuleGroups(alerts: readonly ResolvedAlert[]): RuleGroupFile[] {
  return RULE_GROUPS.map((group) => {
    const rules: PromRule[] = [];
    // Recording rules first: rules of one group evaluate in order, so the SLO alerts read fresh values.
    if (group === 'slo') for (const r of sloRecordingRules()) rules.push({ record: r.record, expr: r.expr });
    for (const a of alerts.filter((x) => x.group === group)) {
      const rule: PromRule = { alert: a.name, expr: a.expr };
      if (a.for !== '0m' && a.for !== '0') rule.for = a.for;
      if (a.keepFiringFor && a.keepFiringFor !== '0m' && a.keepFiringFor !== '0') {
        rule.keep_firing_for = a.keepFiringFor;
      }
      rule.labels = { ...a.labels };
      rule.annotations = { ...a.annotations };
      rules.push(rule);
    }
    const byName = new Map(alerts.map((a) => [a.name, a.runbookUrl]));
    return {
      group,
      fileName: `${group}.yml`,
      groups: [{ name: ruleGroupName(group), rules: addRunbookLinks(rules, (name) => byName.get(name)!) }],
    };
  });
}

export function renderRuleFile(file: RuleGroupFile): string {
  return yamlHeader() + stringify({ groups: file.groups }, { lineWidth: 0 });
}
