import { describe, expect, it } from 'vitest';
import { costMicros } from './cost.ts';

describe('costMicros', () => {
  const pricing = { inputNanosPerToken: 200, outputNanosPerToken: 600 };

  it('prices the default table exactly in micro-dollars', () => {
    // 1000 * $0.0000002 + 500 * $0.0000006 = $0.0005 = 500 micro-dollars
    expect(costMicros(pricing, { promptTokens: 1000, completionTokens: 500 })).toBe(500);
  });

  it('rounds a fraction of a micro-dollar up and is zero for free answers', () => {
    expect(costMicros(pricing, { promptTokens: 1, completionTokens: 0 })).toBe(1);
    expect(
      costMicros({ inputNanosPerToken: 0, outputNanosPerToken: 0 }, { promptTokens: 9, completionTokens: 9 }),
    ).toBe(0);
  });
});
