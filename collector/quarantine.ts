/**
 * Audit rows the store refused for themselves (a constraint a row breaks), kept beside the spool
 * before they leave it, so that an acknowledged event is never simply gone: one row per line, as the
 * spool holds it (pseudonymous references only, no PHI), for an operator to inspect and replay.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { AuditRow } from './audit-row';

export const QUARANTINE_FILE = 'quarantine.rows';

/**
 * Appends one row and makes it durable before returning: the data (fdatasync) and, as the file may
 * just have been created, its entry in the folder (fsync of the folder), or a power loss could take
 * the whole file. A failed append may leave the row in the file when it is retried: an operator may
 * find a row twice.
 */
export async function appendQuarantine(dir: string, row: AuditRow): Promise<void> {
  const fh = await fsp.open(path.join(dir, QUARANTINE_FILE), 'a', 0o600);
  try {
    await fh.write(`${row.replace(/\n/g, '\\n')}\n`);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  const folder = await fsp.open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
