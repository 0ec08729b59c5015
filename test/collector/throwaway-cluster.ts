/**
 * A throwaway PostgreSQL 15 cluster on a free port, in a temp folder, that a test may stop and
 * start (the shared server on 5432 must never be stopped). As root, runs the server as `postgres`.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';

export interface Cluster {
  url: string;
  port: number;
  start(): void;
  stop(): void;
  destroy(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function asPostgres(cmd: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(file, argv, { stdio: 'pipe', timeout: 60_000 });
}

export async function createCluster(): Promise<Cluster> {
  const root = mkdtempSync(path.join(tmpdir(), 'pgcluster-'));
  const data = path.join(root, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(root, uid, gid);
  }
  asPostgres(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const pgCtl = (action: 'start' | 'stop') =>
    asPostgres(
      `${BIN}/pg_ctl`,
      action === 'start'
        ? [
            '-D',
            data,
            '-w',
            '-l',
            path.join(root, 'log'),
            '-o',
            `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`,
            'start',
          ]
        : ['-D', data, '-w', '-m', 'immediate', 'stop'],
    );
  pgCtl('start');
  let running = true;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start() {
      if (!running) pgCtl('start');
      running = true;
    },
    stop() {
      if (running) pgCtl('stop');
      running = false;
    },
    destroy() {
      try {
        if (running) pgCtl('stop');
      } finally {
        running = false;
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
