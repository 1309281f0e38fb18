import { FLAG_NAMES, FlagName, FlagPatch, type FlagView } from '@assistant/contracts';
import type { EffectiveFlag, FlagStore } from '@assistant/flags';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../app-error.ts';
import { readJson } from '../json-body.ts';

/** Deps of {@link createAdminFlagRoutes}. */
export type AdminFlagRoutesDeps = {
  flagStore: Pick<FlagStore, 'set' | 'changes'>;
  /** This process's snapshot: shown, and refreshed at once after a change made here. */
  flags: { get(name: FlagName): EffectiveFlag; refresh(force?: boolean): Promise<void> };
};

const ACTOR = /^[\x21-\x7e][\x20-\x7e]{0,99}$/;

function flagNameOf(raw: string): FlagName {
  const parsed = FlagName.safeParse(raw);
  if (!parsed.success) {
    throw new AppError('unknown_flag', `unknown flag ${JSON.stringify(raw.slice(0, 60))}`, {
      status: 404,
      details: { known: FLAG_NAMES },
    });
  }
  return parsed.data;
}

const ChangesParams = z.strictObject({
  flag: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function viewOf(flag: EffectiveFlag): FlagView {
  return { name: flag.name, source: flag.source, rule: flag.rule };
}

/**
 * `/v1/admin/flags`: list, read, change (`PATCH`: the fields given, merged over the flag's rule
 * now) and reset (`DELETE`: back to the config default) flags, and the change log. Who changed
 * a flag is the `X-Actor` header (the admin token is shared), else `admin`.
 */
export function createAdminFlagRoutes(deps: AdminFlagRoutesDeps) {
  const app = new Hono<AppEnv>();

  function actorOf(header: string | undefined): string {
    if (header === undefined) return 'admin';
    if (!ACTOR.test(header)) {
      throw new AppError('invalid_request', 'X-Actor must be 1-100 printable ASCII characters', {
        status: 400,
      });
    }
    return header;
  }

  app.get('/', async function listFlags(c) {
    await deps.flags.refresh();
    return c.json({ data: FLAG_NAMES.map((name) => viewOf(deps.flags.get(name))) });
  });

  app.get('/changes', async function listFlagChanges(c) {
    const params = ChangesParams.parse(c.req.query());
    const flag = params.flag === undefined ? undefined : flagNameOf(params.flag);
    const data = await deps.flagStore.changes({ ...(flag ? { flag } : {}), limit: params.limit });
    return c.json({ data });
  });

  app.get('/:name', async function getFlag(c) {
    const name = flagNameOf(c.req.param('name'));
    await deps.flags.refresh();
    return c.json(viewOf(deps.flags.get(name)));
  });

  app.patch('/:name', async function changeFlag(c) {
    const name = flagNameOf(c.req.param('name'));
    const actor = actorOf(c.req.header('x-actor'));
    const { reason, ...patch } = await readJson(c, FlagPatch);
    // Merged over the freshest rule: a change made by another process a moment ago is kept.
    await deps.flags.refresh(true);
    const rule = { ...deps.flags.get(name).rule, ...patch };
    await deps.flagStore.set(name, rule, { actor, reason });
    await deps.flags.refresh(true);
    return c.json(viewOf(deps.flags.get(name)));
  });

  app.delete('/:name', async function resetFlag(c) {
    const name = flagNameOf(c.req.param('name'));
    const actor = actorOf(c.req.header('x-actor'));
    await deps.flagStore.set(name, undefined, { actor, reason: 'reset to the config default' });
    await deps.flags.refresh(true);
    return c.json(viewOf(deps.flags.get(name)));
  });

  return app;
}
