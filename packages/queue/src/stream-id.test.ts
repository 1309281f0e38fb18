import { describe, expect, it } from 'vitest';
import { isStreamId } from './stream-id.ts';

describe('isStreamId', () => {
  it.each([
    ['0-0', true],
    ['1718000000000-3', true],
    ['18446744073709551615-18446744073709551615', true],
    ['18446744073709551616-0', false],
    ['0-18446744073709551616', false],
    ['99999999999999999999-0', false],
    ['123', false],
    ['1-2-3', false],
    ['-1-0', false],
    ['1-', false],
    ['1 -2', false],
    ['١-٢', false],
    ['1-2\u0000', false],
    ['', false],
  ])('%j → %s', (id, expected) => {
    expect(isStreamId(id)).toBe(expected);
  });
});
