/**
 * The CPU and memory limits the service runs under: the denominators of the "service CPU > 80 %" and
 * "memory > 85 %" alerts. Order: explicit options, then the cgroup (v2, then v1) limits when readable,
 * then the host (available cores, total memory) when the cgroup sets no limit.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface ProcessLimits {
  cpuCores: number;
  memoryBytes: number;
  cpuSource: 'option' | 'cgroup' | 'host';
  memorySource: 'option' | 'cgroup' | 'host';
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** cgroup v2 `cpu.max` ("max 100000" or "200000 100000"), else v1 quota/period. */
export function cgroupCpuCores(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = read(`${root}/cpu.max`);
  if (v2 !== undefined) {
    const [quota, period] = v2.split(/\s+/);
    if (quota === 'max') return undefined;
    const q = Number(quota);
    const p = Number(period ?? 100000);
    return q > 0 && p > 0 ? q / p : undefined;
  }
  const quota = Number(read(`${root}/cpu/cpu.cfs_quota_us`));
  const period = Number(read(`${root}/cpu/cpu.cfs_period_us`));
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/** cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes` (v1 reports "no limit" as a huge number). */
export function cgroupMemoryBytes(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = read(`${root}/memory.max`);
  if (v2 !== undefined) {
    if (v2 === 'max') return undefined;
    const n = Number(v2);
    return n > 0 ? n : undefined;
  }
  const v1 = Number(read(`${root}/memory/memory.limit_in_bytes`));
  return v1 > 0 && v1 < 2 ** 60 ? v1 : undefined;
}

export function resolveProcessLimits(
  opts: { cpuCores?: number; memoryBytes?: number } = {},
  cgroupRoot = '/sys/fs/cgroup',
): ProcessLimits {
  let cpuCores = opts.cpuCores;
  let cpuSource: ProcessLimits['cpuSource'] = 'option';
  if (cpuCores === undefined) {
    cpuCores = cgroupCpuCores(cgroupRoot);
    cpuSource = 'cgroup';
  }
  if (cpuCores === undefined) {
    cpuCores = os.availableParallelism();
    cpuSource = 'host';
  }
  let memoryBytes = opts.memoryBytes;
  let memorySource: ProcessLimits['memorySource'] = 'option';
  if (memoryBytes === undefined) {
    memoryBytes = cgroupMemoryBytes(cgroupRoot);
    memorySource = 'cgroup';
  }
  if (memoryBytes === undefined) {
    memoryBytes = os.totalmem();
    memorySource = 'host';
  }
  return { cpuCores, memoryBytes, cpuSource, memorySource };
}
