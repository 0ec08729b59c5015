import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveProcessLimits } from '../../exporter/process-limits';

describe('process limits', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cgroup-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prefers options', () => {
    expect(resolveProcessLimits({ cpuCores: 0.5, memoryBytes: 1024 }, root)).toMatchObject({
      cpuCores: 0.5,
      memoryBytes: 1024,
      cpuSource: 'option',
      memorySource: 'option',
    });
  });

  it('reads cgroup v2 limits', () => {
    const v2 = path.join(root, 'v2');
    mkdirSync(v2);
    writeFileSync(path.join(v2, 'cpu.max'), '150000 100000\n');
    writeFileSync(path.join(v2, 'memory.max'), '268435456\n');
    expect(resolveProcessLimits({}, v2)).toMatchObject({
      cpuCores: 1.5,
      memoryBytes: 268435456,
      cpuSource: 'cgroup',
    });
  });

  it('reads cgroup v1 limits and treats "no limit" as the host', () => {
    const v1 = path.join(root, 'v1');
    mkdirSync(path.join(v1, 'cpu'), { recursive: true });
    mkdirSync(path.join(v1, 'memory'), { recursive: true });
    writeFileSync(path.join(v1, 'cpu', 'cpu.cfs_quota_us'), '200000');
    writeFileSync(path.join(v1, 'cpu', 'cpu.cfs_period_us'), '100000');
    writeFileSync(path.join(v1, 'memory', 'memory.limit_in_bytes'), '9223372036854771712');
    expect(resolveProcessLimits({}, v1)).toMatchObject({
      cpuCores: 2,
      cpuSource: 'cgroup',
      memoryBytes: os.totalmem(),
      memorySource: 'host',
    });
  });

  it('falls back to the host when the cgroup sets no limit', () => {
    const none = path.join(root, 'none');
    mkdirSync(none);
    writeFileSync(path.join(none, 'cpu.max'), 'max 100000');
    writeFileSync(path.join(none, 'memory.max'), 'max');
    expect(resolveProcessLimits({}, none)).toEqual({
      cpuCores: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      cpuSource: 'host',
      memorySource: 'host',
    });
  });
});
