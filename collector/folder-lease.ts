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
 * its holder is gone: on this host, a process id that is no longer running (or this process's own
 * id, left by an earlier life of the same container); elsewhere, a lease not renewed for `staleMs`.
 * Taking a free lease creates the next generation, so two processes taking the same stale lease
 * cannot both succeed. A holder that finds a higher generation, or its own file gone, has lost the
 * lease (it was frozen for longer than `staleMs`) and must stop writing.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

interface Holder {
  pid: number;
  host: string;
  token: string;
}

/** The folder is in use by another live process. */
export class FolderInUseError extends Error {
  readonly code = 'FOLDER_IN_USE';
  constructor(dir: string, holder: Holder | null, ageMs: number) {
    super(
      `folder ${dir} is in use by ${holder ? `process ${holder.pid} on host ${holder.host}` : 'another process'}` +
        ` (lease renewed ${Math.round(ageMs / 1000)} s ago); one process per folder`,
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
  /** How long to wait for another host's lease to go stale before giving up (default staleMs × 1.5). */
  waitMs?: number;
  /** Called once if the lease is found taken by another process. */
  onLost?: () => void;
}

/** Tokens of the leases this process holds: a lease naming this pid is only ours if listed here. */
const heldHere = new Set<string>();

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

async function readHolder(file: string): Promise<{ holder: Holder | null; ageMs: number } | null> {
  try {
    const [text, st] = await Promise.all([fsp.readFile(file, 'utf8'), fsp.stat(file)]);
    let holder: Holder | null = null;
    try {
      const h = JSON.parse(text) as Partial<Holder>;
      if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string')
        holder = { pid: h.pid, host: h.host, token: h.token };
    } catch {
      holder = null; // torn by a crash while it was written: judged by its age alone
    }
    return { holder, ageMs: Math.max(0, Date.now() - st.mtimeMs) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FolderLease {
  private timer: NodeJS.Timeout | null = null;
  private lostAlready = false;

  private constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly generation: number,
    private readonly token: string,
    private readonly onLost: (() => void) | undefined,
  ) {}

  /** Takes the folder's lease, waiting for another host's to go stale; FolderInUseError if held. */
  static async acquire(dir: string, opts: FolderLeaseOptions): Promise<FolderLease> {
    if (!/^[a-z]{1,32}$/.test(opts.name)) throw new Error('lease name must be 1-32 lowercase letters');
    const name = opts.name;
    const prefix = `${name}.lock.`;
    const staleMs = opts.staleMs ?? 30_000;
    const renewMs = opts.renewMs ?? Math.max(10, Math.floor(staleMs / 6));
    const deadline = Date.now() + (opts.waitMs ?? staleMs * 1.5);
    const me: Holder = { pid: process.pid, host: hostname(), token: randomBytes(12).toString('hex') };
    for (;;) {
      const gens = await generations(dir, name);
      const top = gens.at(-1) ?? 0;
      if (top > 0) {
        const seen = await readHolder(path.join(dir, `${prefix}${top}`));
        if (seen === null) continue; // released meanwhile
        const { holder, ageMs } = seen;
        const fresh = ageMs < staleMs;
        const sameHost = holder !== null && holder.host === me.host;
        const held = sameHost
          ? holder.pid === process.pid
            ? heldHere.has(holder.token)
            : fresh && alive(holder.pid)
          : fresh;
        if (held) {
          // Another host's holder may be gone without a trace: wait for its lease to expire.
          if (sameHost || Date.now() >= deadline) throw new FolderInUseError(dir, holder, ageMs);
          await sleep(Math.max(10, Math.min(renewMs, staleMs - ageMs, deadline - Date.now())));
          continue;
        }
      }
      const lock = new FolderLease(dir, name, top + 1, me.token, opts.onLost);
      try {
        const fh = await fsp.open(path.join(dir, `${prefix}${top + 1}`), 'wx', 0o600);
        try {
          await fh.writeFile(JSON.stringify(me));
          await fh.datasync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another taker won this generation
        throw err;
      }
      heldHere.add(me.token);
      // Earlier generations are history once this one exists.
      for (const g of gens) await fsp.unlink(path.join(dir, `${prefix}${g}`)).catch(() => undefined);
      lock.timer = setInterval(() => void lock.renew(), renewMs);
      lock.timer.unref();
      return lock;
    }
  }

  /** Whether another process has taken the lease since. */
  get lost(): boolean {
    return this.lostAlready;
  }

  private get file(): string {
    return path.join(this.dir, `${this.name}.lock.${this.generation}`);
  }

  /** Touches the lease, after checking it is still the lock and still ours. */
  async renew(): Promise<boolean> {
    if (this.lostAlready) return false;
    try {
      const gens = await generations(this.dir, this.name);
      const mine = await readHolder(this.file);
      if ((gens.at(-1) ?? 0) !== this.generation || mine?.holder?.token !== this.token) {
        this.markLost();
        return false;
      }
      const now = new Date();
      await fsp.utimes(this.file, now, now);
      return true;
    } catch {
      return true; // a transient read error: the next renewal checks again, well within staleMs
    }
  }

  private markLost(): void {
    this.lostAlready = true;
    heldHere.delete(this.token);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.onLost?.();
  }

  /** Gives the lease up (only if still ours). */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    heldHere.delete(this.token);
    if (this.lostAlready) return;
    const mine = await readHolder(this.file).catch(() => null);
    if (mine?.holder?.token === this.token) await fsp.unlink(this.file).catch(() => undefined);
  }
}
