/** Test targets: one that records what it receives, one that never finishes a write (stalled sink). */
import type { LogTarget } from '../../../collector/logging';

export interface CaptureTarget extends LogTarget {
  text(): string;
  lines(): Array<Record<string, unknown>>;
}

export function captureTarget(): CaptureTarget {
  let out = '';
  return {
    name: 'capture',
    write(chunk, _lines, done) {
      out += chunk;
      done(0);
    },
    close: async () => 0,
    text: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Accepts the first batch and never calls back: everything after it must wait in the buffer. */
export function stalledTarget(): LogTarget & { batches: number } {
  const t = {
    name: 'stalled',
    batches: 0,
    write(_chunk: string, _lines: number, _done: (lost: number) => void) {
      t.batches++;
    },
    close: async () => 0,
  };
  return t;
}

export const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
