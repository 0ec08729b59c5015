/**
 * A local monitoring stack for the incident test and `npm run stack`: Prometheus, Alertmanager and
 * node_exporter from Debian's packages on loopback, configured by the same renderers that write the
 * shipped prometheus/ files. The caller runs the services, the dead man's switch and the PagerDuty sink.
 */
import { startMonitoring, reserveMonitoringPorts, type Monitoring, type MonitoringPorts } from './monitoring';
import { writeStackFiles, type StackFiles, type StackFilesOptions } from './stack-config';

export { BINARIES, missingBinaries } from './binaries';
export { freePort, startProcess, waitUntilReady, type ManagedProcess } from './processes';
export type { Monitoring, MonitoringPorts } from './monitoring';
export {
  FAST_PROFILE,
  LOCAL_ROUTING_KEYS,
  SHIPPED_PROFILE,
  type SpeedProfile,
  type StackTargets,
} from './stack-config';
export { rewriteRuleDurations, type RuleProfile } from './rule-profile';
export { parseDuration } from './durations';
export { createPromClient, type PromClient } from './prom-client';

export type LocalStack = Monitoring & { readonly files: StackFiles };

export async function startLocalStack(
  o: StackFilesOptions,
  preferredPorts: Partial<MonitoringPorts> = {},
): Promise<LocalStack> {
  const files = writeStackFiles(o);
  const ports = await reserveMonitoringPorts(preferredPorts);
  const monitoring = await startMonitoring(
    {
      workDir: o.dir,
      prometheusYml: files.prometheusYml,
      alertmanagerYml: files.alertmanagerYml,
      alertResendDelay: o.profile.alertResendDelay,
    },
    ports,
  );
  return Object.assign(monitoring, { files });
}
