import { isTerminalEvent, type QueryEvent } from '@assistant/contracts';
import { createParser } from 'eventsource-parser';
import type { ApiClient } from './api-client.ts';
import { CliError } from './cli-error.ts';

/** Options of {@link followQueryEvents}. */
export type FollowOptions = {
  /** Reconnects (with `Last-Event-ID`) after a dropped stream before giving up. @defaultValue 5 */
  reconnects: number;
  /** @defaultValue 1000 */
  reconnectDelayMs: number;
  /** Told before each reconnect. */
  onReconnect?: () => void;
};

/**
 * Follows a query's SSE stream until its terminal event, calling `onEvent` for each event once:
 * a stream that drops (network, an API process stopping) is resumed from the last event id, so
 * no token is lost or repeated. Returns the terminal event.
 */
export async function followQueryEvents(
  client: ApiClient,
  eventsPath: string,
  onEvent: (event: QueryEvent) => void,
  options: FollowOptions = { reconnects: 5, reconnectDelayMs: 1000 },
): Promise<QueryEvent> {
  let lastEventId: string | undefined;
  let failures = 0;
  for (;;) {
    let terminal: QueryEvent | undefined;
    const parser = createParser({
      onEvent(message) {
        if (terminal) return;
        const event = JSON.parse(message.data) as QueryEvent;
        if (message.id) lastEventId = message.id;
        onEvent(event);
        if (isTerminalEvent(event)) terminal = event;
      },
    });
    try {
      const res = await client.send('GET', eventsPath, {
        headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      });
      if (!res.ok) throw await client.failure('GET', eventsPath, res);
      const decoder = new TextDecoder();
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (terminal) return terminal;
      }
    } catch (error) {
      // The API's own refusals (a bad key, an unknown query) are final; a dropped stream is not.
      if (error instanceof CliError && !/cannot reach the API/.test(error.message)) throw error;
    }
    if (terminal) return terminal;
    failures += 1;
    if (failures > options.reconnects) {
      throw new CliError(
        `the answer stream dropped ${failures} times; giving up (the question may still finish)`,
      );
    }
    options.onReconnect?.();
    await new Promise((resolve) => setTimeout(resolve, options.reconnectDelayMs));
  }
}
