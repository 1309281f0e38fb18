/**
 * What kind of work a question asks for, which decides the model that answers it (see
 * `route.ts`). `no_context` is not decided here: it is the retriever's answerability decision
 * (nothing retrieved), and the pipeline answers it without a model.
 */
export type Classification = {
  class: 'simple' | 'complex';
  /**
   * Why, one entry per rule that fired (`cue:compare`, `words:31`, `notes:3`, `parts:2`,
   * `centroid:0.041`); empty for a simple question: simple is what a question is when no rule
   * says otherwise.
   */
  reasons: string[];
  words: number;
  /** Distinct notes among the retrieved chunks. */
  notes: number;
};

/** Thresholds of {@link classifyQuery}, set on the dev part of the routing eval set. */
export type ClassifierOptions = {
  /** A question of at least this many words is complex. @defaultValue 18 */
  complexMinWords: number;
  /**
   * Retrieval spread over at least this many distinct notes (the retriever keeps only chunks
   * close to the best one) makes a question complex: its answer draws on several notes.
   * 0 turns the rule off. @defaultValue 0
   */
  complexMinNotes: number;
  /**
   * The nearest-centroid rule on the question's embedding (the vector retrieval already
   * computed): complex when it is closer to the complex centroid than to the simple one by more
   * than `margin` (cosine). Absent: the rule is off. @defaultValue off
   */
  centroids?: RoutingCentroids | undefined;
};

/** The mean (unit) embedding of each class's questions, and the margin that decides. */
export type RoutingCentroids = { simple: Float32Array; complex: Float32Array; margin: number };

/** The defaults, set on the dev part of `apps/worker/eval/routing-dataset.json`. */
export const CLASSIFIER_DEFAULTS: ClassifierOptions = { complexMinWords: 18, complexMinNotes: 0 };

/**
 * Words and phrases that ask for more than a looked-up fact: a comparison, a summary over
 * several notes, an explanation, advice or a plan, something written. Each is named in the
 * reasons by its first word. A bare "why" or "how" is not one: "Why did I turn down the offer?"
 * is answered by one sentence of one note.
 */
const CUES: readonly (readonly [name: string, pattern: RegExp])[] = [
  ['compare', /\b(compar(e|es|ed|ing|ison)|versus|vs\.?|differ(s|ent|ence|ences)?|rank)\b/],
  ['both', /\b(both|each of|all of|between (the|my|our) (two|three))\b/],
  ['summary', /\b(summari[sz]e|summary|overview|recap|outline|timeline)\b/],
  ['everything', /\b(everything|every|all (the|my|our)|across|overall|patterns?|common)\b/],
  ['explain', /\b(explain|analy[sz]e|walk me through|step by step|trade-?offs?|pros and cons)\b/],
  ['advice', /\b(recommend|suggest|should i|help me decide|prioriti[sz]e|realistic|would you)\b/],
  ['plan', /\b(plan (a|an|the|my|our|for)|schedule for|checklist|packing list|make a|create a)\b/],
  ['write', /\b(write|draft|describe|give me a (short )?(summary|list|overview))\b/],
  ['hypothetical', /\b(if (my|the|we|i)\b.*\b(what|who|how)|given (the|our|my))\b/],
];

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;
const QUESTION_WORD = /,?\s+and\s+(what|how|when|where|who|which|why|is|are|do|does|did)\b/;

/** How much closer (cosine) a vector is to the complex centroid than to the simple one. */
export function centroidLean(vector: Float32Array, centroids: RoutingCentroids): number {
  let complex = 0;
  let simple = 0;
  for (let i = 0; i < vector.length; i++) {
    complex += vector[i]! * (centroids.complex[i] ?? 0);
    simple += vector[i]! * (centroids.simple[i] ?? 0);
  }
  return complex - simple;
}

/**
 * Classifies a question by rules a person can check: what it asks for (cue words), how long it is,
 * whether it asks several things at once, how many notes its retrieved chunks come from, and
 * (with centroids) which class's typical question its embedding is nearer to. No extra model
 * call: fast, deterministic, and every decision names the rules that made it.
 *
 * @example
 * classifyQuery({ query: 'Compare the two job offers', sources: [] }, CLASSIFIER_DEFAULTS)
 * // { class: 'complex', reasons: ['cue:compare'], words: 5, notes: 0 }
 */
export function classifyQuery(
  input: { query: string; sources: readonly { noteId: string }[]; vector?: Float32Array | undefined },
  options: ClassifierOptions,
): Classification {
  const text = input.query.trim().toLowerCase();
  const words = text.match(WORD)?.length ?? 0;
  const notes = new Set(input.sources.map((s) => s.noteId)).size;
  const reasons: string[] = [];
  for (const [name, pattern] of CUES) if (pattern.test(text)) reasons.push(`cue:${name}`);
  const parts = (text.match(/\?/g)?.length ?? 0) + (QUESTION_WORD.test(text) ? 1 : 0);
  if (parts >= 2) reasons.push(`parts:${parts}`);
  if (words >= options.complexMinWords) reasons.push(`words:${words}`);
  if (options.complexMinNotes > 0 && notes >= options.complexMinNotes) reasons.push(`notes:${notes}`);
  if (options.centroids && input.vector) {
    const lean = centroidLean(input.vector, options.centroids);
    if (lean > options.centroids.margin) reasons.push(`centroid:${lean.toFixed(3)}`);
  }
  return { class: reasons.length > 0 ? 'complex' : 'simple', reasons, words, notes };
}
