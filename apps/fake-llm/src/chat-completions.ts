import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { z } from 'zod';
import { planAnswer } from './answer.ts';
import { ChatRequest } from './chat-request.ts';
import type { FakeLlmCounters } from './counters.ts';
import { openAiError } from './openai-error.ts';
import type { FakeLlmSettings, FaultKind } from './settings.ts';
import { sleep } from './sleep.ts';
import { createSseStream } from './sse-stream.ts';
import { streamAnswer } from './stream-answer.ts';

/** Collaborators of the chat completions route, owned by `createFakeLlm`. */
export type ChatCompletionsDeps = {
  settings(): FakeLlmSettings;
  /** Draws the fault for one valid request (and consumes `failNext`). */
  drawFault(): FaultKind | undefined;
  counters: FakeLlmCounters;
  now(): number;
  newId(): string;
};

type FakeContext = Context<{ Bindings: HttpBindings }>;

/** Faults answered with an HTTP error before any body is sent. */
const httpFaults: Partial<
  Record<FaultKind, { status: 429 | 500 | 503; type: string; code: string; message: string }>
> = {
  rate_limit: {
    status: 429,
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for the fake LLM.',
  },
  unavailable: {
    status: 503,
    type: 'server_error',
    code: 'service_unavailable',
    message: 'The fake LLM is unavailable.',
  },
  server_error: {
    status: 500,
    type: 'server_error',
    code: 'internal_error',
    message: 'The fake LLM failed.',
  },
};

/**
 * Creates the `POST /v1/chat/completions` handler: validates the body, draws a fault, then
 * answers as JSON or as an SSE stream.
 */
export function createChatCompletionsHandler(deps: ChatCompletionsDeps) {
  return async function chatCompletions(c: FakeContext): Promise<Response> {
    // Captured per request: a request that straddles `POST /control/reset` keeps counting
    // into the counters it started with, so the fresh ones never go negative.
    const counters = deps.counters;
    // Touch the signal first: @hono/node-server only aborts it on disconnect once it exists.
    const signal = c.req.raw.signal;
    counters.requests++;
    const body: unknown = await c.req.json().catch(() => undefined);
    const parsed = ChatRequest.safeParse(body);
    if (!parsed.success) {
      counters.outcomes.bad_request++;
      return c.json(invalidRequest(body, parsed.error), 400);
    }
    const request = parsed.data;
    const settings = deps.settings();
    const fault = deps.drawFault();
    counters.outcomes[fault ?? 'ok']++;

    const httpFault = fault ? httpFaults[fault] : undefined;
    if (httpFault) {
      const headers: Record<string, string> =
        fault === 'rate_limit' ? { 'Retry-After': String(settings.retryAfterSeconds) } : {};
      return c.json(
        openAiError(httpFault.message, httpFault.type, httpFault.code),
        httpFault.status,
        headers,
      );
    }

    counters.inFlight++;
    const model = request.model ?? settings.model;
    const plan = planAnswer(request, settings.answerTokens, settings.answersByModel[model]);
    const id = deps.newId();
    const created = Math.floor(deps.now() / 1000);
    const resetSocket = () => c.env?.incoming?.socket?.resetAndDestroy();

    if (fault === 'hang') {
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      counters.inFlight--;
      counters.aborted++;
      return new Response(null, { status: 504 });
    }

    if (request.stream) {
      const sse = createSseStream(signal);
      void streamAnswer({
        sse,
        plan,
        id,
        created,
        model,
        includeUsage: request.stream_options?.include_usage === true,
        ttftMs: settings.ttftMs,
        tokensPerSecond: settings.tokensPerSecond,
        keepAliveMs: settings.keepAliveMs,
        fault,
        faultAfterTokens: settings.faultAfterTokens,
        resetSocket,
      }).then(
        (end) => {
          counters.inFlight--;
          if (end === 'aborted') counters.aborted++;
        },
        () => {
          counters.inFlight--;
        },
      );
      return c.body(sse.body, 200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    }

    const gapMs = settings.tokensPerSecond > 0 ? 1000 / settings.tokensPerSecond : 0;
    const finished = await sleep(settings.ttftMs + Math.max(plan.tokens.length - 1, 0) * gapMs, signal);
    counters.inFlight--;
    if (!finished) {
      counters.aborted++;
      // The client is gone; nobody reads this.
      return new Response(null, { status: 499 });
    }
    const completion = JSON.stringify({
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: plan.tokens.join('') },
          logprobs: null,
          finish_reason: plan.finishReason,
        },
      ],
      usage: {
        prompt_tokens: plan.promptTokens,
        completion_tokens: plan.tokens.length,
        total_tokens: plan.promptTokens + plan.tokens.length,
      },
    });
    if (fault === 'reset') {
      resetSocket();
      return c.body(null, 500);
    }
    if (fault === 'truncate' || fault === 'mid_stream_error') {
      // Without a stream, both faults become a body cut in half: unparseable JSON.
      return c.body(completion.slice(0, Math.floor(completion.length / 2)), 200, {
        'Content-Type': 'application/json',
      });
    }
    return c.body(completion, 200, { 'Content-Type': 'application/json' });
  };
}

function invalidRequest(body: unknown, error: z.ZodError) {
  if (body === undefined) {
    return openAiError('The request body is not valid JSON.', 'invalid_request_error', 'invalid_json');
  }
  const issue = error.issues[0];
  const param = issue?.path.map(String).join('.') ?? '';
  const top = issue?.path[0];
  const missing =
    typeof top === 'string' &&
    (typeof body !== 'object' || body === null || !(top in body)) &&
    issue?.path.length === 1;
  return missing
    ? openAiError(
        `Missing required parameter: '${param}'.`,
        'invalid_request_error',
        'missing_required_parameter',
        param,
      )
    : openAiError(
        `Invalid '${param || 'body'}': ${issue?.message ?? 'invalid request'}.`,
        'invalid_request_error',
        'invalid_value',
        param || undefined,
      );
}
