/**
 * Prometheus, Alertmanager and node_exporter on loopback, each on a free port with its own data
 * directory under `workDir`. Alertmanager can be stopped and started again on the same port (the
 * dead man's switch scenario) without touching the others.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BINARIES } from './binaries';
import { freePort, startProcess, waitUntilReady, type ManagedProcess } from './processes';

export interface MonitoringPorts {
  readonly prometheus: number;
  readonly alertmanager: number;
  readonly nodeExporter: number;
}

export interface Monitoring {
  readonly ports: MonitoringPorts;
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  readonly nodeExporterUrl: string;
  readonly workDir: string;
  stopAlertmanager(): Promise<void>;
  startAlertmanager(): Promise<void>;
  stop(): Promise<void>;
}

export interface MonitoringConfig {
  /** Rendered prometheus.yml (its targets, rule files and Alertmanager address already set). */
  readonly prometheusYml: (ports: MonitoringPorts) => string;
  readonly alertmanagerYml: (ports: MonitoringPorts) => string;
  readonly workDir: string;
  /** Directory for the log files (default: workDir). */
  readonly logDir?: string;
  /**
   * How often Prometheus re-sends a still-firing alert to Alertmanager (its default 1m). Short in the
   * fast profile so that a restarted Alertmanager hears of the Watchdog within seconds.
   */
  readonly alertResendDelay?: string;
}

/** Free ports for the three processes: the preferred ones (e.g. the usual 9090, 9093, 9100) when free. */
export async function reserveMonitoringPorts(
  preferred: Partial<MonitoringPorts> = {},
): Promise<MonitoringPorts> {
  const ports = {
    prometheus: await freePort(preferred.prometheus),
    alertmanager: await freePort(preferred.alertmanager),
    nodeExporter: await freePort(preferred.nodeExporter),
  };
  if (new Set(Object.values(ports)).size !== 3) return reserveMonitoringPorts();
  return ports;
}

export async function startMonitoring(cfg: MonitoringConfig, ports: MonitoringPorts): Promise<Monitoring> {
  const logDir = cfg.logDir ?? cfg.workDir;
  mkdirSync(logDir, { recursive: true });
  const promConfig = join(cfg.workDir, 'prometheus.yml');
  const amConfig = join(cfg.workDir, 'alertmanager.yml');
  writeFileSync(promConfig, cfg.prometheusYml(ports));
  writeFileSync(amConfig, cfg.alertmanagerYml(ports));
  const started: ManagedProcess[] = [];
  const base = (port: number) => `http://127.0.0.1:${port}`;

  const startAm = async () => {
    const proc = startProcess(
      'alertmanager',
      BINARIES.alertmanager,
      [
        `--config.file=${amConfig}`,
        `--storage.path=${join(cfg.workDir, 'alertmanager-data')}`,
        `--web.listen-address=127.0.0.1:${ports.alertmanager}`,
        // No cluster: an empty address turns gossip off (it would listen on 0.0.0.0:9094).
        '--cluster.listen-address=',
        '--log.level=info',
      ],
      join(logDir, 'alertmanager.log'),
    );
    started.push(proc);
    await waitUntilReady(`${base(ports.alertmanager)}/-/ready`, proc);
    return proc;
  };

  let alertmanager: ManagedProcess | undefined;
  const stopAll = async () => {
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    const node = startProcess(
      'node_exporter',
      BINARIES.nodeExporter,
      [`--web.listen-address=127.0.0.1:${ports.nodeExporter}`],
      join(logDir, 'node_exporter.log'),
    );
    started.push(node);
    alertmanager = await startAm();
    const prometheus = startProcess(
      'prometheus',
      BINARIES.prometheus,
      [
        `--config.file=${promConfig}`,
        `--storage.tsdb.path=${join(cfg.workDir, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        '--storage.tsdb.retention.time=1d',
        ...(cfg.alertResendDelay ? [`--rules.alert.resend-delay=${cfg.alertResendDelay}`] : []),
        '--log.level=info',
      ],
      join(logDir, 'prometheus.log'),
    );
    started.push(prometheus);
    await waitUntilReady(`${base(ports.nodeExporter)}/metrics`, node);
    await waitUntilReady(`${base(ports.prometheus)}/-/ready`, prometheus);
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    ports,
    prometheusUrl: base(ports.prometheus),
    alertmanagerUrl: base(ports.alertmanager),
    nodeExporterUrl: base(ports.nodeExporter),
    workDir: cfg.workDir,
    async stopAlertmanager() {
      await alertmanager?.stop();
    },
    async startAlertmanager() {
      if (alertmanager?.isRunning()) return;
      alertmanager = await startAm();
    },
    stop: stopAll,
  };
}
