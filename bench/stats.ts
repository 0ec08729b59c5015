/** Small statistics shared by the benchmark scripts. */

/** The median of `xs` (NaN when empty); the input is not reordered. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** An interval of order statistics holding the median with at least the asked probability. */
export interface MedianInterval {
  readonly low: number;
  readonly high: number;
  /** Its exact coverage, from the binomial distribution (distribution-free). */
  readonly coverage: number;
  /** 1-based ranks of `low` and `high` in the sorted input. */
  readonly ranks: readonly [number, number];
}

/**
 * The narrowest interval [x(k), x(n+1-k)] of the sorted `xs` that holds the true median with at least
 * `level` probability, whatever the distribution: the chance that fewer than k of n values fall below
 * the median is P(Binomial(n, 1/2) < k). With 8 rounds and 0.9: the 2nd and 7th values, 93 %. Says how
 * far a median of a few noisy rounds may be from the value more rounds would give. Undefined when
 * even the whole range does not reach `level` (fewer than 5 values at 0.9).
 */
export function medianInterval(xs: readonly number[], level = 0.9): MedianInterval | undefined {
  const n = xs.length;
  if (!(level > 0 && level < 1)) throw new RangeError('level must be between 0 and 1');
  if (n === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  // Binomial(n, 1/2) cumulative probabilities, P(X <= j), built up term by term.
  const below: number[] = [];
  let term = 0.5 ** n;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    sum += term;
    below.push(sum);
    term = (term * (n - j)) / (j + 1);
  }
  let best: MedianInterval | undefined;
  for (let k = 1; k <= n >> 1; k++) {
    // Outside [x(k), x(n+1-k)] on either side: fewer than k values below (or above) the median.
    const coverage = 1 - 2 * (below[k - 1] as number);
    if (coverage < level) break;
    best = { low: s[k - 1] as number, high: s[n - k] as number, coverage, ranks: [k, n + 1 - k] };
  }
  return best;
}
