/**
 * Infrastructure panels: the host (node_exporter), the Node.js service process against its configured
 * limits, the PostgreSQL pool, and the collector's queue and spool.
 */
import { COLLECTOR_METRICS, collectorMetricNames } from '../../collector/metric-names';
import { exporterMetricNames, NODE_EXPORTER_METRICS as node } from '../../exporter/metric-names';
import { THIRD_PARTY_METRICS as X } from '../../alerts/metric-names';
import { alert } from './alert-catalogue';
import { lastSuccessTime, MATCH, RATE, timeseriesPanel } from './shared';

const m = exporterMetricNames();
const c = collectorMetricNames();
/** Pseudo filesystems that say nothing about disk space. */
const FS = `fstype!~"tmpfs|ramfs|devtmpfs"`;

export function hostCpu() {
  const high = alert('HostCpuHigh');
  return timeseriesPanel({
    title: 'Host CPU utilisation',
    description: `Share of CPU time not idle, per host. Dashed line: ${high.name}.`,
    unit: high.grafanaUnit,
    series: [
      {
        expr: `1 - avg by (instance) (rate(${node.cpuSecondsTotal}{${MATCH.node}, mode="idle"}[${RATE}]))`,
        legend: '{{instance}}',
      },
    ],
    alerts: [high],
    min: 0,
    max: 1,
    width: 8,
  });
}

export function hostMemory() {
  const high = alert('HostMemoryHigh');
  return timeseriesPanel({
    title: 'Host memory utilisation',
    description: `Share of memory not available (MemAvailable), per host. Dashed line: ${high.name}.`,
    unit: high.grafanaUnit,
    series: [
      {
        expr: `1 - ${node.memoryAvailableBytes}{${MATCH.node}} / ${node.memoryTotalBytes}{${MATCH.node}}`,
        legend: '{{instance}}',
      },
    ],
    alerts: [high],
    min: 0,
    max: 1,
    width: 8,
  });
}

export function hostDisk() {
  return timeseriesPanel({
    title: 'Host disk usage',
    description: 'Share of each filesystem used, per host and mount point.',
    unit: 'percentunit',
    series: [
      {
        expr: `1 - ${node.filesystemAvailBytes}{${MATCH.node}, ${FS}} / ${node.filesystemSizeBytes}{${MATCH.node}, ${FS}}`,
        legend: '{{instance}} {{mountpoint}}',
      },
    ],
    min: 0,
    max: 1,
    width: 8,
  });
}

export function hostNetwork() {
  return timeseriesPanel({
    title: 'Host network traffic',
    description:
      'Bytes per second received (positive) and transmitted (negative), per host, loopback excluded.',
    unit: 'Bps',
    series: [
      {
        expr: `sum by (instance) (rate(${node.networkReceiveBytesTotal}{${MATCH.node}, device!="lo"}[${RATE}]))`,
        legend: 'received {{instance}}',
      },
      {
        expr: `-sum by (instance) (rate(${node.networkTransmitBytesTotal}{${MATCH.node}, device!="lo"}[${RATE}]))`,
        legend: 'transmitted {{instance}}',
      },
    ],
  });
}

export function serviceCpu() {
  const high = alert('ServiceCpuHigh');
  return timeseriesPanel({
    title: 'Service CPU against its limit',
    description: `CPU seconds per second of each service process divided by its configured CPU limit. Dashed line: ${high.name}.`,
    unit: high.grafanaUnit,
    series: [
      {
        expr: `rate(${m.processCpuSecondsTotal}{${MATCH.service}}[${RATE}]) / ${m.processCpuLimitCores}{${MATCH.service}}`,
        legend: '{{job}} {{instance}}',
      },
    ],
    alerts: [high],
    min: 0,
  });
}

export function serviceMemory() {
  const high = alert('ServiceMemoryHigh');
  return timeseriesPanel({
    title: 'Service resident memory against its limit',
    description: `Resident set size of each service process divided by its configured memory limit. Dashed line: ${high.name}.`,
    unit: high.grafanaUnit,
    series: [
      {
        expr: `${m.processResidentMemoryBytes}{${MATCH.service}} / ${m.processMemoryLimitBytes}{${MATCH.service}}`,
        legend: '{{job}} {{instance}}',
      },
    ],
    alerts: [high],
    min: 0,
  });
}

export function serviceRss() {
  return timeseriesPanel({
    title: 'Service RSS and heap',
    description: 'Resident set size, V8 heap used and heap total of each service process.',
    unit: 'bytes',
    series: [
      { expr: `${m.processResidentMemoryBytes}{${MATCH.service}}`, legend: 'rss {{job}} {{instance}}' },
      { expr: `${m.nodejsHeapSizeUsedBytes}{${MATCH.service}}`, legend: 'heap used {{job}} {{instance}}' },
      { expr: `${m.nodejsHeapSizeTotalBytes}{${MATCH.service}}`, legend: 'heap total {{job}} {{instance}}' },
    ],
    min: 0,
  });
}

export function eventLoopLag() {
  return timeseriesPanel({
    title: 'Event-loop lag p99',
    description: 'p99 delay of the Node.js event loop: requests wait at least this long when it rises.',
    unit: 's',
    series: [{ expr: `${m.nodejsEventloopLagP99Seconds}{${MATCH.service}}`, legend: '{{job}} {{instance}}' }],
    min: 0,
  });
}

export function garbageCollection() {
  return timeseriesPanel({
    title: 'Garbage collection time',
    description: 'Share of wall time spent in GC pauses, by GC kind.',
    unit: 'percentunit',
    series: [
      {
        expr: `sum by (job, instance, kind) (rate(${m.nodejsGcDurationSeconds}_sum{${MATCH.service}}[${RATE}]))`,
        legend: '{{kind}} {{job}} {{instance}}',
      },
    ],
    min: 0,
  });
}

export function databasePool() {
  return timeseriesPanel({
    title: 'PostgreSQL pool connections',
    description:
      'Connections of the service pool by state; waiting > 0 means requests queue for a connection.',
    unit: 'short',
    series: [
      {
        expr: `sum by (job, instance, state) (${m.dbPoolConnections}{${MATCH.service}})`,
        legend: '{{state}} {{job}} {{instance}}',
      },
    ],
    related: [alert('DatabasePoolExhausted')],
    min: 0,
  });
}

export function collectorQueue() {
  const nearFull = alert('CollectorQueueNearFull');
  return timeseriesPanel({
    title: 'Collector queue fill',
    description: `Events waiting in the in-memory queue divided by its capacity. Dashed line: ${nearFull.name}. No line at all: CollectorMetricsAbsent (the collector exports nothing).`,
    unit: nearFull.grafanaUnit,
    series: [
      {
        expr: `${c.queueEvents}{${MATCH.service}} / ${c.queueCapacityEvents}{${MATCH.service}}`,
        legend: '{{job}} {{instance}}',
      },
    ],
    alerts: [nearFull],
    runbooks: ['CollectorMetricsAbsent'],
    min: 0,
    max: 1,
  });
}

export function collectorSpool() {
  const nearFull = alert('CollectorSpoolNearFull');
  return timeseriesPanel({
    title: 'Collector spool fill',
    description: `Bytes of events spooled to disk while the store is unavailable, divided by the spool's capacity. Dashed line: ${nearFull.name}.`,
    unit: nearFull.grafanaUnit,
    series: [
      {
        expr: `${c.spoolBytes}{${MATCH.service}} / ${c.spoolCapacityBytes}{${MATCH.service}}`,
        legend: '{{job}} {{instance}}',
      },
    ],
    alerts: [nearFull],
    min: 0,
    max: 1,
  });
}

export function collectorBacklog() {
  const growing = alert('CollectorSpoolGrowing');
  return timeseriesPanel({
    title: 'Collector backlog',
    description: `Events accepted and not yet committed to the audit store (in memory or in the spool). A healthy store keeps it below one batch; dashed line: ${growing.name} (its lowest value over 15 minutes above the line).`,
    unit: growing.grafanaUnit,
    series: [{ expr: `${c.backlogEvents}{${MATCH.service}}`, legend: '{{job}} {{instance}}' }],
    alerts: [growing],
    min: 0,
  });
}

export function scrapeTargets() {
  return timeseriesPanel({
    title: 'Scrape targets up',
    description:
      'Every target Prometheus scrapes (service, collector, node_exporter, Prometheus, Alertmanager): 1 answering, 0 not. TargetDown fires on a target down.',
    unit: 'short',
    series: [{ expr: `min by (job, instance) (${X.up})`, legend: '{{job}} {{instance}}' }],
    runbooks: ['TargetDown'],
    min: 0,
    max: 1,
  });
}

export function dependencies() {
  const down = alert('DependencyDown');
  return timeseriesPanel({
    title: 'Dependencies up',
    description: `Each readiness dependency, checked at every scrape: 1 up, 0 down. ${down.name} fires on 0 (no threshold line: it is a boolean below 1).`,
    unit: down.grafanaUnit,
    series: [
      {
        expr: `min by (job, instance, dependency) (${m.dependencyUp}{${MATCH.service}})`,
        legend: '{{dependency}} {{job}} {{instance}}',
      },
    ],
    related: [down],
    min: 0,
    max: 1,
  });
}

export function logPipeline() {
  const dropping = alert('LogShippingDropping');
  return timeseriesPanel({
    title: 'Log lines dropped and shipping errors',
    description: `Log lines not written or not shipped per second, by reason (buffer_full: a sink too slow for the service; sink_error: it failed or timed out), and failed shipping requests to the log store. Should stay 0; ${dropping.name} fires above 0.`,
    // Lines and requests per second: the alert's unit reads "req/s", so the alert is linked, not drawn.
    unit: 'ops',
    series: [
      {
        expr: `sum by (job, reason) (rate(${c.logLinesDroppedTotal}{${MATCH.service}}[${RATE}]))`,
        legend: 'dropped {{reason}} {{job}}',
      },
      {
        expr: `sum by (job) (rate(${c.logShippingErrorsTotal}{${MATCH.service}}[${RATE}]))`,
        legend: 'shipping errors {{job}}',
      },
    ],
    related: [dropping],
    min: 0,
  });
}

export function collectorThroughput() {
  const dropped = alert('CollectorEventsDropped');
  const storeErrors = alert('CollectorStoreErrors');
  return timeseriesPanel({
    title: 'Collector events stored, rejected and dropped',
    description: `Events per second written to the audit store, refused at ingest (by reason) and lost after acceptance (${COLLECTOR_METRICS.eventsDroppedTotal}, should stay 0), and failed store batch writes per second (${storeErrors.name} fires above 0; the events wait in the spool and are retried).`,
    unit: 'ops',
    series: [
      {
        expr: `sum by (job) (rate(${c.eventsStoredTotal}{${MATCH.service}}[${RATE}]))`,
        legend: 'stored {{job}}',
      },
      {
        expr: `sum by (job, reason) (rate(${c.eventsRejectedTotal}{${MATCH.service}}[${RATE}]))`,
        legend: 'rejected {{reason}} {{job}}',
      },
      {
        expr: `sum by (job, reason) (rate(${c.eventsDroppedTotal}{${MATCH.service}}[${RATE}]))`,
        legend: 'dropped {{reason}} {{job}}',
      },
      {
        expr: `sum by (job) (rate(${c.storeErrorsTotal}{${MATCH.service}}[${RATE}]))`,
        legend: 'failed store batches {{job}}',
      },
    ],
    related: [dropped, storeErrors],
    min: 0,
  });
}

export function collectorScheduledJobs() {
  const gauges = alert('BusinessGaugesStale');
  const full = alert('AuditChainFullVerificationStale');
  const accountChanges = alert('AccountChangeEventsStale');
  const since = lastSuccessTime(
    `${c.scheduledJobLastSuccessTimestampSeconds}{${MATCH.service}}`,
    `${m.processStartTimeSeconds}{${MATCH.service}}`,
    'job, instance, task',
    2 * Math.max(gauges.threshold, full.threshold, accountChanges.threshold),
  );
  return timeseriesPanel({
    title: 'Time since each collector task last succeeded',
    description: `Seconds since each scheduled task of the collector last succeeded, across restarts (since the oldest start, while it has not yet): the audit chain verification every minute and in full nightly, the business gauges and the service's account change events every 30 s. ${gauges.name} fires above ${gauges.threshold} s for the gauges (per instance), ${accountChanges.name} above ${accountChanges.threshold} s for the account change events (per job: any replica's drain counts), ${full.name} above ${full.threshold} s for the full verification (no lines: one axis cannot show all three).`,
    unit: 's',
    series: [{ expr: `time() - (${since})`, legend: '{{task}} {{instance}}' }],
    related: [gauges, accountChanges, full],
    min: 0,
  });
}
