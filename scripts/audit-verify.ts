/**
 * `npm run audit:verify`: verifies the audit hash chain from genesis and prints the head hash, to be
 * kept outside the database (a ticket, an object store with retention lock) as an anchor.
 *
 *   DATABASE_URL=postgres://… npm run audit:verify [-- --anchor-seq N --anchor-hash HEX | --head-dir DIR]
 *
 * The anchor is the row at a seq that must still have a given hash: it catches rows deleted from the
 * end (or the table emptied), and a chain rewritten from some row onwards. It comes from the
 * arguments, else from the head a collector keeps in its spool folder (`--head-dir`, else
 * COLLECTOR_SPOOL_DIR when set; audit-chain-head.json). Without one, only the rows present are
 * checked, and the output says so (`anchor: null`, a warning on stderr). Exit 0 when intact, 2 when
 * broken, 1 on error. Output: one JSON line (seq numbers, hashes and counts only).
 */
import { ChainVerifier, CHAIN_HEAD_FILE, openDatabase, readChainHead, type ChainHead } from '../collector';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

type Anchor = { head: ChainHead; source: 'arguments' | 'head_file' };

/** The anchor from the arguments, else from a collector's stored head, else none. */
async function anchorOf(): Promise<Anchor | undefined> {
  const seq = arg('--anchor-seq');
  const hash = arg('--anchor-hash');
  if (seq !== undefined || hash !== undefined) {
    if (!seq || !/^\d+$/.test(seq) || !hash || !/^[0-9a-fA-F]{64}$/.test(hash)) {
      throw new Error('--anchor-seq needs an integer and --anchor-hash 64 hex characters');
    }
    return { head: { seq: Number(seq), hash }, source: 'arguments' };
  }
  const named = arg('--head-dir');
  const dir = named ?? process.env.COLLECTOR_SPOOL_DIR;
  if (dir === undefined) return undefined;
  const stored = await readChainHead(dir);
  if (stored.head !== undefined) return { head: stored.head, source: 'head_file' };
  // Named on the command line, it must be there; from the environment, it may not exist yet.
  if (named !== undefined || stored.problem !== undefined)
    throw new Error(
      `--head-dir: no usable ${CHAIN_HEAD_FILE} in that folder (${stored.problem ?? 'missing'})`,
    );
  return undefined;
}

async function main(): Promise<number> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const anchor = await anchorOf();
  if (anchor === undefined)
    console.error(
      'audit:verify: no anchor (--anchor-seq/--anchor-hash or --head-dir): rows deleted from the end, or all of them, cannot be told from a shorter log',
    );
  const db = await openDatabase({ url, poolMax: 1 });
  try {
    const started = Date.now();
    const result = await new ChainVerifier(db).full({ anchor: anchor?.head });
    console.log(
      JSON.stringify({
        ok: result.ok,
        verified: result.verified,
        head: result.head,
        broken: result.broken ?? null,
        anchor: anchor ? { seq: anchor.head.seq, source: anchor.source } : null,
        duration_ms: Date.now() - started,
      }),
    );
    return result.ok ? 0 : 2;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(JSON.stringify({ ok: false, error: (err as Error).message }));
    process.exit(1);
  },
);
