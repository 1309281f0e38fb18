import {
  ApiKeyView,
  CreatedApiKey,
  CreatedUser,
  CreateExperiment,
  CreateUser,
  ErrorBody,
  FeedbackBody,
  FeedbackView,
  FlagChange,
  FlagPatch,
  FlagView,
  Me,
  NoteBatch,
  NoteBatchResult,
  NoteInput,
  NotePatch,
  NoteView,
  PromoteExperiment,
  QueryEvent,
  QueryView,
  RevokedApiKey,
  SubmitAccepted,
  SubmitQuery,
  UpdateUser,
} from '@assistant/contracts';
import { z } from 'zod';

const json = (schema: z.ZodType, io: 'input' | 'output' = 'output') => ({
  'application/json': { schema: z.toJSONSchema(schema, { io, unrepresentable: 'any' }) },
});

const error = (description: string) => ({ description, content: json(ErrorBody) });

const common = {
  '400': error('invalid input (`invalid_request`, `invalid_json`)'),
  '401': error('missing or invalid credentials (`unauthorized`)'),
  '404': error('unknown, or not yours (`not_found`)'),
  '503': error('a dependency is down (`dependency_unavailable`), with Retry-After'),
};

const body = (schema: z.ZodType) => ({ required: true, content: json(schema, 'input') });
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the routes validate with, so the
 * contract cannot drift from the code.
 */
export function buildOpenApi() {
  return {
    openapi: '3.1.0',
    info: { title: 'assistant-service', version: '1.0.0', description: 'Ask questions of your own notes.' },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer' },
        adminToken: { type: 'http', scheme: 'bearer' },
      },
      schemas: { QueryEvent: z.toJSONSchema(QueryEvent, { unrepresentable: 'any' }) },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/queries': {
        post: {
          summary: 'Ask a question',
          parameters: [
            { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } },
            { name: 'Cache-Control', in: 'header', schema: { type: 'string', example: 'no-store' } },
          ],
          requestBody: body(SubmitQuery),
          responses: {
            '200': { description: 'answered from the cache', content: json(QueryView) },
            '202': { description: 'accepted; follow `links`', content: json(SubmitAccepted) },
            '409': error('Idempotency-Key reused with another question'),
            '413': error('body over 64 KB'),
            '415': error('not JSON'),
            '429': error(
              '`rate_limited`, `too_many_in_flight` or `budget_exceeded`; Retry-After, RateLimit headers',
            ),
            ...common,
          },
        },
      },
      '/v1/queries/{id}': {
        get: {
          summary: 'State and result of a question',
          parameters: [
            idParam('id'),
            { name: 'wait', in: 'query', schema: { type: 'number', minimum: 0, maximum: 30 } },
          ],
          responses: { '200': { description: 'the query', content: json(QueryView) }, ...common },
        },
      },
      '/v1/queries/{id}/events': {
        get: {
          summary: 'Server-sent events of a question (resumable with Last-Event-ID)',
          parameters: [idParam('id'), { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'text/event-stream; each `data:` is a QueryEvent',
              content: { 'text/event-stream': { schema: { $ref: '#/components/schemas/QueryEvent' } } },
            },
            ...common,
          },
        },
      },
      '/v1/queries/{id}/feedback': {
        post: {
          summary:
            'Thumbs up or down on a finished question of yours (one per question; a second one replaces it)',
          parameters: [idParam('id')],
          requestBody: body(FeedbackBody),
          responses: {
            '200': { description: 'replaced the earlier rating', content: json(FeedbackView) },
            '201': { description: 'stored', content: json(FeedbackView) },
            '409': error('the question has not finished (`query_not_finished`)'),
            ...common,
          },
        },
      },
      '/v1/notes': {
        post: {
          summary: 'Add a note',
          requestBody: body(NoteInput),
          responses: { '201': { description: 'stored, indexing pending' }, ...common },
        },
        get: {
          summary: 'List own notes',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': { description: '`{data: Note[], next_cursor}`' }, ...common },
        },
      },
      '/v1/notes/batch': {
        post: {
          summary:
            'Add up to 100 notes; with `external_id`, update changed ones and leave the same ones alone',
          requestBody: body(NoteBatch),
          responses: {
            '201': {
              description: '`{data: NoteBatchResult[]}`, in the order sent',
              content: json(z.object({ data: z.array(NoteBatchResult) })),
            },
            ...common,
          },
        },
      },
      '/v1/notes/{id}': {
        get: {
          summary: 'A note',
          parameters: [idParam('id')],
          responses: { '200': { description: 'the note', content: json(NoteView) }, ...common },
        },
        put: {
          summary: 'Replace a note',
          parameters: [idParam('id')],
          requestBody: body(NoteInput),
          responses: { '200': { description: 'the note', content: json(NoteView) }, ...common },
        },
        patch: {
          summary: 'Change some fields',
          parameters: [idParam('id')],
          requestBody: body(NotePatch),
          responses: { '200': { description: 'the note', content: json(NoteView) }, ...common },
        },
        delete: {
          summary: 'Delete a note',
          parameters: [idParam('id')],
          responses: { '204': { description: 'deleted' }, ...common },
        },
      },
      '/v1/me': {
        get: {
          summary: 'Who the API key belongs to',
          responses: { '200': { description: 'the key owner', content: json(Me) }, ...common },
        },
      },
      '/v1/usage': {
        get: {
          summary: 'Own spend per day and what remains of each limit',
          parameters: [
            { name: 'from', in: 'query', schema: { type: 'string', format: 'date' } },
            { name: 'to', in: 'query', schema: { type: 'string', format: 'date' } },
          ],
          responses: { '200': { description: 'usage' }, ...common },
        },
      },
      '/v1/admin/users': {
        post: {
          summary: 'Create a user and API key',
          security: [{ adminToken: [] }],
          requestBody: body(CreateUser),
          responses: {
            '201': { description: 'the key is shown once', content: json(CreatedUser) },
            ...common,
          },
        },
      },
      '/v1/admin/users/{id}': {
        patch: {
          summary: 'Change tier or limits',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          requestBody: body(UpdateUser),
          responses: { '200': { description: 'updated' }, ...common },
        },
      },
      '/v1/admin/users/{id}/keys': {
        post: {
          summary: 'Add an API key to a user',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          responses: {
            '201': { description: 'the key is shown once', content: json(CreatedApiKey) },
            ...common,
          },
        },
        get: {
          summary: "A user's API keys (never the keys themselves)",
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          responses: {
            '200': {
              description: '`{data: ApiKey[]}`',
              content: json(z.object({ data: z.array(ApiKeyView) })),
            },
            ...common,
          },
        },
      },
      '/v1/admin/keys/{id}': {
        delete: {
          summary: 'Revoke an API key (at once on every API process; idempotent)',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          responses: {
            '200': { description: 'revoked, and when (the first time)', content: json(RevokedApiKey) },
            ...common,
          },
        },
      },
      '/v1/admin/usage': {
        get: {
          summary: 'Global usage and top users',
          security: [{ adminToken: [] }],
          responses: { '200': { description: 'usage' }, ...common },
        },
      },
      '/v1/admin/cache/purge': {
        post: {
          summary: 'Purge answer caches (all, a user, a tier)',
          security: [{ adminToken: [] }],
          responses: { '200': { description: 'purged' }, ...common },
        },
      },
      '/v1/admin/flags': {
        get: {
          summary: 'Every feature flag: its rule and whether it is the config default or an override',
          security: [{ adminToken: [] }],
          responses: {
            '200': { description: 'flags', content: json(z.object({ data: z.array(FlagView) })) },
            ...common,
          },
        },
      },
      '/v1/admin/flags/changes': {
        get: {
          summary: 'The flag change log, newest first (who, when, before, after, why)',
          security: [{ adminToken: [] }],
          parameters: [
            { name: 'flag', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          ],
          responses: {
            '200': { description: 'changes', content: json(z.object({ data: z.array(FlagChange) })) },
            ...common,
            '404': error('unknown flag (`unknown_flag`)'),
          },
        },
      },
      '/v1/admin/flags/{name}': {
        get: {
          summary: 'One flag',
          security: [{ adminToken: [] }],
          parameters: [idParam('name')],
          responses: {
            '200': { description: 'the flag', content: json(FlagView) },
            ...common,
            '404': error('unknown flag (`unknown_flag`)'),
          },
        },
        patch: {
          summary:
            'Change a flag (on/off, percentage rollout, allow and deny lists); seen by every process within FLAGS_REFRESH_MS',
          security: [{ adminToken: [] }],
          parameters: [idParam('name'), { name: 'X-Actor', in: 'header', schema: { type: 'string' } }],
          requestBody: body(FlagPatch),
          responses: {
            '200': { description: 'the flag now', content: json(FlagView) },
            ...common,
            '404': error('unknown flag (`unknown_flag`)'),
          },
        },
        delete: {
          summary: 'Reset a flag to its config default',
          security: [{ adminToken: [] }],
          parameters: [idParam('name'), { name: 'X-Actor', in: 'header', schema: { type: 'string' } }],
          responses: {
            '200': { description: 'the flag now', content: json(FlagView) },
            ...common,
            '404': error('unknown flag (`unknown_flag`)'),
          },
        },
      },
      '/v1/admin/feedback': {
        get: {
          summary: 'Recent feedback, newest change first (`rating`, `before`, `limit`)',
          security: [{ adminToken: [] }],
          responses: {
            '200': { description: 'feedback', content: json(z.object({ data: z.array(FeedbackView) })) },
            ...common,
          },
        },
      },
      '/v1/admin/experiments': {
        get: {
          summary: 'Experiments, newest first',
          security: [{ adminToken: [] }],
          responses: { '200': { description: 'experiments' }, ...common },
        },
        post: {
          summary:
            'Create an experiment: variants with weights, each a prompt version and/or a model (the first is the control)',
          security: [{ adminToken: [] }],
          requestBody: body(CreateExperiment),
          responses: {
            '201': { description: 'created (draft)' },
            ...common,
            '400': error(
              '`invalid_weights` (weights do not sum to a positive number), `unknown_prompt`, `invalid_request`',
            ),
          },
        },
      },
      '/v1/admin/experiments/{id}': {
        get: {
          summary: 'One experiment',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          responses: { '200': { description: 'experiment' }, ...common },
        },
      },
      '/v1/admin/experiments/{id}/start': {
        post: {
          summary: 'Start (or resume) an experiment: sticky assignment by user hash begins',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          responses: {
            '200': { description: 'running' },
            '409': error('`experiment_state`, or another runs (`experiment_conflict`)'),
            ...common,
          },
        },
      },
      '/v1/admin/experiments/{id}/stop': {
        post: {
          summary: 'Stop an experiment',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          responses: {
            '200': { description: 'stopped' },
            '409': error('not running (`experiment_state`)'),
            ...common,
          },
        },
      },
      '/v1/admin/experiments/{id}/promote': {
        post: {
          summary: 'Promote a variant: its prompt and model become the default for everyone',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          requestBody: body(PromoteExperiment),
          responses: {
            '200': { description: 'promoted' },
            '409': error('`experiment_state`'),
            ...common,
            '400': error('`unknown_variant`'),
          },
        },
      },
      '/v1/admin/experiments/{id}/results': {
        get: {
          summary:
            'Per variant: queries, mean quality, thumbs-up rate, cost per query, p95 latency; thumbs-up difference vs control with 95% CI, z-test and the sample size still needed',
          security: [{ adminToken: [] }],
          parameters: [idParam('id')],
          responses: { '200': { description: 'results' }, ...common },
        },
      },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'up' } } } },
      '/readyz': {
        get: {
          summary: 'Readiness of Redis and Postgres',
          security: [],
          responses: {
            '200': { description: 'ready' },
            '503': { description: 'names the failing dependency' },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          security: [],
          responses: { '200': { description: 'text exposition' } },
        },
      },
    },
  };
}

/** A minimal, self-contained page listing the routes of the document (no external scripts). */
export function renderDocsPage(doc: ReturnType<typeof buildOpenApi>): string {
  const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const rows = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods as Record<string, { summary: string }>).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary)}</td></tr>`,
    ),
  );
  return `<!doctype html><html><head><meta charset="utf-8"><title>assistant-service API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}td{padding:.3rem .8rem;border-bottom:1px solid #ddd}</style></head>
<body><h1>assistant-service API</h1><p>The full contract: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<table>${rows.join('')}</table></body></html>`;
}
