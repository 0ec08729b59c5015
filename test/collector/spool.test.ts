import { copyFileSync, mkdtempSync, readdirSync, rmSync, promises as fsp } from 'node:fs';
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
  describe('a failed append, retried as the collector retries it', () => {
    type Handle = Awaited<ReturnType<typeof fsp.open>>;
    let proto: Handle;
    beforeEach(async () => {
      const probe = await fsp.open(dir, 'r');
      proto = Object.getPrototypeOf(probe) as Handle;
      await probe.close();
    });
    afterEach(() => jest.restoreAllMocks());

    /** The next write puts half its bytes in the file, then fails as a full disk does. */
    function tornWriteOnce(): void {
      const realWrite = proto.write as (buf: Buffer, offset: number, length: number) => Promise<unknown>;
      jest.spyOn(proto, 'write').mockImplementationOnce(async function (this: Handle, ...args: unknown[]) {
        const [buf, offset, length] = args as [Buffer, number, number];
        await realWrite.call(this, buf, offset, Math.floor(length / 2));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      } as never);
    }

    /** The next fdatasync fails as a failing disk's does. */
    function failedFsyncOnce(): void {
      jest
        .spyOn(proto, 'datasync')
        .mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    }

    /** Appends records from..from+9 with `fail` arranged, expects the error, then retries them. */
    async function failThenRetry(spool: Spool, from: number, fail: () => void, code: string): Promise<void> {
      fail();
      await expect(spool.append(records(from, 10))).rejects.toThrow(code);
      await spool.append(records(from, 10));
    }

    async function expectAll(spool: Spool, n: number): Promise<void> {
      const expected = records(1, n);
      const inProcess = await spool.read(1, n, 10_000);
      expect(inProcess.map((r) => r.seq)).toEqual(expected.map((w) => w.seq));
      await spool.close();
      const { spool: reopened, recovery } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      expect(recovery).toMatchObject({ records: n, firstSeq: 1, lastSeq: n, discardedBytes: 0 });
      const recovered = await reopened.read(1, n, 10_000);
      expect(recovered.map(text)).toEqual(expected.map((w) => w.payload));
      await reopened.close();
    }

    it('a write torn by a full disk leaves no bytes before the retry: nothing after it is lost', async () => {
      const { spool } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      await spool.append(records(1, 10));
      await failThenRetry(spool, 11, tornWriteOnce, 'ENOSPC');
      await spool.append(records(21, 10));
      await expectAll(spool, 30);
    });

    it('a failed fdatasync: the group is written again in a new segment, each record recovered once', async () => {
      const { spool } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      await spool.append(records(1, 10));
      await failThenRetry(spool, 11, failedFsyncOnce, 'EIO');
      await spool.append(records(21, 10));
      expect(readdirSync(dir).sort()).toEqual(['seg-0000000000000001.spool', 'seg-0000000000000011.spool']);
      await expectAll(spool, 30);
    });

    it("a segment's first append failing: the retry makes the segment afresh", async () => {
      const { spool } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      await failThenRetry(spool, 1, tornWriteOnce, 'ENOSPC');
      await spool.append(records(11, 10));
      await expectAll(spool, 20);
    });
  });

  it('recovery skips the copies a later segment repeats and keeps the records after them', async () => {
    // What a retried append leaves when the failed attempt could not be cut back: an intact earlier
    // copy of the group at the end of one segment, the retry at the start of the next.
    const other = mkdtempSync(path.join(tmpdir(), 'spool-test-'));
    try {
      const { spool: a } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      await a.append(records(1, 10));
      await a.close();
      const { spool: b } = await Spool.open(other, { segmentBytes: 8 * 1024 * 1024 });
      await b.append(records(5, 11));
      await b.close();
      copyFileSync(
        path.join(other, 'seg-0000000000000005.spool'),
        path.join(dir, 'seg-0000000000000005.spool'),
      );
      const { spool, recovery } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      expect(recovery).toMatchObject({ records: 15, firstSeq: 1, lastSeq: 15, discardedBytes: 0 });
      expect((await spool.read(1, 15, 100)).map((r) => r.seq)).toEqual(records(1, 15).map((r) => r.seq));
      await spool.close();
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  describe('damage inside a segment (a byte changed on disk)', () => {
    const SEG = 'seg-0000000000000001.spool';
    /** Writes 100 records, then changes one byte of record `n`'s `field` (header or payload). */
    async function damaged(n: number, field: 'length' | 'crc' | 'seq' | 'payload'): Promise<Buffer> {
      const { spool } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      await spool.append(records(1, 100));
      await spool.close();
      const file = path.join(dir, SEG);
      const buf = await fsp.readFile(file);
      let off = 0;
      for (let i = 1; i < n; i += 1) off += 16 + buf.readUInt32BE(off);
      const at = { length: off + 1, crc: off + 5, seq: off + 15, payload: off + 20 }[field];
      buf[at] = (buf[at] as number) ^ 0x5a;
      await fsp.writeFile(file, buf);
      return buf;
    }

    it.each(['length', 'crc', 'seq', 'payload'] as const)(
      'a damaged %s: the records after it are kept and replayed, the one lost is counted and set aside',
      async (field) => {
        await damaged(3, field);
        const { spool, recovery } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
        expect(recovery).toMatchObject({ records: 99, firstSeq: 1, lastSeq: 100, corruptRecords: 1 });
        const seqs = (await spool.read(1, 100, 1000)).map((r) => r.seq);
        expect(seqs).toEqual([1, 2, ...Array.from({ length: 97 }, (_, i) => i + 4)]);
        // The damaged bytes are kept for inspection, beside the segment (not read as one).
        expect((await fsp.stat(path.join(dir, `${SEG}.corrupt`))).size).toBeGreaterThan(16);
        await spool.close();
        // Recovered once: opening again finds nothing more to set aside.
        const again = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
        expect(again.recovery).toMatchObject({ records: 99, corruptRecords: 0 });
        await again.spool.close();
      },
    );

    it('damage to the first record: the segment still yields the rest', async () => {
      await damaged(1, 'payload');
      const { spool, recovery } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      expect(recovery).toMatchObject({ records: 99, firstSeq: 2, lastSeq: 100, corruptRecords: 1 });
      await spool.close();
    });

    it('a torn last record (nothing intact after it) is still only cut off, not counted as lost', async () => {
      const { spool: a } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      await a.append(records(1, 10));
      await a.close();
      const file = path.join(dir, SEG);
      const size = (await fsp.stat(file)).size;
      await fsp.truncate(file, size - 7);
      const { spool, recovery } = await Spool.open(dir, { segmentBytes: 8 * 1024 * 1024 });
      expect(recovery).toMatchObject({ records: 9, lastSeq: 9, corruptRecords: 0 });
      expect(recovery.discardedBytes).toBeGreaterThan(0);
      expect(readdirSync(dir).filter((f) => f.endsWith('.corrupt'))).toEqual([]);
      await spool.close();
    });
  });
});
