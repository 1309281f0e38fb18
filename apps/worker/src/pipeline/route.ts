import type { QueryClass, Route } from '@assistant/contracts';

/** The routing table: the model per class. */
export type RoutingOptions = {
  /** The configured default model (LLM_MODEL): what answers when nothing else picks one. */
  defaultModel: string;
  /** The model per class (LLM_SIMPLE_MODEL, LLM_COMPLEX_MODEL; each the default when unset). */
  models: Record<Exclude<QueryClass, 'no_context'>, string>;
};

/** Which model answers a question, and the route to record (absent: the question was not routed). */
export type ModelChoice = { model: string; route?: Route };

/**
 * Picks the model of a question. Precedence: an experiment variant's model (the experiment is
 * measuring it), then the class's model when routing is on for the user, then the default.
 * A routed question records its class and the model chosen, whichever rule chose it.
 *
 * @example
 * chooseModel({ class: 'simple', routing: true }, options) // { model: 'small', route: { class: 'simple', model: 'small' } }
 */
export function chooseModel(
  input: { class: Exclude<QueryClass, 'no_context'>; routing: boolean; experimentModel?: string | undefined },
  options: RoutingOptions,
): ModelChoice {
  const model =
    input.experimentModel ??
    (input.routing ? options.models[input.class] : undefined) ??
    options.defaultModel;
  return input.routing ? { model, route: { class: input.class, model } } : { model };
}

/** The route of a question the notes do not cover: no model at all (when routing is on). */
export function noContextRoute(routing: boolean): Route | undefined {
  return routing ? { class: 'no_context', model: 'none' } : undefined;
}
