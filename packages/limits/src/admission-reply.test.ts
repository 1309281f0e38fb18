import { describe, expect, it } from 'vitest';
import { parseReply } from './admission.ts';

const windows = [9, 60_000, 99, 3_600_000, 499, 86_400_000, 999, 3_600_000];

describe('parseReply (the admit script reply)', () => {
  it('reads an admission and a known refusal', () => {
    expect(parseReply([1, 0, 0, ...windows, 4])).toMatchObject({ allowed: true, inFlightRemaining: 4 });
    expect(parseReply([0, 5, 1_500, ...windows, 0])).toMatchObject({
      allowed: false,
      refusedBy: 5,
      waitMs: 1_500,
    });
  });

  it('rejects a refusal by a check it does not know instead of admitting it', () => {
    expect(() => parseReply([0, 8, 1_000, ...windows, -1])).toThrow(/unknown check 8/);
    expect(() => parseReply([0, 0, 0, ...windows, -1])).toThrow(/unknown check 0/);
  });

  it('rejects a reply that is not a list', () => {
    expect(() => parseReply('OK')).toThrow(/unexpected script reply/);
  });
});
