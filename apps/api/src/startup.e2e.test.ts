import { startService } from '@assistant/testing';
import { describe, expect, it } from 'vitest';

describe('start-up with a bad configuration', () => {
  for (const app of ['api', 'worker'] as const) {
    it(`stops the ${app} before any connection, naming each bad variable`, async () => {
      const failure = await startService(
        app,
        { PORT: 'eighty', ADMIN_TOKEN: 'short' },
        { timeoutMs: 20_000 },
      ).then(
        () => undefined,
        (error: unknown) => (error as Error).message,
      );
      expect(failure).toMatch(/exited with 78 before listening/);
      for (const name of ['REDIS_URL', 'DATABASE_URL', 'ADMIN_TOKEN', 'PORT'])
        expect(failure).toContain(`${name}:`);
    });
  }
});
