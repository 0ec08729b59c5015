/**
 * The test profile of the generated rule files: `for` and `keep_firing_for` are capped so that an
 * incident runs in seconds instead of minutes. Nothing else changes: every expression, label and
 * annotation is the shipped one (rewriteRuleDurations refuses a file whose rules it cannot read).
 */
import { parse, stringify } from 'yaml';
import { formatDuration, parseDuration } from './durations';

export interface RuleProfile {
  /** Every `for` longer than this becomes this (a `for` of 0 stays 0). */
  readonly maxFor: string;
  /** Every `keep_firing_for` longer than this becomes this. */
  readonly maxKeepFiringFor: string;
}

export interface RuleFileDoc {
  groups: Array<{ name: string; interval?: string; rules: Array<Record<string, unknown>> }>;
}

export function rewriteRuleDurations(content: string, profile: RuleProfile, origin = 'rule file'): string {
  const doc = parse(content) as RuleFileDoc | null;
  if (!doc || !Array.isArray(doc.groups)) throw new Error(`${origin}: no rule groups`);
  const maxFor = parseDuration(profile.maxFor);
  const maxKeep = parseDuration(profile.maxKeepFiringFor);
  for (const group of doc.groups) {
    // A group-level interval would override the profile's evaluation interval.
    delete group.interval;
    for (const rule of group.rules) {
      if (typeof rule.expr !== 'string')
        throw new Error(`${origin}: group ${group.name}: a rule without expr`);
      if (typeof rule.for === 'string' && parseDuration(rule.for) > maxFor) rule.for = formatDuration(maxFor);
      if (typeof rule.keep_firing_for === 'string' && parseDuration(rule.keep_firing_for) > maxKeep) {
        rule.keep_firing_for = formatDuration(maxKeep);
      }
    }
  }
  return `# Test profile of ${origin}: for <= ${profile.maxFor}, keep_firing_for <= ${profile.maxKeepFiringFor}; expressions unchanged.\n${stringify(doc, { lineWidth: 0 })}`;
}
