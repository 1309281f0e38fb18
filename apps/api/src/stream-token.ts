import { createHmac, timingSafeEqual } from 'node:crypto';

/** Options of {@link createStreamTokens}. */
export type StreamTokenOptions = {
  /** HMAC-SHA256 key, the same on every API replica. */
  secret: string;
  /** How long a token is accepted after it is issued. @defaultValue 300000 */
  ttlMs: number;
  now: () => number;
};

/** Why a token was refused: past its expiry, or not one this API signed for this query. */
export type StreamTokenRefusal = 'stream_token_expired' | 'stream_token_invalid';

/** The stream tokens of {@link createStreamTokens}. */
export type StreamTokens = {
  /** A token that lets its bearer read `queryId`'s events as `userId` until it expires. */
  sign(userId: string, queryId: string): string;
  /** The user a token was issued to, if it is valid for `queryId` now. */
  verify(token: string, queryId: string): { userId: string } | { refused: StreamTokenRefusal };
};

const VERSION = 'v1';
// v1.<user id>.<expiry, unix seconds>.<base64url HMAC>: the user id rides in the token so that
// verifying costs no lookup; the query id does not (the URL carries it) but is signed.
const TOKEN = /^v1\.([0-9a-f-]{36})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * Signed, short-lived stream tokens: browsers' `EventSource` cannot send `Authorization`, so the
 * `events` link carries one. A token is an HMAC over the user, the query and the expiry: altering
 * any of them, or presenting it for another query, fails verification.
 */
export function createStreamTokens(options: StreamTokenOptions): StreamTokens {
  const mac = (userId: string, queryId: string, expires: string) =>
    createHmac('sha256', options.secret).update(`${VERSION}\n${userId}\n${queryId}\n${expires}`).digest();

  return {
    sign(userId, queryId) {
      const expires = String(Math.ceil((options.now() + options.ttlMs) / 1000));
      return `${VERSION}.${userId}.${expires}.${mac(userId, queryId, expires).toString('base64url')}`;
    },
    verify(token, queryId) {
      const match = TOKEN.exec(token);
      if (!match) return { refused: 'stream_token_invalid' };
      const [, userId, expires, signature] = match as unknown as [string, string, string, string];
      // Compared as text: base64url's last character has spare bits, so decoding first would
      // accept a few altered spellings of the same signature.
      const given = Buffer.from(signature);
      const expected = Buffer.from(mac(userId, queryId, expires).toString('base64url'));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return { refused: 'stream_token_invalid' };
      }
      // Checked after the signature: only a token this API issued learns that it expired.
      if (Number(expires) * 1000 <= options.now()) return { refused: 'stream_token_expired' };
      return { userId };
    },
  };
}
