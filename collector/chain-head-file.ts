/**
 * The last verified head of the audit chain, kept beside the spool, outside the database. A verifier
 * that restarts from genesis trusts whatever chain it finds: rows deleted or rewritten (with hashes
 * recomputed) while the collector was down would verify clean. Starting from this head instead, the
 * first run checks that the row at it still has its hash, and full runs check that the chain still
 * reaches it. A head that belongs to another database (a reset or restored one) reads as broken
 * too, which is what it is for the audit log: the runbook says how to re-anchor.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ChainHead } from './chain-verifier';

export const CHAIN_HEAD_FILE = 'audit-chain-head.json';

export type ReadChainHead = { head: ChainHead } | { head: undefined; problem?: 'unreadable' | 'malformed' };

/** The stored head; none when there is no file yet, or (with a problem) when it cannot be used. */
export async function readChainHead(dir: string): Promise<ReadChainHead> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, CHAIN_HEAD_FILE), 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? { head: undefined }
      : { head: undefined, problem: 'unreadable' };
  }
  try {
    const v = JSON.parse(text) as { seq?: unknown; hash?: unknown };
    if (
      typeof v.seq === 'number' &&
      Number.isSafeInteger(v.seq) &&
      v.seq > 0 &&
      typeof v.hash === 'string' &&
      /^[0-9a-f]{64}$/.test(v.hash)
    )
      return { head: { seq: v.seq, hash: v.hash } };
  } catch {
    // falls through
  }
  return { head: undefined, problem: 'malformed' };
}

/** Replaces the stored head atomically (a crash leaves the old one or the new one, never half). */
export async function writeChainHead(dir: string, head: ChainHead): Promise<void> {
  const file = path.join(dir, CHAIN_HEAD_FILE);
  const tmp = `${file}.tmp`;
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify({ seq: head.seq, hash: head.hash }));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
}
