/**
 * CPU pinning for the load benchmarks (Linux `taskset`; BENCH_PIN=0 turns it off): the servers under
 * test get CPU 0..n-2, the calling process (autocannon) the last CPU. Unpinned, the load generator,
 * the server under test and its GC threads fight over the same two cores, and which of them won a round
 * decided the figures more than the code under test did (the same parts alone measured 0.8 and 1.2 in
 * consecutive runs).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { cpus } from 'node:os';

export interface Pinning {
  serverCpus: string;
  loadCpu: string;
}

let decided: Pinning | undefined | null = null;

/** Pins this process to the load CPU (once) and says where servers go; undefined when not pinned. */
export function pinning(): Pinning | undefined {
  if (decided !== null) return decided;
  decided = undefined;
  const n = cpus().length;
  if (process.env.BENCH_PIN === '0' || n < 2 || process.platform !== 'linux') return decided;
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) return decided;
  const pin = { serverCpus: n === 2 ? '0' : `0-${n - 2}`, loadCpu: String(n - 1) };
  // -a: every thread of this process (autocannon's sockets are on the main thread; libuv's pool too).
  const r = spawnSync('taskset', ['-a', '-p', '-c', pin.loadCpu, String(process.pid)], { stdio: 'ignore' });
  if (r.status === 0) decided = pin;
  return decided;
}

/** Spawns `node <args>` on the server CPUs when pinned. */
export function spawnServer(nodeArgs: string[], options: SpawnOptions): ChildProcess {
  const pin = pinning();
  return pin
    ? spawn('taskset', ['-c', pin.serverCpus, process.execPath, ...nodeArgs], options)
    : spawn(process.execPath, nodeArgs, options);
}

export function describePinning(): string {
  const pin = pinning();
  return pin ? `servers on CPU ${pin.serverCpus}, load generator on CPU ${pin.loadCpu}` : 'unpinned';
}
