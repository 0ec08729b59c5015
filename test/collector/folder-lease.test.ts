import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { FolderInUseError, FolderLease } from '../../collector/folder-lease';

/** A lease file as another process would have left it, `ageMs` after its last renewal. */
function leaseFile(dir: string, generation: number, holder: object, ageMs = 0): void {
  const file = path.join(dir, `spool.lock.${generation}`);
  writeFileSync(file, JSON.stringify({ token: 'theirs', ...holder }));
  const t = new Date(Date.now() - ageMs);
  utimesSync(file, t, t);
}

const leases = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.startsWith('spool.lock.'))
    .sort();

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid as number;
}

describe('FolderLease', () => {
  let dir: string;
  const held: FolderLease[] = [];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lease-test-'));
  });
  afterEach(async () => {
    for (const l of held.splice(0)) await l.release();
    rmSync(dir, { recursive: true, force: true });
  });
  const take = async (opts: Partial<Parameters<typeof FolderLease.acquire>[1]> = {}) => {
    const l = await FolderLease.acquire(dir, { name: 'spool', ...opts });
    held.push(l);
    return l;
  };

  it('refuses a second holder while the first holds it, and lets it in once released', async () => {
    const first = await take();
    const second = FolderLease.acquire(dir, { name: 'spool' });
    await expect(second).rejects.toBeInstanceOf(FolderInUseError);
    await expect(second).rejects.toThrow(`in use by process ${process.pid} on host ${hostname()}`);
    await first.release();
    expect(leases(dir)).toEqual([]);
    await take();
    expect(leases(dir)).toEqual(['spool.lock.1']);
  });

  it('refuses at once while a live process of this host holds a fresh lease', async () => {
    const child = spawn('sleep', ['30']);
    try {
      leaseFile(dir, 3, { pid: child.pid, host: hostname() });
      const started = Date.now();
      await expect(take({ waitMs: 5000 })).rejects.toThrow(`in use by process ${child.pid}`);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      child.kill();
    }
  });

  it('takes over at once from a dead process of this host, or from an earlier life of this pid', async () => {
    leaseFile(dir, 3, { pid: deadPid(), host: hostname() });
    const a = await take();
    expect(leases(dir)).toEqual(['spool.lock.4']);
    await a.release();
    // A restarted container: the same host name and pid, but not a lease this process took.
    leaseFile(dir, 7, { pid: process.pid, host: hostname() });
    await take();
    expect(leases(dir)).toEqual(['spool.lock.8']);
  });

  it("waits for another host's lease to go stale, and gives up while it is renewed", async () => {
    leaseFile(dir, 2, { pid: 1, host: 'other-node' }, 0);
    await expect(take({ staleMs: 60_000, waitMs: 200 })).rejects.toThrow('host other-node');
    expect(leases(dir)).toEqual(['spool.lock.2']);
    // Last renewed 900 ms ago; stale after 1 s: taken after waiting about 100 ms.
    leaseFile(dir, 2, { pid: 1, host: 'other-node' }, 900);
    const started = Date.now();
    await take({ staleMs: 1000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(leases(dir)).toEqual(['spool.lock.3']);
  });

  it('lets exactly one of several takers have a stale lease', async () => {
    leaseFile(dir, 5, { pid: 1, host: 'other-node' }, 120_000);
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => FolderLease.acquire(dir, { name: 'spool' })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    held.push((won[0] as PromiseFulfilledResult<FolderLease>).value);
    for (const r of results.filter((x) => x.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(FolderInUseError);
    expect(leases(dir)).toEqual(['spool.lock.6']);
  });

  it('renews its lease, and knows it lost it once another process took a newer one', async () => {
    let lost = 0;
    const lease = await take({ renewMs: 60_000, onLost: () => (lost += 1) });
    const file = path.join(dir, 'spool.lock.1');
    utimesSync(file, new Date(0), new Date(0));
    expect(await lease.renew()).toBe(true);
    expect(Date.now() - (await import('node:fs')).statSync(file).mtimeMs).toBeLessThan(5000);
    // Frozen past its expiry: another host took the next generation.
    leaseFile(dir, 2, { pid: 1, host: 'other-node' });
    expect(await lease.renew()).toBe(false);
    expect(await lease.renew()).toBe(false);
    expect([lease.lost, lost]).toEqual([true, 1]);
    // Releasing a lost lease leaves the new holder's file alone (the old one is the taker's to remove).
    await lease.release();
    expect(leases(dir)).toEqual(['spool.lock.1', 'spool.lock.2']);
  });

  it('judges a lease torn by a crash (not JSON) by its age alone', async () => {
    writeFileSync(path.join(dir, 'spool.lock.1'), '{"pid":');
    await expect(take({ staleMs: 60_000, waitMs: 100 })).rejects.toThrow('in use by another process');
    const old = new Date(Date.now() - 120_000);
    utimesSync(path.join(dir, 'spool.lock.1'), old, old);
    await take();
    expect(leases(dir)).toEqual(['spool.lock.2']);
  });
});
