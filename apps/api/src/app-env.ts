import type { KeyOwner } from '@assistant/db';

/** Hono context variables set by the middleware. */
export type AppEnv = {
  Variables: {
    requestId: string;
    /** Set by the user auth middleware on /v1/*. */
    user: KeyOwner;
    /** Set instead of `user` on `GET /v1/queries/:id/events` when a stream token authenticated it. */
    streamUserId?: string;
    /** Set by `limitBody` on /v1/*: the most bytes `readJson` reads for this route. */
    maxBodyBytes: number;
  };
};
