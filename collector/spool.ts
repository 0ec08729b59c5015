/**
 * The on-disk spool: an append-only write-ahead log of accepted events, in segment files.
 * Every record carries its sequence number and a CRC-32, so that after `kill -9` (or a power cut) a
 * torn last record is recognised and cut off instead of poisoning the replay, and a record damaged
 * on disk is skipped (and set aside) without losing the acknowledged records after it. Segments are deleted
 * only when every event in them is committed to the audit store.
 *
 * Record layout: u32 payload length | u32 crc32(seq + payload) | u64 seq | payload (UTF-8: the
 * collector writes audit rows, see audit-row.ts).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

const HEADER_BYTES = 16;
/** Larger than any valid event (the HTTP body limit is per batch, events are < 2 KiB). */
const MAX_PAYLOAD_BYTES = 64 * 1024;
const SEGMENT_PATTERN = /^seg-(\d{16})\.spool$/;
/**
 * Bytes read and decoded per step of `read`. Decoding (a CRC per record) runs on the event loop: a
 * whole 8 MiB segment at once held it for tens of milliseconds, and every acknowledgement with it.
 */
const DEFAULT_READ_CHUNK_BYTES = 1024 * 1024;

export interface SpoolRecord {
  seq: number;
  payload: Buffer;
}

/** A record to append: the payload as bytes, or as text with its UTF-8 length (no buffer per record). */
export interface SpoolInput {
  seq: number;
  payload: Buffer | string;
  bytes: number;
}

interface Segment {
  name: string;
  firstSeq: number;
  lastSeq: number;
  bytes: number;
}

export interface SpoolRecovery {
  /** Records found on disk (not yet known to be committed). */
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Bytes cut off the end of segments (torn or corrupt records). */
  discardedBytes: number;
  /**
   * Records lost to damage inside a segment (a corrupt record with intact ones after it): counted
   * from the gap in sequence numbers around it. The intact records after it are kept; the damaged
   * bytes are set aside in `<segment>.corrupt` beside it.
   */
  corruptRecords: number;
}

/**
 * A sequence number further ahead than this from the last intact record is not taken as the next
 * record when resynchronising after damage (it would be bytes that happen to pass the CRC).
 */
const MAX_RESYNC_GAP = 1_000_000;

/** The intact record at `off`: its sequence number and end, or undefined. */
function recordAt(buf: Buffer, off: number): { seq: number; end: number } | undefined {
  if (off + HEADER_BYTES > buf.length) return undefined;
  const len = buf.readUInt32BE(off);
  if (len > MAX_PAYLOAD_BYTES || off + HEADER_BYTES + len > buf.length) return undefined;
  const end = off + HEADER_BYTES + len;
  if (crc32(buf.subarray(off + 8, end)) !== buf.readUInt32BE(off + 4)) return undefined;
  return { seq: buf.readUInt32BE(off + 8) * 0x1_0000_0000 + buf.readUInt32BE(off + 12), end };
}

/**
 * The next intact record at or after `from` whose sequence number follows `afterSeq` (within
 * MAX_RESYNC_GAP): where the segment goes on after a damaged record. The sequence number is checked
 * before the CRC, so that scanning damaged bytes costs a few reads per byte.
 */
function nextRecord(buf: Buffer, from: number, afterSeq: number): number | undefined {
  for (let p = from; p + HEADER_BYTES <= buf.length; p += 1) {
    const seq = buf.readUInt32BE(p + 8) * 0x1_0000_0000 + buf.readUInt32BE(p + 12);
    if (seq <= afterSeq || seq > afterSeq + MAX_RESYNC_GAP) continue;
    if (recordAt(buf, p) !== undefined) return p;
  }
  return undefined;
}

interface SegmentScan {
  /** Intact records, in order: start, end and sequence number. */
  kept: Array<[number, number, number]>;
  /** Byte ranges of damaged records followed by intact ones. */
  damaged: Array<[number, number]>;
  /** Records lost in the damaged ranges (gaps in sequence numbers). */
  lost: number;
  /** Where the intact data ends: what follows is a torn tail. */
  end: number;
}

/**
 * Reads a segment's records as recovery must: a damaged record followed by intact ones is skipped
 * (they were acknowledged: cutting the segment there would lose them all), and only a torn tail,
 * after which nothing intact follows, is cut off. `firstSeq`: the segment's first record, from its
 * name (damage can hit the first record too).
 */
function scanSegment(buf: Buffer, firstSeq: number): SegmentScan {
  const scan: SegmentScan = { kept: [], damaged: [], lost: 0, end: 0 };
  let off = 0;
  let last = firstSeq - 1;
  while (off < buf.length) {
    const r = recordAt(buf, off);
    // Sequence numbers only grow within a segment: one that does not is damage too.
    if (r !== undefined && r.seq > last) {
      scan.kept.push([off, r.end, r.seq]);
      last = r.seq;
      off = r.end;
      continue;
    }
    const next = nextRecord(buf, off + 1, last);
    if (next === undefined) break;
    scan.damaged.push([off, next]);
    scan.lost += (recordAt(buf, next) as { seq: number }).seq - last - 1;
    off = next;
  }
  scan.end = off;
  return scan;
}

/** Encodes a group of records into one buffer (no per-record buffer to allocate and copy again). */
function encodeRecords(records: readonly SpoolInput[]): Buffer {
  let total = 0;
  for (const r of records) total += HEADER_BYTES + r.bytes;
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  for (const r of records) {
    const p = r.payload;
    const len =
      typeof p === 'string' ? buf.write(p, off + HEADER_BYTES, 'utf8') : p.copy(buf, off + HEADER_BYTES);
    if (len !== r.bytes) throw new Error('spool: record length does not match its payload');
    const end = off + HEADER_BYTES + len;
    buf.writeUInt32BE(len, off);
    buf.writeUInt32BE(Math.floor(r.seq / 0x1_0000_0000), off + 8);
    buf.writeUInt32BE(r.seq >>> 0, off + 12);
    buf.writeUInt32BE(crc32(buf.subarray(off + 8, end)), off + 4);
    off = end;
  }
  return buf;
}

/** Parses complete, intact records from `buf`; stops at the first torn or corrupt one. */
function decodeRecords(
  buf: Buffer,
  onRecord: (seq: number, payload: Buffer, end: number) => boolean,
): { end: number; clean: boolean } {
  let off = 0;
  while (off + HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32BE(off);
    if (len > MAX_PAYLOAD_BYTES || off + HEADER_BYTES + len > buf.length) return { end: off, clean: false };
    const crc = buf.readUInt32BE(off + 4);
    const body = buf.subarray(off + 8, off + HEADER_BYTES + len);
    if (crc32(body) !== crc) return { end: off, clean: false };
    const seq = Number(buf.readBigUInt64BE(off + 8));
    const end = off + HEADER_BYTES + len;
    if (!onRecord(seq, buf.subarray(off + HEADER_BYTES, end), end)) return { end, clean: true };
    off = end;
  }
  return { end: off, clean: off === buf.length };
}

/** Whether decoding stopped at `end` because the record there runs past the buffer (not corrupt). */
function isPartial(buf: Buffer, end: number): boolean {
  if (buf.length - end < HEADER_BYTES) return true;
  const len = buf.readUInt32BE(end);
  return len <= MAX_PAYLOAD_BYTES && end + HEADER_BYTES + len > buf.length;
}

export class Spool {
  private segments: Segment[] = [];
  private current: { seg: Segment; fh: fsp.FileHandle } | null = null;
  private totalBytes = 0;
  /** Where the last read stopped, so that a long backlog is read once, not rescanned per batch. */
  private readCursor: { name: string; offset: number; nextSeq: number } | null = null;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    private readonly readChunkBytes: number,
  ) {}

  /** Opens (and creates) the spool folder and recovers what a previous process left. */
  static async open(
    dir: string,
    opts: { segmentBytes: number; readChunkBytes?: number },
  ): Promise<{ spool: Spool; recovery: SpoolRecovery }> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    // Never smaller than one record: a chunk must always hold the next one whole.
    const chunk = Math.max(opts.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES, HEADER_BYTES + MAX_PAYLOAD_BYTES);
    const spool = new Spool(dir, opts.segmentBytes, chunk);
    const recovery = await spool.recover();
    return { spool, recovery };
  }

  private async recover(): Promise<SpoolRecovery> {
    const names = (await fsp.readdir(this.dir)).filter((n) => SEGMENT_PATTERN.test(n)).sort();
    const out: SpoolRecovery = {
      records: 0,
      firstSeq: null,
      lastSeq: null,
      discardedBytes: 0,
      corruptRecords: 0,
    };
    for (const name of names) {
      const file = path.join(this.dir, name);
      const buf: Buffer = await fsp.readFile(file);
      const scan = scanSegment(buf, Number(SEGMENT_PATTERN.exec(name)?.[1]));
      // What follows the last intact record is a torn tail: cut off (a rewrite leaves it out too).
      out.discardedBytes += buf.length - scan.end;
      let end = scan.end;
      if (scan.damaged.length > 0) {
        end = await this.setAsideDamage(name, buf, scan);
        out.corruptRecords += scan.lost;
      } else if (end < buf.length) {
        await fsp.truncate(file, end);
      }
      let first = -1;
      let last = -1;
      let count = 0;
      for (const [, , seq] of scan.kept) {
        // An intact record an earlier segment already holds is the copy of an append that was
        // retried in a new segment after its first attempt failed: skipped, not a reason to cut
        // off the records after it.
        if (out.lastSeq !== null && seq <= out.lastSeq) continue;
        if (first < 0) first = seq;
        last = seq;
        count += 1;
      }
      if (count === 0) {
        await fsp.unlink(file);
        continue;
      }
      this.segments.push({ name, firstSeq: first, lastSeq: last, bytes: end });
      this.totalBytes += end;
      out.records += count;
      out.firstSeq ??= first;
      out.lastSeq = last;
    }
    return out;
  }

  /**
   * Rewrites a damaged segment with its intact records only (a new file made durable, then renamed
   * over it), after appending the damaged bytes to `<segment>.corrupt` for inspection. Returns the
   * segment's new length.
   */
  private async setAsideDamage(name: string, buf: Buffer, scan: SegmentScan): Promise<number> {
    const file = path.join(this.dir, name);
    const damaged = Buffer.concat(scan.damaged.map(([a, b]) => buf.subarray(a, b)));
    await writeDurably(`${file}.corrupt`, damaged, 'a');
    const kept = Buffer.concat(scan.kept.map(([a, b]) => buf.subarray(a, b)));
    await writeDurably(`${file}.tmp`, kept, 'w');
    await fsp.rename(`${file}.tmp`, file);
    await fsyncDir(this.dir);
    return kept.length;
  }

  bytes(): number {
    return this.totalBytes;
  }

  /** Appends records (ascending seq, continuing the spool) and makes them durable (fdatasync). */
  async append(records: readonly SpoolInput[]): Promise<void> {
    if (records.length === 0) return;
    const first = records[0] as SpoolInput;
    const last = records[records.length - 1] as SpoolInput;
    if (!this.current) {
      const name = `seg-${String(first.seq).padStart(16, '0')}.spool`;
      const fh = await fsp.open(path.join(this.dir, name), 'a', 0o600);
      // A file of that name that is not one of our segments holds nothing acknowledged: what is
      // left of a segment whose first append failed. Its bytes must not precede the new records.
      if ((await fh.stat()).size > 0) await fh.truncate(0);
      // The new file's directory entry must be durable too, or a crash could lose the whole segment.
      await fsyncDir(this.dir);
      const seg: Segment = { name, firstSeq: first.seq, lastSeq: first.seq - 1, bytes: 0 };
      this.segments.push(seg);
      this.current = { seg, fh };
    }
    const buf = encodeRecords(records);
    const { seg, fh } = this.current;
    try {
      let written = 0;
      while (written < buf.length) {
        const { bytesWritten } = await fh.write(buf, written, buf.length - written);
        written += bytesWritten;
      }
      await fh.datasync();
    } catch (err) {
      await this.abandonCurrent();
      throw err;
    }
    seg.lastSeq = last.seq;
    seg.bytes += buf.length;
    this.totalBytes += buf.length;
    if (seg.bytes >= this.segmentBytes) {
      this.current = null;
      await fh.close();
    }
  }

  /**
   * After a failed append (ENOSPC part-way through a write, EIO from fdatasync): the group's bytes
   * may be in the file, whole, torn or not durable, and the caller will retry the same records.
   * Appended after them, the retry would follow a torn record (recovery and reads stop there, so
   * everything after it is lost) or repeat sequence numbers. So the file is cut back to its last
   * durable record and never written again: after a failed fsync the kernel may have dropped the
   * dirty pages and reported them clean, so the handle cannot be trusted. The next append starts a
   * new segment. If the cut fails too, reads stop at the recorded length and recovery cuts the tail.
   */
  private async abandonCurrent(): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    await cur.fh.truncate(cur.seg.bytes).catch(() => undefined);
    await cur.fh.close().catch(() => undefined);
    if (cur.seg.bytes === 0) {
      // Nothing durable in it: forget it, so that a segment starting at the same record can be made.
      this.segments = this.segments.filter((s) => s !== cur.seg);
      await fsp.unlink(path.join(this.dir, cur.seg.name)).catch(() => undefined);
    }
  }

  /**
   * Reads up to `maxCount` records with `fromSeq <= seq <= maxSeq`, in order. Only records made
   * durable by `append` are within `maxSeq`, so a write in progress is never read half-done.
   * Segments are read and decoded in chunks, with the event loop free between two. Payloads are
   * views of a chunk's buffer (decode them, do not keep them: they hold it all).
   */
  async read(fromSeq: number, maxSeq: number, maxCount: number): Promise<SpoolRecord[]> {
    const out: SpoolRecord[] = [];
    let nextSeq = fromSeq;
    for (const seg of this.segments) {
      if (out.length >= maxCount || nextSeq > maxSeq) break;
      if (seg.lastSeq < nextSeq) continue;
      const cursor = this.readCursor;
      let offset = cursor && cursor.name === seg.name && cursor.nextSeq === nextSeq ? cursor.offset : 0;
      const fh = await fsp.open(path.join(this.dir, seg.name), 'r');
      try {
        const limit = Math.min(seg.bytes, (await fh.stat()).size);
        while (offset < limit && out.length < maxCount && nextSeq <= maxSeq) {
          const buf = Buffer.allocUnsafe(Math.min(this.readChunkBytes, limit - offset));
          let got = 0;
          while (got < buf.length) {
            const { bytesRead } = await fh.read(buf, got, buf.length - got, offset + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
          const chunk = buf.subarray(0, got);
          let lastEnd = 0;
          const { end, clean } = decodeRecords(chunk, (seq, payload, recordEnd) => {
            if (seq > maxSeq || out.length >= maxCount) return false;
            if (seq >= nextSeq) {
              out.push({ seq, payload }); // a view of this chunk: the caller decodes it at once
              nextSeq = seq + 1;
              lastEnd = recordEnd;
            }
            return true;
          });
          if (lastEnd > 0) this.readCursor = { name: seg.name, offset: offset + lastEnd, nextSeq };
          // A record cut by the chunk's end is read whole with the next chunk; one cut by the
          // segment's end (or a corrupt one) ends this segment, as recovery would have cut it.
          const cutByChunk = !clean && offset + got < limit && isPartial(chunk, end);
          if (clean && end === got) offset += got;
          else if (cutByChunk && end > 0) offset += end;
          else break;
        }
      } finally {
        await fh.close();
      }
    }
    return out;
  }

  /** Deletes closed segments whose every record is committed (seq <= `committedSeq`). */
  async release(committedSeq: number): Promise<void> {
    while (this.segments.length > 0) {
      const seg = this.segments[0] as Segment;
      if (seg.lastSeq > committedSeq || (this.current && this.current.seg === seg)) break;
      this.segments.shift();
      this.totalBytes -= seg.bytes;
      await fsp.unlink(path.join(this.dir, seg.name)).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const cur = this.current;
    this.current = null;
    if (cur) await cur.fh.close().catch(() => undefined);
  }
}

async function writeDurably(file: string, data: Buffer, flags: 'a' | 'w'): Promise<void> {
  const fh = await fsp.open(file, flags, 0o600);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
