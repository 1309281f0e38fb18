import type { AnswerPlan } from './answer.ts';
import type { FaultKind } from './settings.ts';
import { sleep } from './sleep.ts';
import type { SseStream } from './sse-stream.ts';

/** Everything one streamed answer needs, fixed when the request arrived. */
export type StreamAnswerInput = {
  sse: SseStream;
  plan: AnswerPlan;
  id: string;
  created: number;
  model: string;
  includeUsage: boolean;
  ttftMs: number;
  tokensPerSecond: number;
  keepAliveMs: number;
  /** A stream fault (`mid_stream_error`, `truncate`, `reset`) or `undefined`. */
  fault: FaultKind | undefined;
  faultAfterTokens: number;
  /** Resets the TCP connection (the `reset` fault). */
  resetSocket(): void;
};

/** How a stream ended, for the counters. */
export type StreamEnd = 'finished' | 'aborted';

const MID_STREAM_ERROR = {
  error: {
    message: 'The fake LLM failed while streaming.',
    type: 'server_error',
    param: null,
    code: 'mid_stream_error',
  },
};

/** How each stream fault ends the body after `faultAfterTokens` content deltas. */
const streamEndings: Partial<Record<FaultKind, (input: StreamAnswerInput) => Promise<void>>> = {
  mid_stream_error: async ({ sse }) => {
    sse.data(MID_STREAM_ERROR);
    sse.close();
  },
  truncate: async ({ sse }) => {
    sse.close();
  },
  reset: async ({ sse, resetSocket }) => {
    // Give the tokens already written a moment to reach the wire: a reset drops unsent data.
    await sleep(25, sse.signal);
    resetSocket();
  },
};

/**
 * Writes one answer as OpenAI `chat.completion.chunk` events: keep-alive comments while
 * waiting for the first token, a role delta, one content delta per token, a finish chunk,
 * an optional usage chunk (`choices: []`), then `data: [DONE]`.
 */
export async function streamAnswer(input: StreamAnswerInput): Promise<StreamEnd> {
  const { sse, plan, includeUsage } = input;
  const chunk = (delta: Record<string, string>, finishReason: string | null = null) => ({
    id: input.id,
    object: 'chat.completion.chunk',
    created: input.created,
    model: input.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    // OpenAI sends `usage: null` on every chunk but the last when usage was asked for.
    ...(includeUsage ? { usage: null } : {}),
  });

  if (!(await waitWithKeepAlive(sse, input.ttftMs, input.keepAliveMs))) return 'aborted';
  sse.data(chunk({ role: 'assistant', content: '' }));

  const ending = input.fault ? streamEndings[input.fault] : undefined;
  const count = ending ? Math.min(input.faultAfterTokens, plan.tokens.length) : plan.tokens.length;
  const gapMs = input.tokensPerSecond > 0 ? 1000 / input.tokensPerSecond : 0;
  for (let i = 0; i < count; i++) {
    if (i > 0 && !(await sleep(gapMs, sse.signal))) return 'aborted';
    if (sse.signal.aborted) return 'aborted';
    sse.data(chunk({ content: plan.tokens[i]! }));
  }
  if (ending) {
    await ending(input);
    return 'finished';
  }

  sse.data(chunk({}, plan.finishReason));
  if (includeUsage) {
    const completionTokens = plan.tokens.length;
    sse.data({
      id: input.id,
      object: 'chat.completion.chunk',
      created: input.created,
      model: input.model,
      system_fingerprint: null,
      choices: [],
      usage: {
        prompt_tokens: plan.promptTokens,
        completion_tokens: completionTokens,
        total_tokens: plan.promptTokens + completionTokens,
      },
    });
  }
  sse.raw('data: [DONE]\n\n');
  sse.close();
  return 'finished';
}

/** Waits `ms` in steps of `everyMs`, sending a `: keep-alive` comment between steps. */
async function waitWithKeepAlive(sse: SseStream, ms: number, everyMs: number): Promise<boolean> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(everyMs, left);
    if (!(await sleep(step, sse.signal))) return false;
    left -= step;
    if (left > 0) sse.raw(': keep-alive\n\n');
  }
  return !sse.signal.aborted;
}
