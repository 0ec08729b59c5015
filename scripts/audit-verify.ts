/**
 * `npm run audit:verify`: verifies the audit hash chain from genesis and prints the head hash, to be
 * kept outside the database (a ticket, an object store with retention lock) as an anchor.
 *
 *   DATABASE_URL=postgres://… npm run audit:verify [-- --anchor-seq N --anchor-hash HEX]
 *
 * With an anchor it also checks that the row at that seq still has that hash (which catches a
 * superuser who rewrote the whole chain from some row onwards). Exit 0 when intact, 2 when broken,
 * 1 on error. Output: one JSON line (seq numbers, hashes and counts only).
 */
import { ChainVerifier, openDatabase, type ChainHead } from '../collector';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const seq = arg('--anchor-seq');
  const hash = arg('--anchor-hash');
  let anchor: ChainHead | undefined;
  if (seq !== undefined || hash !== undefined) {
    if (!seq || !/^\d+$/.test(seq) || !hash || !/^[0-9a-fA-F]{64}$/.test(hash)) {
      throw new Error('--anchor-seq needs an integer and --anchor-hash 64 hex characters');
    }
    anchor = { seq: Number(seq), hash };
  }
  const db = await openDatabase({ url, poolMax: 1 });
  try {
    const started = Date.now();
    const result = await new ChainVerifier(db).full({ anchor });
    console.log(
      JSON.stringify({
        ok: result.ok,
        verified: result.verified,
        head: result.head,
        broken: result.broken ?? null,
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
