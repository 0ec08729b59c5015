/**
 * The scrape interval and limits of the service's job, read from the rendered prometheus.yml (the
 * same renderer writes prometheus/prometheus.yml), so that the ServiceMonitors scrape exactly as the
 * compose/bare-metal Prometheus does: the alert windows were chosen for that interval.
 */
import { parse } from 'yaml';
import { JOBS } from '../alerts/metric-names';
import type { ScrapeSettings } from './service-monitors';

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  sample_limit?: number;
  label_limit?: number;
  label_value_length_limit?: number;
}

export function scrapeSettingsFrom(prometheusYml: string): ScrapeSettings {
  const config = parse(prometheusYml) as {
    global?: { scrape_interval?: string; scrape_timeout?: string };
    scrape_configs?: ScrapeConfig[];
  } | null;
  const job = config?.scrape_configs?.find((c) => c.job_name === JOBS.api);
  if (!job) throw new Error(`prometheus.yml has no scrape job "${JOBS.api}"`);
  // Prometheus' own defaults when neither the job nor `global` sets them.
  const interval = job.scrape_interval ?? config?.global?.scrape_interval ?? '1m';
  const scrapeTimeout = job.scrape_timeout ?? config?.global?.scrape_timeout ?? '10s';
  const {
    sample_limit: sampleLimit,
    label_limit: labelLimit,
    label_value_length_limit: labelValueLengthLimit,
  } = job;
  for (const [name, value] of Object.entries({ sampleLimit, labelLimit, labelValueLengthLimit })) {
    if (typeof value !== 'number' || value <= 0) {
      throw new Error(`prometheus.yml: job ${JOBS.api} sets no ${name}; the ServiceMonitors copy it`);
    }
  }
  return {
    interval,
    scrapeTimeout,
    sampleLimit: sampleLimit as number,
    labelLimit: labelLimit as number,
    labelValueLengthLimit: labelValueLengthLimit as number,
  };
}
