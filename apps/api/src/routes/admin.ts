import type { CacheEpochs } from '@assistant/cache';
import { ApiKeyId, CreateUser, Tier, UpdateUser, UserId } from '@assistant/contracts';
import type { UsersRepo } from '@assistant/db';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { notFound } from '../app-error.ts';
import { readJson } from '../json-body.ts';
import type { KeyRevocations } from '../key-revocations.ts';

/** Deps of {@link createAdminRoutes}. */
export type AdminRoutesDeps = {
  users: Pick<UsersRepo, 'createUserWithKey' | 'updateUser' | 'createKey' | 'listKeys' | 'revokeKey'>;
  epochs: Pick<CacheEpochs, 'purge'>;
  keyRevocations: Pick<KeyRevocations, 'publish'>;
};

/** Body of `POST /v1/admin/cache/purge`. */
const PurgeBody = z.discriminatedUnion('scope', [
  z.strictObject({ scope: z.literal('all') }),
  z.strictObject({ scope: z.literal('user'), user_id: UserId }),
  z.strictObject({ scope: z.literal('tier'), tier: Tier }),
]);

/** `/v1/admin/*`: behind the admin token. */
export function createAdminRoutes(deps: AdminRoutesDeps) {
  const app = new Hono<AppEnv>();

  app.post('/users', async function createUser(c) {
    const body = await readJson(c, CreateUser);
    const created = await deps.users.createUserWithKey(body);
    // The key is returned this once; only its hash is stored.
    return c.json({ id: created.id, api_key: created.apiKey, tier: created.tier }, 201);
  });

  app.patch('/users/:id', async function updateUser(c) {
    // Checked before Postgres sees it: a NUL byte in a text parameter fails the whole query.
    const { id } = z.object({ id: UserId }).parse({ id: c.req.param('id') });
    const body = await readJson(c, UpdateUser);
    const updated = await deps.users.updateUser(id, {
      ...(body.tier ? { tier: body.tier } : {}),
      ...(body.limits !== undefined ? { limitsOverride: body.limits } : {}),
    });
    if (!updated) throw notFound('user');
    // API processes cache key lookups briefly (API_KEY_CACHE_TTL_MS): changes apply within it.
    return c.json({ id: updated.id, tier: updated.tier, limits: updated.limitsOverride });
  });

  app.post('/cache/purge', async function purgeCache(c) {
    const body = await readJson(c, PurgeBody);
    const scope =
      body.scope === 'all'
        ? ({ scope: 'all' } as const)
        : body.scope === 'user'
          ? ({ scope: 'user', userId: body.user_id } as const)
          : ({ scope: 'tier', tier: body.tier } as const);
    const result = await deps.epochs.purge(scope);
    return c.json({ purged: body, epoch: result.epoch });
  });

  app.post('/users/:id/keys', async function createKey(c) {
    const { id } = z.object({ id: UserId }).parse({ id: c.req.param('id') });
    const created = await deps.users.createKey(id);
    if (!created) throw notFound('user');
    // Shown this once, like a user's first key; the user's other keys keep working.
    return c.json({ id: created.id, api_key: created.apiKey, prefix: created.prefix }, 201);
  });

  app.get('/users/:id/keys', async function listKeys(c) {
    const { id } = z.object({ id: UserId }).parse({ id: c.req.param('id') });
    const found = await deps.users.listKeys(id);
    if (!found) throw notFound('user');
    return c.json({
      data: found.map((key) => ({
        id: key.id,
        prefix: key.prefix,
        created_at: key.createdAt.toISOString(),
        revoked_at: key.revokedAt?.toISOString() ?? null,
      })),
    });
  });

  app.delete('/keys/:id', async function revokeKey(c) {
    const { id } = z.object({ id: ApiKeyId }).parse({ id: c.req.param('id') });
    const revoked = await deps.users.revokeKey(id);
    if (!revoked) throw notFound('API key');
    // Evicts the key from every API process's cache at once. Published again on a repeated
    // revoke: if Redis failed the first publish (a 503), retrying the call completes it.
    await deps.keyRevocations.publish(revoked.keyHash);
    return c.json({ id: revoked.id, revoked_at: revoked.revokedAt.toISOString() });
  });

  return app;
}
