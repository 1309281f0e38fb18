import { describe, expect, it } from 'vitest';
import { isCalendarDay, UsageParams } from './usage.ts';

describe('isCalendarDay', () => {
  it.each([
    ['2024-02-29', true],
    ['2023-02-28', true],
    ['1970-01-01', true],
    ['9999-12-31', true],
    ['2023-02-29', false],
    ['2024-02-30', false],
    ['2024-13-45', false],
    ['2024-99-99', false],
    ['0000-00-00', false],
    ['2024-04-31', false],
    ['2024-1-1', false],
    ['2024-01-01T00:00:00Z', false],
    ['+02024-01-01', false],
    ['2024-01-01\u0000', false],
    ['', false],
  ])('%j → %s', (day, expected) => {
    expect(isCalendarDay(day)).toBe(expected);
  });
});

describe('UsageParams', () => {
  it('accepts a real range and refuses days Postgres cannot hold', () => {
    expect(UsageParams.parse({ from: '2024-02-01', to: '2024-02-29' })).toEqual({
      from: '2024-02-01',
      to: '2024-02-29',
    });
    expect(UsageParams.safeParse({ from: '0001-01-01' }).success).toBe(false);
    expect(UsageParams.safeParse({ from: '2024-03-02', to: '2024-03-01' }).success).toBe(false);
  });
});
