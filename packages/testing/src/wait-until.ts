/** Tunables of {@link waitUntil}. */
export type WaitUntilOptions = {
  /** What is awaited, for the timeout message. */
  what: string;
  /** @defaultValue 30000 */
  timeoutMs?: number;
  /** Pause between probes. @defaultValue 100 */
  intervalMs?: number;
};

/**
 * Polls `probe` until it returns something other than `undefined` or `false`, and returns that.
 * For setup hooks, where `expect.poll` cannot run; the timeout error carries the last value seen.
 *
 * @example
 * await waitUntil(async () => (await note()).index_status === 'indexed', { what: 'note indexed' });
 */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitUntilOptions,
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${options.what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
