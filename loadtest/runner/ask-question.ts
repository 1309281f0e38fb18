import { readSse } from '@assistant/testing';
import type { Recorder } from './recorder.ts';
import { transportErrorKind } from './transport-error.ts';

type Submitted = { id?: string; status?: string; cached?: boolean; error?: { code?: string } };

/**
 * Asks one question through the API as a client would and records it: `POST /v1/queries`, then
 * (unless answered from cache) reads it to its end over SSE or by long-polling. Times run from
 * `dueAt`, the scheduled start, so time the generator spent late still counts.
 */
export async function askQuestion(options: {
  baseUrl: string;
  apiKey: string;
  query: string;
  read: 'sse' | 'poll';
  dueAt: number;
  recorder: Recorder;
  signal: AbortSignal;
}): Promise<void> {
  const { baseUrl, recorder, signal, dueAt } = options;
  const auth = { authorization: `Bearer ${options.apiKey}` };
  let submitted: Submitted;
  try {
    const res = await fetch(`${baseUrl}/v1/queries`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ query: options.query }),
      signal,
    });
    submitted = (await res.json().catch(() => ({}))) as Submitted;
    // Refusals carry their stable error code (queue_full, rate_limited, …): count them by it.
    recorder.status('submit', res.status, submitted.error?.code);
    if (res.status === 429 || res.status === 503) recorder.refused(performance.now() - dueAt);
    if (res.status === 200) {
      recorder.accepted();
      const elapsed = performance.now() - dueAt;
      recorder.firstToken(elapsed);
      recorder.finished(submitted.status ?? 'succeeded', elapsed, { cached: submitted.cached === true });
      return;
    }
    if (res.status !== 202 || !submitted.id) return;
  } catch (error) {
    recorder.transportError('submit', transportErrorKind(error, signal));
    return;
  }
  recorder.accepted();
  const finished =
    options.read === 'sse'
      ? await readToDone(baseUrl, auth, submitted.id, options)
      : await pollToDone(baseUrl, auth, submitted.id, options);
  if (!finished) recorder.neverFinished();
}

async function readToDone(
  baseUrl: string,
  auth: Record<string, string>,
  id: string,
  { recorder, signal, dueAt }: { recorder: Recorder; signal: AbortSignal; dueAt: number },
): Promise<boolean> {
  let finished = false;
  let firstToken = false;
  try {
    const res = await fetch(`${baseUrl}/v1/queries/${id}/events`, { headers: auth, signal });
    recorder.status('events', res.status);
    if (res.status !== 200 || !res.body) return false;
    await readSse(res.body, (event) => {
      const elapsed = performance.now() - dueAt;
      if (event.event === 'token' && !firstToken) {
        firstToken = true;
        recorder.firstToken(elapsed);
      } else if (event.event === 'done') {
        if (!firstToken) recorder.firstToken(elapsed);
        recorder.finished('succeeded', elapsed);
        finished = true;
        return 'stop';
      } else if (event.event === 'error') {
        const code = (JSON.parse(event.data) as { error?: { code?: string } }).error?.code;
        recorder.finished(`error ${code ?? 'unknown'}`, elapsed);
        finished = true;
        return 'stop';
      }
      return undefined;
    });
  } catch (error) {
    if (!finished) recorder.transportError('events', transportErrorKind(error, signal));
  }
  return finished;
}

async function pollToDone(
  baseUrl: string,
  auth: Record<string, string>,
  id: string,
  { recorder, signal, dueAt }: { recorder: Recorder; signal: AbortSignal; dueAt: number },
): Promise<boolean> {
  try {
    while (!signal.aborted) {
      const res = await fetch(`${baseUrl}/v1/queries/${id}?wait=20`, { headers: auth, signal });
      recorder.status('poll', res.status);
      if (res.status !== 200) return false;
      const view = (await res.json()) as { status: string };
      if (view.status === 'succeeded' || view.status === 'failed') {
        recorder.finished(view.status, performance.now() - dueAt);
        return true;
      }
    }
  } catch (error) {
    recorder.transportError('poll', transportErrorKind(error, signal));
  }
  return false;
}
