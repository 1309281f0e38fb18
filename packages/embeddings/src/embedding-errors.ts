/** Codes of {@link EmbeddingInputError}: the caller sent something no model can embed. */
export type EmbeddingInputErrorCode = 'empty_text';

/** Thrown when a text cannot be embedded as given; retrying the same input fails again. */
export class EmbeddingInputError extends Error {
  override readonly name = 'EmbeddingInputError';

  constructor(
    readonly code: EmbeddingInputErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Codes of {@link EmbeddingModelError}: the model folder or session cannot serve requests. */
export type EmbeddingModelErrorCode = 'model_not_found' | 'model_invalid' | 'model_closed';

/** Thrown when a model folder is missing or unusable, or the model was already closed. */
export class EmbeddingModelError extends Error {
  override readonly name = 'EmbeddingModelError';

  constructor(
    readonly code: EmbeddingModelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
