import { describe, expect, it } from 'vitest';
import { createStreamTokens } from './stream-token.ts';

const user = '0b9a4c52-8f43-4a3e-9d1e-6a9f0c3b2d11';
const query = `q_${'a'.repeat(32)}`;

describe('stream tokens', () => {
  let now = 1_800_000_000_000;
  const tokens = createStreamTokens({ secret: 's'.repeat(32), ttlMs: 300_000, now: () => now });

  it('accepts its own token for its query until it expires, then says it expired', () => {
    const token = tokens.sign(user, query);
    expect(tokens.verify(token, query)).toEqual({ userId: user });
    now += 299_000;
    expect(tokens.verify(token, query)).toEqual({ userId: user });
    now += 2_000;
    expect(tokens.verify(token, query)).toEqual({ refused: 'stream_token_expired' });
  });

  it('refuses a token for another query, an altered one, and one signed with another secret', () => {
    const token = tokens.sign(user, query);
    expect(tokens.verify(token, `q_${'b'.repeat(32)}`)).toEqual({ refused: 'stream_token_invalid' });
    const [v, , expires, mac] = token.split('.');
    const otherUser = '1b9a4c52-8f43-4a3e-9d1e-6a9f0c3b2d11';
    expect(tokens.verify([v, otherUser, expires, mac].join('.'), query)).toEqual({
      refused: 'stream_token_invalid',
    });
    expect(tokens.verify([v, user, String(Number(expires) + 3600), mac].join('.'), query)).toEqual({
      refused: 'stream_token_invalid',
    });
    for (const at of [0, 42]) {
      const char = mac![at] === 'A' ? 'B' : 'A';
      const flipped = `${mac!.slice(0, at)}${char}${mac!.slice(at + 1)}`;
      expect(tokens.verify([v, user, expires, flipped].join('.'), query)).toEqual({
        refused: 'stream_token_invalid',
      });
    }
    const other = createStreamTokens({ secret: 't'.repeat(32), ttlMs: 300_000, now: () => now });
    expect(tokens.verify(other.sign(user, query), query)).toEqual({ refused: 'stream_token_invalid' });
    for (const junk of ['', 'v1', 'v1...', `v2.${user}.1.${mac}`, `${token}x`, '\u0000']) {
      expect(tokens.verify(junk, query)).toEqual({ refused: 'stream_token_invalid' });
    }
  });
});
