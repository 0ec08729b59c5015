/**
 * One process per folder: the collector's spool, the service's data folder (embedded PostgreSQL).
 * Two collectors appending to the same spool segments would interleave records, and each would
 * replay and release the other's: acknowledged events lost or stored twice. Two embedded databases
 * on one folder corrupt it. That happens by mistake easily: `npm start` twice on one data folder, or
 * a rolling update that starts the new pod beside the old one on the same volume.
 *
 * Node has no flock(), so the lock is a lease in files: `<name>.lock.<generation>`, created with
 * O_EXCL (exactly one creator of a name succeeds, on any local file system), holding who took it. The
 * holder renews it by touching the file; the highest generation is the lock. A lease is free when
 * its holder is gone:
 * - held from this process table (same host, boot and pid namespace): at once when its process id
 *   no longer runs, or is this process's own id without being a lease this process took (an earlier
 *   life of the same container);
 * - held from anywhere else (another host or container, whose process ids mean nothing here): once
 *   this process has watched it go unrenewed for the holder's `staleMs` (or its own, if longer), on
 *   its own monotonic clock. Comparing the file's time with this clock instead would let a holder
 *   whose clock runs behind look stale straight after renewing.
 * Taking a free lease creates the next generation, so two processes taking the same stale lease
 * cannot both succeed. A holder that finds a higher generation, or its own file gone, or could not
 * renew (or whose renewal completed) only after a taker could have found it stale, has lost the
 * lease and must stop using the folder. Callers check `valid()` before they write, acknowledge or
 * delete anything: it is false once the last renewal is half a stale period old (after a freeze,
 * a suspend), until a renewal confirms it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

interface Holder {
  pid: number;
  host: string;
  /** Boot id and pid-namespace id: a pid is only meaningful within the same pair. */
  boot: string;
  pidNs: string;
  staleMs: number;
  token: string;
}

/** The folder is in use by another live process. */
export class FolderInUseError extends Error {
  readonly code = 'FOLDER_IN_USE';
  constructor(dir: string, holder: Holder | null) {
    super(
      `folder ${dir} is in use by ${holder ? `process ${holder.pid} on host ${holder.host}` : 'another process'}` +
        '; one process per folder',
    );
    this.name = 'FolderInUseError';
  }
}

export interface FolderLeaseOptions {
  /** The lease's file name prefix: `<name>.lock.<generation>` (lowercase letters). */
  name: string;
  /** A lease not renewed for this long is free (default 30 s). */
  staleMs?: number;
  /** How often the holder renews it (default staleMs / 6). */
  renewMs?: number;
  /**
   * How long to wait for a lease held from elsewhere to go stale before giving up (default 1.5 ×
   * the longer of this stale period and the holder's).
   */
  waitMs?: number;
  /** Called once if the lease is lost (taken by another process, or not renewable). */
  onLost?: () => void;
}

/** Tokens of the leases this process holds or is taking: a lease naming this pid is ours only if listed. */
const heldHere = new Set<string>();

function procId(file: string): string {
  try {
    return file.endsWith('boot_id') ? readFileSync(file, 'utf8').trim() : String(statSync(file).ino);
  } catch {
    return ''; // not Linux: the host name alone identifies the process table
  }
}
const BOOT_ID = procId('/proc/sys/kernel/random/boot_id');
const PID_NS = procId('/proc/self/ns/pid');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function generations(dir: string, name: string): Promise<number[]> {
  const pattern = new RegExp(`^${name}\\.lock\\.([0-9]{1,15})$`);
  const out: number[] = [];
  for (const n of await fsp.readdir(dir)) {
    const m = pattern.exec(n);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

async function readHolder(file: string): Promise<{ holder: Holder | null; mtimeMs: number } | null> {
  try {
    const [text, st] = await Promise.all([fsp.readFile(file, 'utf8'), fsp.stat(file)]);
    let holder: Holder | null = null;
    try {
      const h = JSON.parse(text) as Partial<Holder>;
      if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string')
        holder = {
          pid: h.pid,
          host: h.host,
          boot: typeof h.boot === 'string' ? h.boot : '',
          pidNs: typeof h.pidNs === 'string' ? h.pidNs : '',
          staleMs: typeof h.staleMs === 'number' && h.staleMs > 0 ? h.staleMs : 0,
          token: h.token,
        };
    } catch {
      holder = null; // torn by a crash while it was written: judged as held from elsewhere
    }
    return { holder, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FolderLease {
  private timer: NodeJS.Timeout | null = null;
  private lostAlready = false;
  private released = false;
  /** When the last renewal that confirmed the lease started, on both clocks (see sinceConfirmed). */
  private confirmedMono = performance.now();
  private confirmedWall = Date.now();

  private constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly generation: number,
    private readonly token: string,
    private readonly staleMs: number,
    private readonly renewMs: number,
    private readonly onLost: (() => void) | undefined,
  ) {}

  /** Takes the folder's lease, waiting for one held from elsewhere to go stale; FolderInUseError if held. */
  static async acquire(dir: string, opts: FolderLeaseOptions): Promise<FolderLease> {
    if (!/^[a-z]{1,32}$/.test(opts.name)) throw new Error('lease name must be 1-32 lowercase letters');
    const name = opts.name;
    const prefix = `${name}.lock.`;
    const staleMs = opts.staleMs ?? 30_000;
    const renewMs = opts.renewMs ?? Math.max(10, Math.floor(staleMs / 6));
    const startedAt = performance.now();
    const me: Holder = {
      pid: process.pid,
      host: hostname(),
      boot: BOOT_ID,
      pidNs: PID_NS,
      staleMs,
      token: randomBytes(12).toString('hex'),
    };
    // What this process has seen of a lease held from elsewhere: unchanged since `since`.
    let watched: { generation: number; mtimeMs: number; since: number } | null = null;
    for (;;) {
      const gens = await generations(dir, name);
      const top = gens.at(-1) ?? 0;
      if (top > 0) {
        const seen = await readHolder(path.join(dir, `${prefix}${top}`));
        if (seen === null) continue; // released meanwhile
        const { holder, mtimeMs } = seen;
        const here =
          holder !== null && holder.host === me.host && holder.boot === me.boot && holder.pidNs === me.pidNs;
        const limit = Math.max(staleMs, holder?.staleMs ?? 0);
        // In this process table a dead pid is certain; a live one with a recent lease is a holder
        // (refused at once). A live pid whose lease looks old may be a reused pid, or the wall clock
        // stepped: watched like a holder elsewhere.
        const certain =
          here && (holder.pid === process.pid || !alive(holder.pid) || Date.now() - mtimeMs < limit);
        if (certain) {
          const held = holder.pid === process.pid ? heldHere.has(holder.token) : alive(holder.pid);
          if (held) throw new FolderInUseError(dir, holder);
        } else {
          if (watched === null || watched.generation !== top || watched.mtimeMs !== mtimeMs)
            watched = { generation: top, mtimeMs, since: performance.now() };
          const quiet = performance.now() - watched.since;
          const deadline = startedAt + (opts.waitMs ?? limit * 1.5);
          if (quiet < limit) {
            if (performance.now() >= deadline) throw new FolderInUseError(dir, holder);
            await sleep(Math.max(10, Math.min(renewMs, limit - quiet, deadline - performance.now())));
            continue;
          }
        }
      }
      // Listed before the file exists: another acquire of this process that reads it meanwhile
      // must see a lease of this process, not an earlier life's.
      heldHere.add(me.token);
      try {
        const fh = await fsp.open(path.join(dir, `${prefix}${top + 1}`), 'wx', 0o600);
        try {
          await fh.writeFile(JSON.stringify(me));
          await fh.datasync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        heldHere.delete(me.token);
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another taker won this generation
        throw err;
      }
      const lease = new FolderLease(dir, name, top + 1, me.token, staleMs, renewMs, opts.onLost);
      // Earlier generations are history once this one exists.
      for (const g of gens) await fsp.unlink(path.join(dir, `${prefix}${g}`)).catch(() => undefined);
      lease.timer = setInterval(() => void lease.renew(), renewMs);
      lease.timer.unref();
      return lease;
    }
  }

  /** Whether another process has taken the lease, or it could not be renewed in time. */
  get lost(): boolean {
    return this.lostAlready;
  }

  /**
   * True while the lease is certainly still ours: confirmed less than half a stale period ago (a
   * taker waits a whole one). False after a freeze until `renew()` confirms it again.
   */
  valid(): boolean {
    return !this.lostAlready && this.sinceConfirmed() < this.staleMs / 2;
  }

  /**
   * Time since the last confirmation: the longer of the monotonic clock (which a wall-clock step
   * does not move) and the wall clock (which keeps running while the machine is suspended or the
   * VM paused, when the monotonic clock stops but a taker's does not).
   */
  private sinceConfirmed(): number {
    return Math.max(performance.now() - this.confirmedMono, Date.now() - this.confirmedWall);
  }

  /** Unconfirmed this long, a taker may have found the lease stale: it is lost, whatever a touch says. */
  private get lossAfter(): number {
    return this.staleMs - Math.min(this.renewMs, this.staleMs / 2);
  }

  /** `valid()`, confirming the lease with a renewal first when it is not certain. */
  async confirm(): Promise<boolean> {
    return this.valid() || (await this.renew());
  }

  private get file(): string {
    return path.join(this.dir, `${this.name}.lock.${this.generation}`);
  }

  /** Touches the lease, after checking it is still the lock and still ours; false once lost. */
  async renew(): Promise<boolean> {
    if (this.lostAlready || this.released) return false;
    const startedMono = performance.now();
    const startedWall = Date.now();
    if (this.sinceConfirmed() >= this.lossAfter) {
      this.markLost();
      return false;
    }
    try {
      const gens = await generations(this.dir, this.name);
      const mine = await readHolder(this.file);
      if (this.released) return false;
      if ((gens.at(-1) ?? 0) !== this.generation || mine?.holder?.token !== this.token) {
        this.markLost();
        return false;
      }
      const now = new Date();
      await fsp.utimes(this.file, now, now);
      // Checked, then touched: if that took until a taker could act, the check proves nothing.
      if (this.released) return false;
      if (this.sinceConfirmed() >= this.lossAfter) {
        this.markLost();
        return false;
      }
      this.confirmedMono = startedMono;
      this.confirmedWall = startedWall;
      return true;
    } catch {
      // A read or touch that keeps failing: once a taker could have found it stale, it is lost.
      if (!this.released && this.sinceConfirmed() >= this.lossAfter) this.markLost();
      return false;
    }
  }

  private markLost(): void {
    if (this.lostAlready) return;
    this.lostAlready = true;
    heldHere.delete(this.token);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.onLost?.();
  }

  /** Gives the lease up (only if still ours). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    heldHere.delete(this.token);
    if (this.lostAlready) return;
    const mine = await readHolder(this.file).catch(() => null);
    if (mine?.holder?.token === this.token) await fsp.unlink(this.file).catch(() => undefined);
  }
}
