/** Body of an OpenAI-style error response. */
export type OpenAiErrorBody = {
  error: { message: string; type: string; param: string | null; code: string | null };
};

/**
 * Builds an OpenAI-style error body.
 *
 * @example
 * openAiError('Missing messages.', 'invalid_request_error', 'missing_required_parameter', 'messages')
 */
export function openAiError(
  message: string,
  type: string,
  code: string | null,
  param?: string,
): OpenAiErrorBody {
  return { error: { message, type, param: param ?? null, code } };
}
