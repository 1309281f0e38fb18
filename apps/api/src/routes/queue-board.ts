import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AdminSessions } from '../admin-session.ts';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../app-error.ts';

/** Deps of {@link createQueueBoard}. */
export type QueueBoardDeps = {
  /** Every BullMQ queue of the service, as the API's producers hold them. */
  boardQueues: Queue[];
  adminSessions: AdminSessions;
};

const BOARD_PATH = '/admin/queues';
const COOKIE = 'assistant_admin';

const wantsHtml = (c: Context) => (c.req.header('accept') ?? '').includes('text/html');

function loginPage(message: string): string {
  // Posted, not put in the URL: a token in a query string lands in logs and browser history.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Queue dashboard: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
<h1>Queue dashboard</h1>
<p id="message" role="alert">${message}</p>
<form method="post" action="/admin/login">
<label for="token">Admin token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" required style="width: 100%">
<button id="sign-in" type="submit">Sign in</button>
</form></body></html>`;
}

function unauthorized(message: string) {
  return new AppError('unauthorized', message, { status: 401 });
}

/**
 * Bull Board at `/admin/queues`, for every queue, behind the admin token: a browser signs in at
 * `/admin/login` (a POSTed form; the answer sets an HttpOnly, SameSite=Strict session cookie
 * signed with a key derived from the admin token), scripts send `Authorization: Bearer`.
 */
export function createQueueBoard(deps: QueueBoardDeps) {
  const app = new Hono<AppEnv>();
  const sessions = deps.adminSessions;

  app.get('/admin/login', (c) => {
    c.header('Cache-Control', 'no-store');
    return c.html(loginPage(''));
  });

  app.post(
    '/admin/login',
    bodyLimit({
      maxSize: 4 * 1024,
      onError: () => {
        throw new AppError('payload_too_large', 'the login form is at most 4 KB', { status: 413 });
      },
    }),
    async function signIn(c) {
      const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
      const token = typeof form.token === 'string' ? form.token : '';
      if (!sessions.isAdminToken(token)) {
        if (!wantsHtml(c)) throw unauthorized('invalid admin token');
        return c.html(loginPage('That is not the admin token.'), 401);
      }
      setCookie(c, COOKIE, sessions.issue(), {
        httpOnly: true,
        sameSite: 'Strict',
        secure: new URL(c.req.url).protocol === 'https:',
        path: '/admin',
        maxAge: Math.floor(sessions.ttlMs / 1000),
      });
      return c.redirect(BOARD_PATH, 303);
    },
  );

  app.post('/admin/logout', (c) => {
    deleteCookie(c, COOKIE, { path: '/admin' });
    return c.redirect('/admin/login', 303);
  });

  const requireAdmin: MiddlewareHandler<AppEnv> = async function boardAuth(c, next) {
    const bearer = c.req.header('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const session = getCookie(c, COOKIE);
    if (
      (bearer !== undefined && sessions.isAdminToken(bearer)) ||
      (session !== undefined && sessions.isValid(session))
    ) {
      return next();
    }
    if (bearer === undefined && wantsHtml(c)) return c.redirect('/admin/login', 303);
    throw unauthorized(bearer === undefined ? 'sign in at /admin/login' : 'invalid admin token');
  };
  app.use(BOARD_PATH, requireAdmin);
  app.use(`${BOARD_PATH}/*`, requireAdmin);

  const serverAdapter = new HonoAdapter(serveStatic).setBasePath(BOARD_PATH);
  createBullBoard({
    queues: deps.boardQueues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'assistant queues' } },
  });
  app.route(BOARD_PATH, serverAdapter.registerPlugin());
  return app;
}
