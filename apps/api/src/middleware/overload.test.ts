import { createLogger } from '@assistant/telemetry';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createErrorHandler } from '../error-handler.ts';
import { createOverloadGuard } from './overload.ts';

describe('createOverloadGuard decision', () => {
  it('closes above the delay limit and reopens only below half of it', () => {
    let delay = 0;
    const guard = createOverloadGuard(
      { maxInProgress: 10, maxEventLoopDelayMs: 200 },
      { eventLoopDelayMs: () => delay },
    );
    expect(guard.refusalReason()).toBeUndefined();
    delay = 250;
    expect(guard.refusalReason()).toBe('event_loop_delay');
    delay = 150;
    expect(guard.refusalReason()).toBe('event_loop_delay');
    delay = 90;
    expect(guard.refusalReason()).toBeUndefined();
    delay = 150;
    expect(guard.refusalReason()).toBeUndefined();
  });
});

describe('createOverloadGuard middleware', () => {
  it('refuses the request beyond maxInProgress with 503 overloaded and Retry-After, then admits again', async () => {
    const reasons: string[] = [];
    const guard = createOverloadGuard(
      { maxInProgress: 2, maxEventLoopDelayMs: 200 },
      { eventLoopDelayMs: () => 0, onRefusal: (r) => reasons.push(r), random: () => 0.5 },
    );
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const app = new Hono();
    app.onError(createErrorHandler(createLogger({ service: 'test', level: 'silent' })));
    app.use(guard.middleware);
    app.get('/slow', async (c) => {
      await held;
      return c.text('ok');
    });
    const first = app.request('/slow');
    const second = app.request('/slow');
    const third = await app.request('/slow');
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('2');
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('overloaded');
    expect(reasons).toEqual(['in_progress']);
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(guard.inProgress()).toBe(0);
    expect((await app.request('/slow')).status).toBe(200);
  });
});
