import { createHmac, timingSafeEqual } from 'node:crypto';

/** Options of {@link createAdminSessions}. */
export type AdminSessionOptions = {
  /** The admin token: sessions are signed with a key derived from it, so rotating it ends them. */
  adminToken: string;
  /** How long a session lasts. @defaultValue 28800000 (8 h) */
  ttlMs: number;
  now: () => number;
};

/** Signed admin sessions for the browser (a cookie), so the admin token never sits in a URL. */
export type AdminSessions = {
  /** Whether `token` is the admin token (constant time). */
  isAdminToken(token: string): boolean;
  /** A new session value, valid for the TTL. */
  issue(): string;
  /** Whether a session value is one this API issued and still valid. */
  isValid(value: string): boolean;
  ttlMs: number;
};

const SESSION = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** See {@link AdminSessions}. */
export function createAdminSessions(options: AdminSessionOptions): AdminSessions {
  const key = createHmac('sha256', options.adminToken).update('admin-session-key').digest();
  const expectedToken = createHmac('sha256', key).update(options.adminToken).digest();
  const sign = (expires: string) => createHmac('sha256', key).update(`v1\n${expires}`).digest('base64url');
  const equal = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
  return {
    ttlMs: options.ttlMs,
    isAdminToken(token) {
      return equal(createHmac('sha256', key).update(token).digest(), expectedToken);
    },
    issue() {
      const expires = String(Math.ceil((options.now() + options.ttlMs) / 1000));
      return `v1.${expires}.${sign(expires)}`;
    },
    isValid(value) {
      const match = SESSION.exec(value);
      if (!match) return false;
      const [, expires, signature] = match as unknown as [string, string, string];
      return (
        equal(Buffer.from(signature), Buffer.from(sign(expires))) && Number(expires) * 1000 > options.now()
      );
    },
  };
}
