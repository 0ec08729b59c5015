import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Spool, type SpoolInput } from '../../collector/spool';

/** Text payloads of varied lengths, so that records straddle chunk and segment boundaries. */
function records(from: number, n: number): SpoolInput[] {
  return Array.from({ length: n }, (_, i) => {
    const seq = from + i;
    const payload = `row-${seq}-${'x'.repeat(40 + ((seq * 7919) % 900))}`;
    return { seq, payload, bytes: Buffer.byteLength(payload) };
  });
}

describe('Spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'spool-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function filled(n: number, segmentBytes: number): Promise<{ spool: Spool; written: SpoolInput[] }> {
    const { spool } = await Spool.open(dir, { segmentBytes, readChunkBytes: 1 });
    const written = records(1, n);
    for (let i = 0; i < n; i += 250) await spool.append(written.slice(i, i + 250));
    return { spool, written };
  }

  const text = (r: { payload: Buffer }) => r.payload.toString('utf8');

  it('reads back every record in order across chunks and segments, in one read or in many', async () => {
    // ~1.3 MiB in 512 KiB segments; chunks are the smallest allowed (64 KiB and a header).
    const { spool, written } = await filled(2500, 512 * 1024);
    const all = await spool.read(1, 2500, 10_000);
    expect(all.map((r) => r.seq)).toEqual(written.map((w) => w.seq));
    expect(all.map(text)).toEqual(written.map((w) => w.payload));

    const { spool: again } = await Spool.open(dir, { segmentBytes: 512 * 1024, readChunkBytes: 1 });
    const steps: string[] = [];
    for (let next = 1; next <= 2500;) {
      const got = await again.read(next, 2500, 137);
      expect(got.length).toBeGreaterThan(0);
      expect(got[0]?.seq).toBe(next);
      steps.push(...got.map(text));
      next = (got[got.length - 1]?.seq ?? next) + 1;
    }
    expect(steps).toEqual(written.map((w) => w.payload));
    await spool.close();
    await again.close();
  });

  it('stops at maxSeq (what is durable) and resumes from there', async () => {
    const { spool, written } = await filled(1000, 8 * 1024 * 1024);
    const first = await spool.read(1, 600, 10_000);
    expect(first.map((r) => r.seq)).toEqual(written.slice(0, 600).map((w) => w.seq));
    const rest = await spool.read(601, 1000, 10_000);
    expect(rest.map(text)).toEqual(written.slice(600).map((w) => w.payload));
    await spool.close();
  });

  it('lets the event loop run between the chunks of one long read', async () => {
    // One 8 MiB segment of ~1.3 MiB: decoded in one piece it would hold the loop for all of it.
    const { spool } = await filled(2500, 8 * 1024 * 1024);
    const cursor = () => (spool as unknown as { readCursor: { offset: number } | null }).readCursor?.offset;
    const seen = new Set<number>();
    let reading = true;
    const watch = (): void => {
      const at = cursor();
      if (at !== undefined) seen.add(at);
      if (reading) setImmediate(watch);
    };
    setImmediate(watch);
    const all = await spool.read(1, 2500, 10_000);
    reading = false;
    expect(all).toHaveLength(2500);
    // Progress was visible between chunks, not only once the whole segment was decoded.
    expect(seen.size).toBeGreaterThanOrEqual(3);
    await spool.close();
  });
});
