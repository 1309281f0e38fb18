import { CreateUser } from '@assistant/contracts';
import type { UsersRepo } from '@assistant/db';
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { readJson } from '../json-body.ts';

/** Deps of {@link createAdminRoutes}. */
export type AdminRoutesDeps = { users: Pick<UsersRepo, 'createUserWithKey'> };

/** `/v1/admin/*`: behind the admin token. */
export function createAdminRoutes(deps: AdminRoutesDeps) {
  const app = new Hono<AppEnv>();

  app.post('/users', async function createUser(c) {
    const body = await readJson(c, CreateUser);
    const created = await deps.users.createUserWithKey(body);
    // The key is returned this once; only its hash is stored.
    return c.json({ id: created.id, api_key: created.apiKey, tier: created.tier }, 201);
  });

  return app;
}
