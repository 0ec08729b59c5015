/** The contract between the bounded log queue and whatever finally receives the lines. */
export interface LogTarget {
  /** Short identifier for diagnostics (`stdout`, `file`, `elasticsearch`). */
  readonly name: string;
  /**
   * Takes one batch of NDJSON lines (`lines` of them in `chunk`). Calls `done(lostLines)` once it
   * can take the next batch; `lostLines` are lines of this batch it could not deliver.
   */
  write(chunk: string, lines: number, done: (lostLines: number) => void): void;
  /** Delivers what it holds until `deadline` (epoch ms), releases its resources; resolves to lines lost. */
  close(deadline: number): Promise<number>;
}

/** Hooks a target uses to report what it lost after `done` was called (e.g. a dead Elasticsearch stream). */
export interface TargetContext {
  lost(lines: number): void;
  shippingError(): void;
}
