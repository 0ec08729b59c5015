/**
 * The chain verifier's thread (started by verifier-thread.ts): reads and hashes the audit rows on
 * a connection of its own, so that catching up after a busy minute (hundreds of thousands of rows)
 * never holds the collector's event loop, which acknowledges events.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { ChainVerifier, type ChainHead } from './chain-verifier';
import { openDatabase, type OpenDatabaseOptions } from './database';
import type { VerifierRequest, VerifierResponse } from './verifier-thread';

// The lowest CPU priority, for this thread only (Linux keeps the nice value per thread): the
// verifier is a background check, and on a busy machine the event loop that acknowledges events
// must win every contest for a core. Catching up then waits for idle time; its lag is exported
// (the last-verified timestamp). Not permitted everywhere: then it runs at normal priority.
try {
  setPriority(19);
} catch {
  // keep the inherited priority
}

/**
 * After each page, a pause as long as the page took: a catch-up of hundreds of thousands of rows
 * takes at most half of the time it runs for, and its queries, which PostgreSQL runs at normal
 * priority, at most half as much of a busy server. At 10-15 µs a row that is still 30,000 rows/s or
 * more, above what one collector ingests.
 */
const pace = (pageMs: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, pageMs));

const data = workerData as { options: OpenDatabaseOptions; from: ChainHead };
const database = openDatabase(data.options);
let verifier: ChainVerifier | null = null;

async function run(m: VerifierRequest): Promise<VerifierResponse> {
  try {
    verifier ??= new ChainVerifier(await database, data.from, pace);
    const result =
      m.op === 'full'
        ? await verifier.full({ anchor: m.anchor })
        : await verifier.incremental({ maxRows: m.maxRows });
    return { id: m.id, ok: true, result };
  } catch (err) {
    // Only the code crosses: a driver's message may quote a value.
    const code = (err as { code?: unknown }).code;
    return { id: m.id, ok: false, code: typeof code === 'string' ? code : 'VERIFY_FAILED' };
  }
}

// One request at a time, in order: the verifier remembers where it stopped.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (m: VerifierRequest | 'close') => {
  if (m === 'close') {
    queue = queue.then(async () => {
      await (await database).close().catch(() => undefined);
      parentPort?.close();
    });
    return;
  }
  queue = queue.then(async () => parentPort?.postMessage(await run(m)));
});
