/** Tunables of {@link createTokenBatcher}. */
export type TokenBatcherOptions = {
  /** Longest a token waits for company before it is sent. @defaultValue 25 */
  maxDelayMs: number;
  /** Tokens that make a batch full, sent at once. @defaultValue 16 */
  maxTokens: number;
};

/** Collaborators of {@link createTokenBatcher}. */
export type TokenBatcherDeps = {
  /** Appends one `token` event carrying `text` (the batch's tokens, concatenated in order). */
  send(text: string): Promise<unknown>;
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
};

/**
 * Streams a model's tokens as few stream appends: the first token goes out at once (time to first
 * token is untouched), later ones are joined into one `token` event per `maxDelayMs` or
 * `maxTokens`, whichever comes first. A client that concatenates `token` texts sees the same
 * answer; each batch is one stream entry, so `Last-Event-ID` resumes exactly. Appends are issued
 * in order on one connection and never overlap, so their order is the tokens' order.
 *
 * @example
 * const tokens = createTokenBatcher({ send: (text) => emit({ type: 'token', text }) }, options);
 * await llm.generate(request, tokens.push);
 * await tokens.flush();
 */
export function createTokenBatcher(deps: TokenBatcherDeps, options: TokenBatcherOptions) {
  const setTimer = deps.setTimer ?? ((run, ms) => setTimeout(run, ms));
  const clearTimer = deps.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  let held: string[] = [];
  let timer: unknown;
  let sentFirst = false;
  // Every append chains on the previous one: one failure fails every later flush (and is seen).
  let chain: Promise<unknown> = Promise.resolve();

  function sendHeld(): void {
    if (timer !== undefined) {
      clearTimer(timer);
      timer = undefined;
    }
    if (held.length === 0) return;
    const text = held.join('');
    held = [];
    chain = chain.then(() => deps.send(text));
    // Observed now, awaited by flush(): a failed append must not be an unhandled rejection.
    chain.catch(() => {});
  }

  return {
    /** Takes one token, as the model produced it. */
    push(token: string): void {
      held.push(token);
      if (!sentFirst || held.length >= options.maxTokens) {
        sentFirst = true;
        sendHeld();
      } else if (timer === undefined) {
        timer = setTimer(sendHeld, options.maxDelayMs);
      }
    },
    /** Sends what is held and resolves once every append so far is stored (rejects if one failed). */
    async flush(): Promise<void> {
      sendHeld();
      await chain;
    },
    /** Starts over after a `restart`: the next token is again a first one, sent at once. */
    reset(): void {
      sentFirst = false;
    },
  };
}

/** The token batcher's interface. */
export type TokenBatcher = ReturnType<typeof createTokenBatcher>;
