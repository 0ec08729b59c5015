import { median, medianInterval } from '../../bench/stats';

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones, without reordering its input', () => {
    const xs = [3, 1, 2];
    expect(median(xs)).toBe(2);
    expect(xs).toEqual([3, 1, 2]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('medianInterval', () => {
  it('for 8 rounds at 90 %: the 2nd and 7th values, covering 1 - 2 * 9/256', () => {
    const i = medianInterval([0.9, 0.74, 0.85, 0.79, 0.81, 0.84, 0.91, 0.72]);
    expect(i).toEqual({ low: 0.74, high: 0.9, coverage: 1 - 18 / 256, ranks: [2, 7] });
  });

  it('narrows as rounds are added and widens as the level rises', () => {
    const xs = Array.from({ length: 16 }, (_, i) => i + 1);
    // 16 values, 90 %: P(X <= 4) = 2517/65536 = 0.0384 per side -> ranks 5 and 12.
    expect(medianInterval(xs)?.ranks).toEqual([5, 12]);
    expect(medianInterval(xs)?.coverage).toBeCloseTo(1 - (2 * 2517) / 65536, 12);
    // 95 %: P(X <= 3) = 697/65536 per side -> ranks 4 and 13.
    expect(medianInterval(xs, 0.95)?.ranks).toEqual([4, 13]);
  });

  it('is the whole range when only that reaches the level, and undefined when nothing does', () => {
    expect(medianInterval([5, 1, 3, 2, 4])).toEqual({ low: 1, high: 5, coverage: 1 - 2 / 32, ranks: [1, 5] });
    expect(medianInterval([1, 2, 3, 4])).toBeUndefined(); // the full range covers 1 - 2/16 = 87.5 %
    expect(medianInterval([])).toBeUndefined();
    expect(() => medianInterval([1, 2], 1)).toThrow(RangeError);
  });
});
