import { readFileSync } from 'node:fs';
import { type Context, Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
} as const;
type FileName = keyof typeof FILES;
// A literal URL, so the production build (scripts/build.mjs) copies the folder beside the bundle.
const PAGE_DIR = new URL('../browser-app/', import.meta.url);

// The page runs only its own script and talks only to this API: no inline code, no third party.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * `/app`: the browser client (a static page, no build step) in `src/browser-app/`. The files are
 * read once, on the first request, and served from memory after that.
 */
export function createBrowserAppRoutes() {
  const app = new Hono<AppEnv>();
  const cache = new Map<FileName, string>();
  const read = (name: FileName) => {
    let text = cache.get(name);
    if (text === undefined) {
      text = readFileSync(new URL(name, PAGE_DIR), 'utf8');
      cache.set(name, text);
    }
    return text;
  };
  const serve = (name: FileName) =>
    function serveAppFile(c: Context<AppEnv>) {
      c.header('Content-Type', FILES[name]);
      c.header('Content-Security-Policy', CSP);
      c.header('X-Content-Type-Options', 'nosniff');
      c.header('Referrer-Policy', 'no-referrer');
      c.header('Cache-Control', 'no-cache');
      return c.body(read(name));
    };
  app.get('/', serve('index.html'));
  app.get('/app.js', serve('app.js'));
  app.get('/app.css', serve('app.css'));
  return app;
}
