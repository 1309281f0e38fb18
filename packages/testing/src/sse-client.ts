/** One server-sent event as a client sees it. */
export type SseEvent = { id?: string; event: string; data: string };

/**
 * Reads a `text/event-stream` body event by event, as EventSource would (ids, event names,
 * multi-line data; comment lines are counted, not returned). Stops when `onEvent` returns the string
 * `'stop'` or the stream ends.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => unknown,
  onComment: (text: string) => void = () => {},
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id?: string; event?: string; data: string[] } = { data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        if (line === '') {
          if (current.data.length > 0 || current.event) {
            const verdict = onEvent({
              id: current.id,
              event: current.event ?? 'message',
              data: current.data.join('\n'),
            });
            if (verdict === 'stop') return;
          }
          current = { data: [] };
        } else if (line.startsWith(':')) {
          onComment(line.slice(1).trim());
        } else {
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') current.data.push(value);
          else if (field === 'event') current.event = value;
          else if (field === 'id') current.id = value;
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
