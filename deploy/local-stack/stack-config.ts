/**
 * The configuration files of a local stack, rendered by the alert catalogue's own renderers (the ones
 * that write prometheus/prometheus.yml, prometheus/alertmanager.yml and prometheus/rules/): loopback
 * targets, temporary secret files, the PagerDuty URL of a local sink, and optionally a faster profile
 * that caps `for`/`keep_firing_for` and Alertmanager's waits. Expressions are never touched.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  renderAlertmanagerConfig,
  renderPrometheusConfig,
  renderRules,
  resolveCatalogue,
} from '../../alerts';
import { JOBS } from '../../alerts/metric-names';
import type { MonitoringPorts } from './monitoring';
import { rewriteRuleDurations, type RuleProfile } from './rule-profile';

export interface SpeedProfile {
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
  /** Prometheus' --rules.alert.resend-delay; undefined: its default (1m). */
  readonly alertResendDelay?: string;
  /** Caps on the rules' durations; undefined: the shipped `for` and `keep_firing_for`. */
  readonly rules?: RuleProfile;
  readonly alertmanager?: {
    readonly groupWait: string;
    readonly groupInterval: string;
    readonly repeatInterval: string;
    readonly watchdogGroupInterval: string;
    readonly watchdogRepeatInterval: string;
    readonly resolveTimeout: string;
  };
}

/** The shipped timings (15 s scrape and evaluation, rule and Alertmanager durations as generated). */
export const SHIPPED_PROFILE: SpeedProfile = { scrapeInterval: '15s', evaluationInterval: '15s' };

/** Seconds instead of minutes: for the incident test and `npm run stack -- --fast`. */
export const FAST_PROFILE: SpeedProfile = {
  scrapeInterval: '1s',
  evaluationInterval: '1s',
  alertResendDelay: '1s',
  rules: { maxFor: '5s', maxKeepFiringFor: '5s' },
  alertmanager: {
    groupWait: '1s',
    groupInterval: '2s',
    // Long enough that a firing alert is not re-sent during a run: each incident pages once.
    repeatInterval: '1h',
    watchdogGroupInterval: '1s',
    watchdogRepeatInterval: '1s',
    resolveTimeout: '1m',
  },
};

/** Routing keys of the local stack (32 characters, as PagerDuty's): the sink tells the urgencies apart by key. */
export const LOCAL_ROUTING_KEYS = {
  high: 'local0high0urgency0routing0key01',
  low: 'local0low0urgency0routing0key002',
} as const;

export interface StackTargets {
  /** `host:port` of each service's /metrics, scraped as the shipped job `telehealth-api`. */
  readonly api: readonly string[];
  /** More service instances, each scraped as its own job (separate alert label sets in one Prometheus). */
  readonly extraApiJobs?: Readonly<Record<string, readonly string[]>>;
  readonly collector?: readonly string[];
  /** The dead man's switch /metrics. */
  readonly deadman?: readonly string[];
}

export interface StackFilesOptions {
  readonly dir: string;
  readonly profile: SpeedProfile;
  readonly targets: StackTargets;
  /** The bearer token every scraped /metrics of ours requires. */
  readonly metricsToken: string;
  readonly pagerDuty: { readonly url: string; readonly caFile?: string };
  readonly deadmanWebhookUrl: string;
  /** Bearer token the dead man's switch webhook requires (null: none). */
  readonly deadmanToken: string | null;
}

export interface StackFiles {
  readonly ruleFiles: string[];
  readonly routingKeys: { readonly high: string; readonly low: string };
  prometheusYml(ports: MonitoringPorts): string;
  alertmanagerYml(ports: MonitoringPorts): string;
}

/** Writes the rule files and secret files under `dir` and returns the renderers of the two configs. */
export function writeStackFiles(o: StackFilesOptions): StackFiles {
  const secrets = join(o.dir, 'secrets');
  const rulesDir = join(o.dir, 'rules');
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  mkdirSync(rulesDir, { recursive: true });
  const secret = (name: string, value: string) => {
    const file = join(secrets, name);
    writeFileSync(file, value, { mode: 0o600 });
    return file;
  };
  const tokenFile = secret('metrics.token', o.metricsToken);
  const keyFiles = {
    high: secret('pagerduty-high-urgency.key', LOCAL_ROUTING_KEYS.high),
    low: secret('pagerduty-low-urgency.key', LOCAL_ROUTING_KEYS.low),
  };
  const deadmanTokenFile = o.deadmanToken === null ? null : secret('deadman-webhook.token', o.deadmanToken);

  const ruleFiles = renderRules().map((r) => {
    const file = join(rulesDir, r.fileName);
    writeFileSync(
      file,
      o.profile.rules
        ? rewriteRuleDurations(r.content, o.profile.rules, `prometheus/rules/${r.fileName}`)
        : r.content,
    );
    return file;
  });

  const prometheusYml = (ports: MonitoringPorts) => {
    const rendered = renderPrometheusConfig({
      scrapeInterval: o.profile.scrapeInterval,
      evaluationInterval: o.profile.evaluationInterval,
      scrapeTimeout: o.profile.scrapeInterval,
      targets: {
        api: o.targets.api,
        collector: o.targets.collector ?? [],
        node: [`127.0.0.1:${ports.nodeExporter}`],
        alertmanager: [`127.0.0.1:${ports.alertmanager}`],
        prometheus: [`127.0.0.1:${ports.prometheus}`],
        deadman: o.targets.deadman ?? [],
      },
      metricsCredentialsFile: tokenFile,
      ruleFiles,
      alertmanagers: [`127.0.0.1:${ports.alertmanager}`],
    });
    return withExtraApiJobs(rendered, o.targets.extraApiJobs ?? {});
  };

  const alertmanagerYml = () =>
    renderAlertmanagerConfig(resolveCatalogue(), {
      pagerDutyUrl: o.pagerDuty.url,
      routingKeyFiles: keyFiles,
      pagerDutyTls: o.pagerDuty.caFile ? { caFile: o.pagerDuty.caFile } : undefined,
      deadmanUrl: o.deadmanWebhookUrl,
      deadmanCredentialsFile: deadmanTokenFile,
      timings: o.profile.alertmanager,
    });

  return { ruleFiles, routingKeys: LOCAL_ROUTING_KEYS, prometheusYml, alertmanagerYml };
}

/** Clones the shipped API job (auth, limits) once per extra job name, with that job's targets. */
function withExtraApiJobs(rendered: string, extra: Readonly<Record<string, readonly string[]>>): string {
  if (Object.keys(extra).length === 0) return rendered;
  const config = parse(rendered) as { scrape_configs: Array<Record<string, unknown> & { job_name: string }> };
  const api = config.scrape_configs.find((c) => c.job_name === JOBS.api);
  if (!api) throw new Error(`the rendered prometheus.yml has no ${JOBS.api} job`);
  for (const [job, targets] of Object.entries(extra)) {
    config.scrape_configs.push({
      ...structuredClone(api),
      job_name: job,
      static_configs: [{ targets: [...targets] }],
    });
  }
  return stringify(config, { lineWidth: 0 });
}
