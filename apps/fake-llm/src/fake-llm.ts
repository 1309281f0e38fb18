import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { createChatCompletionsHandler } from './chat-completions.ts';
import { createCounters, type FakeLlmCounters } from './counters.ts';
import { createFaultPicker } from './faults.ts';
import { openAiError } from './openai-error.ts';
import { createSeededRandom } from './seeded-random.ts';
import {
  defaultFakeLlmSettings,
  FakeLlmSettings,
  FakeLlmSettingsPatch,
  type FakeLlmSettings as Settings,
} from './settings.ts';

/** Tunables and injected collaborators of the fake LLM. */
export type FakeLlmOptions = {
  /** Initial knobs, merged over the defaults; `POST /control/reset` returns to them. */
  settings?: FakeLlmSettingsPatch;
  /** Random source for `errorRate`. @defaultValue a seeded generator from `settings.seed` */
  random?: () => number;
  /** Clock for `created`. @defaultValue `Date.now` */
  now?: () => number;
  /** Completion ids. @defaultValue `chatcmpl-fake-1`, `chatcmpl-fake-2`, … */
  newId?: () => string;
};

/** A fake LLM app plus handles on its knobs and counters. */
export type FakeLlm = {
  /** The Hono app; serve it with `@hono/node-server` (faults like `reset` need a real socket). */
  app: Hono<{ Bindings: HttpBindings }>;
  /** A copy of the current settings. */
  settings(): Settings;
  /** Merges a partial update (validated) and returns the new settings. */
  update(patch: FakeLlmSettingsPatch): Settings;
  /** A copy of the counters. */
  counters(): FakeLlmCounters;
  /** Restores the initial settings, zeroes the counters and default ids, reseeds the random source. */
  reset(): void;
};

/**
 * Creates an OpenAI-compatible fake LLM: `POST /v1/chat/completions` (JSON and SSE),
 * `GET /v1/models`, and `GET|PUT /control`, `POST /control/reset` to steer it.
 *
 * @example
 * const fake = createFakeLlm({ settings: { answerTokens: 5 } });
 * fake.update({ failNext: 1, errorKinds: ['unavailable'] });
 */
export function createFakeLlm(options: FakeLlmOptions = {}): FakeLlm {
  const initial = FakeLlmSettings.parse({ ...defaultFakeLlmSettings, ...options.settings });
  const now = options.now ?? Date.now;
  let idCount = 0;
  const newId = options.newId ?? (() => `chatcmpl-fake-${++idCount}`);
  let settings: Settings = structuredClone(initial);
  let counters = createCounters();
  let random = options.random ?? createSeededRandom(initial.seed);
  let faults = createFaultPicker(() => random());

  function update(patch: FakeLlmSettingsPatch): Settings {
    const next = FakeLlmSettings.parse({ ...settings, ...FakeLlmSettingsPatch.parse(patch) });
    if (next.seed !== settings.seed && !options.random) random = createSeededRandom(next.seed);
    if (patch.failNext !== undefined) faults.reset();
    settings = next;
    return structuredClone(settings);
  }

  function reset(): void {
    settings = structuredClone(initial);
    counters = createCounters();
    idCount = 0;
    random = options.random ?? createSeededRandom(initial.seed);
    faults = createFaultPicker(() => random());
  }

  function snapshot() {
    return { settings: structuredClone(settings), counters: structuredClone(counters) };
  }

  const chatCompletions = createChatCompletionsHandler({
    settings: () => structuredClone(settings),
    drawFault: function drawFault() {
      const fault = faults.next(settings);
      if (settings.failNext > 0) settings.failNext--;
      return fault;
    },
    get counters() {
      return counters;
    },
    now,
    newId,
  });

  const app = new Hono<{ Bindings: HttpBindings }>();
  app.post('/v1/chat/completions', chatCompletions);
  app.get('/v1/models', (c) =>
    c.json({
      object: 'list',
      data: [{ id: settings.model, object: 'model', created: 0, owned_by: 'fake-llm' }],
    }),
  );
  app.get('/control', (c) => c.json(snapshot()));
  app.put('/control', async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    const parsed = FakeLlmSettingsPatch.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue?.path.map(String).join('.') || undefined;
      const message = `Invalid settings${param ? ` at '${param}'` : ''}: ${issue?.message ?? 'invalid'}.`;
      return c.json(openAiError(message, 'invalid_request_error', 'invalid_settings', param), 400);
    }
    update(parsed.data);
    return c.json(snapshot());
  });
  app.post('/control/reset', (c) => {
    reset();
    return c.json(snapshot());
  });
  app.notFound((c) =>
    c.json(
      openAiError(`Unknown route ${c.req.method} ${c.req.path}.`, 'invalid_request_error', 'not_found'),
      404,
    ),
  );
  app.onError((error, c) => c.json(openAiError(error.message, 'server_error', 'internal_error'), 500));

  return {
    app,
    settings: () => structuredClone(settings),
    update,
    counters: () => structuredClone(counters),
    reset,
  };
}
