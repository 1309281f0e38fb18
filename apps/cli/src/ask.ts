import type { Answer, QueryView, SubmitAccepted } from '@assistant/contracts';
import type { ApiClient } from './api-client.ts';
import { CliError } from './cli-error.ts';
import { followQueryEvents } from './query-stream.ts';

/** Where {@link askQuestion} writes: the answer's text as it streams, and notices. */
export type AskOutput = {
  token(text: string): void;
  notice(text: string): void;
};

/** The finished answer, as `ask --json` prints it. */
export type AskResult = { id: string; cached: boolean } & Pick<Answer, 'answer' | 'sources' | 'model'> & {
    usage: Answer['usage'] | null;
    cost_usd: number | null;
  };

/**
 * Asks a question: submits it, then streams the answer's tokens to `out` as they arrive (a
 * cached answer comes at once). A `restart` (the model changed mid-answer) is said, and the
 * text starts again; a failed question throws with the API's error code.
 */
export async function askQuestion(client: ApiClient, question: string, out: AskOutput): Promise<AskResult> {
  const submitted = await client.call<QueryView | SubmitAccepted>('POST', '/v1/queries', { query: question });
  if (submitted.status === 200) {
    const view = submitted.body as QueryView;
    out.token(view.answer ?? '');
    return {
      id: view.id,
      cached: true,
      answer: view.answer ?? '',
      sources: view.sources,
      model: view.model ?? '',
      usage: view.usage,
      cost_usd: view.cost_usd,
    };
  }
  const accepted = submitted.body as SubmitAccepted;
  const terminal = await followQueryEvents(
    client,
    accepted.links.events,
    (event) => {
      if (event.type === 'token') out.token(event.text);
      else if (event.type === 'restart') out.notice(`\n[the answer starts again: ${event.reason}]\n`);
    },
    {
      reconnects: 5,
      reconnectDelayMs: 1000,
      onReconnect: () => out.notice('\n[connection lost, resuming]\n'),
    },
  );
  if (terminal.type === 'error') {
    throw new CliError(`the question failed (${terminal.error.code}): ${terminal.error.message}`);
  }
  if (terminal.type !== 'done') throw new CliError(`the stream ended with ${terminal.type}`);
  const result = terminal.result;
  return {
    id: accepted.id,
    cached: false,
    answer: result.answer,
    sources: result.sources,
    model: result.model,
    usage: result.usage,
    cost_usd: result.cost_usd,
  };
}
