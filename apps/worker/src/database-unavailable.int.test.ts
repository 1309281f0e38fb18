import { createDb } from '@assistant/db';
import { isDatabaseUnavailable } from '@assistant/telemetry';
import { startTcpProxy } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('isDatabaseUnavailable', () => {
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  beforeAll(async () => {
    proxy = await startTcpProxy({ port: 5432 });
  });
  afterAll(async () => {
    await proxy.close();
  });

  it('recognises an unreachable Postgres through drizzle, and not a bad query', async () => {
    const db = createDb({
      url: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      connectTimeoutSeconds: 1,
    });
    try {
      const bad = await db.db.execute('select * from no_such_table').catch((e: unknown) => e);
      expect(isDatabaseUnavailable(bad)).toBe(false);
      proxy.setMode('reset');
      const down = await db.db.execute('select 1').catch((e: unknown) => e);
      expect(down).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(down)).toBe(true);
    } finally {
      proxy.setMode('pass');
      await db.close();
    }
  });
});
