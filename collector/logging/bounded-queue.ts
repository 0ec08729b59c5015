/**
 * A bounded, non-blocking buffer in front of one LogTarget. The caller's cost is an array push;
 * batching, joining and writing happen later on the event loop. When the target is slower than
 * the producers the buffer refuses new lines past `maxBytes` and counts them (`buffer_full`):
 * memory stays bounded instead of growing like pino's worker-thread transport does.
 */
import type { LogTarget } from './log-target';
import type { LogDropReason } from './metrics';

export interface BoundedQueueOptions {
  /** Cap on buffered characters (ASCII JSON: bytes). */
  maxBytes: number;
  /** Largest batch handed to the target at once. */
  maxBatchBytes?: number;
  /**
   * How long a small batch waits for more lines before it is written (default 20 ms); a batch of
   * `minBatchBytes` (default 64 KiB) goes at once. One write per event-loop turn cost the service a
   * write (and a thread-pool hop) for every line or two under load; waiting a little makes it one
   * write per few hundred lines, as pino's sonic-boom does with its minLength.
   */
  lingerMs?: number;
  minBatchBytes?: number;
  onDrop(reason: LogDropReason, lines: number): void;
}

export interface QueueStats {
  bufferedBytes: number;
  bufferedLines: number;
  peakBufferedBytes: number;
  writtenLines: number;
  droppedLines: { buffer_full: number; sink_error: number };
}

export class BoundedQueue {
  private lines: string[] = [];
  private head = 0;
  private bytes = 0;
  private peak = 0;
  private written = 0;
  private readonly dropped = { buffer_full: 0, sink_error: 0 };
  private writing = false;
  private inFlightLines = 0;
  private scheduled = false;
  private closing = false;
  /** No more lines accepted (close() started writing its final state). */
  private closed = false;
  /** The target's late callbacks are ignored: their lines were already counted. */
  private finished = false;
  private lostInCallbacksDuringClose = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly maxBatchBytes: number;
  private readonly flattenAbove: number;
  private readonly lingerMs: number;
  private readonly minBatchBytes: number;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: LogTarget,
    private readonly opts: BoundedQueueOptions,
  ) {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1024) {
      throw new RangeError('logging: maxBufferBytes must be an integer >= 1024');
    }
    this.maxBatchBytes = Math.min(opts.maxBatchBytes ?? 1024 * 1024, opts.maxBytes);
    this.flattenAbove = Math.min(1024 * 1024, Math.floor(opts.maxBytes / 8));
    this.lingerMs = opts.lingerMs ?? 20;
    this.minBatchBytes = Math.min(opts.minBatchBytes ?? 64 * 1024, this.maxBatchBytes);
  }

  get targetName(): string {
    return this.target.name;
  }

  /** Hot path: no I/O, no allocation besides the array slot. */
  push(line: string): void {
    if (this.closed) return this.drop('sink_error', 1);
    const size = line.length;
    if (this.bytes + size > this.opts.maxBytes) return this.drop('buffer_full', 1);
    // Under backlog, reading a character flattens the rope (cons string) pino built the line
    // from: queued lines then hold ~1.1 bytes of heap per character instead of ~4.4. Without
    // backlog the rope is joined and freed at once, so the copy is skipped.
    if (this.bytes > this.flattenAbove) line.charCodeAt(0);
    this.lines.push(line);
    this.bytes += size;
    if (this.bytes > this.peak) this.peak = this.bytes;
    if (this.writing) return;
    if (this.bytes >= this.minBatchBytes || this.lingerMs <= 0) {
      if (this.lingerTimer !== undefined) {
        clearTimeout(this.lingerTimer);
        this.lingerTimer = undefined;
        this.scheduled = false;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.pump);
      }
    } else if (!this.scheduled) {
      this.scheduled = true;
      // Not unref'd: lines pushed just before a natural exit are still written (it waits lingerMs).
      this.lingerTimer = setTimeout(this.pump, this.lingerMs);
    }
  }

  drop(reason: LogDropReason, lines: number): void {
    if (lines <= 0) return;
    this.dropped[reason] += lines;
    this.opts.onDrop(reason, lines);
  }

  stats(): QueueStats {
    return {
      bufferedBytes: this.bytes,
      bufferedLines: this.lines.length - this.head,
      peakBufferedBytes: this.peak,
      writtenLines: this.written,
      droppedLines: { ...this.dropped },
    };
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (this.writing || this.finished) return;
    const available = this.lines.length - this.head;
    if (available === 0) return this.notifyIdle();
    let end = this.head;
    let batchBytes = 0;
    while (
      end < this.lines.length &&
      (batchBytes === 0 || batchBytes + this.lines[end]!.length <= this.maxBatchBytes)
    ) {
      batchBytes += this.lines[end]!.length;
      end++;
    }
    const count = end - this.head;
    const chunk =
      count === this.lines.length ? this.lines.join('') : this.lines.slice(this.head, end).join('');
    if (end === this.lines.length) {
      this.lines = [];
      this.head = 0;
    } else {
      this.head = end;
      // Compact now and then so the array does not keep consumed slots alive.
      if (this.head >= 4096 && this.head * 2 >= this.lines.length) {
        this.lines = this.lines.slice(this.head);
        this.head = 0;
      }
    }
    this.bytes -= batchBytes;
    this.writing = true;
    this.inFlightLines = count;
    this.target.write(chunk, count, (lost) => {
      if (this.finished) return; // close() already counted this batch as lost
      this.writing = false;
      this.inFlightLines = 0;
      this.written += count - lost;
      this.drop('sink_error', lost);
      if (this.closed) this.lostInCallbacksDuringClose += lost;
      this.afterWrite();
    });
  };

  /**
   * Lines that arrived during a write wait for the linger like any others (unless a full batch is
   * waiting or the queue is closing): pumping at once made a busy service write a line or two per
   * write again, as fast as the target completed them (bench:stack: ~70 µs of a PHI read's CPU).
   */
  private afterWrite(): void {
    const waiting = this.lines.length - this.head;
    if (waiting === 0 || this.closing || this.lingerMs <= 0 || this.bytes >= this.minBatchBytes) {
      this.pump();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    this.lingerTimer = setTimeout(this.pump, this.lingerMs);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once everything pushed so far was handed to the target (or never, if it is stuck). */
  private idle(): Promise<void> {
    if (!this.writing && this.lines.length - this.head === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes what is buffered until `deadline`, then counts the rest as `sink_error` and closes the target. */
  async close(deadline: number): Promise<{ lost: number }> {
    if (this.closing) return { lost: 0 };
    this.closing = true;
    // What waits for more lines goes now.
    if (this.lingerTimer !== undefined) this.pump();
    // This timer is deliberately not unref'd: `await close()` must resolve (and the shutdown
    // sequence after it run) even when nothing else keeps the event loop alive. It is bounded.
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), false);
      }),
    ]);
    clearTimeout(timer);
    this.closed = true;
    const left = this.lines.length - this.head;
    this.lines = [];
    this.head = 0;
    this.bytes = 0;
    this.drop('sink_error', left);
    // The target reports a partly delivered batch through its callback, and lines it lost after
    // acknowledging them as its return value; a batch it never answered is counted here.
    const lostInTarget = await this.target.close(drained ? deadline : Date.now());
    this.drop('sink_error', lostInTarget);
    const stuck = this.writing ? this.inFlightLines : 0;
    this.drop('sink_error', stuck);
    this.finished = true;
    this.writing = false;
    this.inFlightLines = 0;
    this.notifyIdle();
    return { lost: left + lostInTarget + stuck + this.lostInCallbacksDuringClose };
  }
}
