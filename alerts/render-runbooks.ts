/** One runbook page per alert name: meaning, impact, threshold and why, steps, PromQL to investigate. */
import { markdownHeader } from './generated-header';
import { RECEIVER_BY_SEVERITY } from './alertmanager-config';
import type { ResolvedAlert } from './resolve';
import { formatThreshold } from './resolve';

export function renderRunbook(variants: readonly ResolvedAlert[]): string {
  const first = variants[0]!;
  const rb = first.definition.runbook;
  const lines: string[] = [markdownHeader(), `# ${first.name}`, ''];
  lines.push(`- Family: \`${first.family}\`; service label: \`${first.labels.service}\``);
  lines.push(`- Dashboard: ${first.annotations.dashboard_url} (uid \`${first.dashboardUid}\`)`);
  lines.push('', '## Meaning', '', rb.meaning, '', '## Impact', '', rb.impact, '', '## Rules', '');
  for (const v of variants) {
    const extra = Object.entries(v.labels)
      .filter(([k]) => !['severity', 'family', 'service'].includes(k))
      .map(([k, val]) => `${k}=${val}`)
      .join(', ');
    lines.push(
      `### ${v.severity}${extra ? ` (${extra})` : ''}`,
      '',
      `- Routed to: \`${RECEIVER_BY_SEVERITY[v.severity]}\``,
      `- for: \`${v.for}\`${v.keepFiringFor ? `; keep_firing_for: \`${v.keepFiringFor}\`` : ''}`,
    );
    if (v.threshold) {
      lines.push(
        `- Threshold: ${v.threshold.comparison} ${formatThreshold(v.threshold.value, v.threshold.unit)}. Why: ${v.threshold.why}`,
      );
    }
    lines.push('', '```promql', v.expr, '```', '');
  }
  lines.push('## Steps', '');
  rb.steps.forEach((s, i) => lines.push(`${i + 1}. ${s}`));
  lines.push('', '## Investigate', '');
  for (const q of rb.investigate) lines.push(`### ${q.title}`, '', '```promql', q.query, '```', '');
  return lines.join('\n').replace(/\n+$/, '\n');
}

export function renderRunbooks(alerts: readonly ResolvedAlert[]): Array<{ name: string; content: string }> {
  const byName = new Map<string, ResolvedAlert[]>();
  for (const a of alerts) byName.set(a.name, [...(byName.get(a.name) ?? []), a]);
  return [...byName.entries()].map(([name, variants]) => ({ name, content: renderRunbook(variants) }));
}
