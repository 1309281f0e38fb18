import type { Recorder } from './recorder.ts';
import { transportErrorKind } from './transport-error.ts';

/**
 * The floor: one streamed completion straight from the fake LLM (`POST /v1/chat/completions`,
 * `stream: true`), read to `[DONE]`, timed from `dueAt` like a question through the system.
 */
export async function streamDirect(options: {
  llmUrl: string;
  dueAt: number;
  recorder: Recorder;
  signal: AbortSignal;
}): Promise<void> {
  const { recorder, dueAt } = options;
  try {
    const res = await fetch(`${options.llmUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'floor' }], stream: true }),
      signal: options.signal,
    });
    recorder.status('stream', res.status);
    if (res.status !== 200 || !res.body) return;
    recorder.accepted();
    const decoder = new TextDecoder();
    let text = '';
    let firstToken = false;
    for await (const chunk of res.body) {
      text += decoder.decode(chunk, { stream: true });
      if (!firstToken && text.includes('"content"')) {
        firstToken = true;
        recorder.firstToken(performance.now() - dueAt);
      }
      if (text.includes('data: [DONE]')) {
        recorder.finished('succeeded', performance.now() - dueAt);
        return;
      }
      // Keep only the tail: enough to find a marker split across chunks.
      if (text.length > 256) text = text.slice(-64);
    }
    recorder.neverFinished();
  } catch (error) {
    recorder.transportError('stream', transportErrorKind(error, options.signal));
  }
}
