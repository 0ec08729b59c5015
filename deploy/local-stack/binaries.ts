/** Debian's packages of the monitoring stack (`apt-get install prometheus prometheus-alertmanager prometheus-node-exporter`). */
import { existsSync } from 'node:fs';

export const BINARIES = {
  prometheus: '/usr/bin/prometheus',
  promtool: '/usr/bin/promtool',
  alertmanager: '/usr/bin/prometheus-alertmanager',
  amtool: '/usr/bin/amtool',
  nodeExporter: '/usr/bin/prometheus-node-exporter',
} as const;

export type BinaryName = keyof typeof BINARIES;

/** The binaries that are not installed (empty when the stack can run). */
export function missingBinaries(
  names: readonly BinaryName[] = ['prometheus', 'alertmanager', 'nodeExporter'],
): string[] {
  return names.filter((n) => !existsSync(BINARIES[n])).map((n) => BINARIES[n]);
}
