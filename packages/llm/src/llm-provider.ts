/** One chat message, as the caller built it from the retrieved sources. */
export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

/** A retrieved note chunk handed to the model (and to the extractive answerer). */
export type SourceText = { noteId: string; title: string; text: string; score: number };

/** Tokens spent by one generation. */
export type LlmUsage = { promptTokens: number; completionTokens: number };

/** The kinds of provider `createLlmProvider` can build. */
export type LlmProviderName = 'hf' | 'endpoint' | 'extractive';

/** One generation request. */
export type GenerateRequest = {
  /** Built by the caller from the retrieved sources. */
  messages: ChatMessage[];
  /** The user's question (the extractive answerer scores sentences against it). */
  query: string;
  /** Retrieved note chunks, best first; `[]` means nothing relevant was found. */
  sources: SourceText[];
  maxTokens: number;
  temperature?: number;
  /** Aborting cancels the HTTP call and rejects with `LlmError` kind `aborted`. */
  signal?: AbortSignal;
};

/** The outcome of a generation that completed. */
export type GenerateResult = {
  /** Every streamed token, joined. */
  text: string;
  provider: LlmProviderName;
  model: string;
  usage: LlmUsage;
  /** The last `finish_reason` the model sent (`stop`, `length`, …), or `null` if none. */
  finishReason: string | null;
  /** The answer hit `maxTokens` (finish reason `length`). */
  truncated: boolean;
};

/** Called once per streamed token, in order; a returned promise is awaited (backpressure). */
export type OnToken = (token: string) => void | Promise<void>;

/** A text generator behind one model. */
export type LlmProvider = {
  readonly name: LlmProviderName;
  readonly model: string;
  /**
   * Streams the answer through `onToken` and resolves with the whole of it.
   *
   * @throws LlmError for every failure of the provider; an error thrown by `onToken` is rethrown as is.
   */
  generate(req: GenerateRequest, onToken: OnToken): Promise<GenerateResult>;
};

/** Which provider to build and how to reach it (a slice of the app config). */
export type LlmConfig = {
  provider: LlmProviderName;
  /** HF model id (`hf`), the served model name (`endpoint`), ignored by `extractive`. */
  model: string;
  /** OpenAI-compatible base URL (TGI, vLLM, llama.cpp, Ollama), e.g. `http://host:8080/v1`. */
  endpointUrl?: string;
  /** `HF_TOKEN` for `hf`; an optional bearer token for `endpoint`. */
  hfToken?: string;
  /** Deadline of one whole generation, first byte to last token. */
  timeoutMs: number;
};

/** Collaborators a provider may use. */
export type LlmDeps = {
  /** @defaultValue the global `fetch` */
  fetch?: typeof fetch;
  /** Clock for HTTP-date `Retry-After` values. @defaultValue `Date.now` */
  now?: () => number;
};
