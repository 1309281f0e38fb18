import type { AnswerQuality } from '@assistant/contracts';
import { dot, type Embedder } from '@assistant/embeddings';
import { contentTerms } from '@assistant/llm';

/** A source as the model was given it: its text, and its stored vector when retrieval had it. */
export type ScoredSource = { title: string; text: string; vector?: Float32Array | undefined };

/** What {@link scoreAnswer} judges: one answer against the numbered sources of its prompt. */
export type ScoreInput = {
  answer: string;
  /** The sources in prompt order: `[1]` is the first. */
  sources: readonly ScoredSource[];
  /** `max_tokens` cut the answer. */
  truncated: boolean;
};

/**
 * Tunables of {@link scoreAnswer}. The defaults were chosen on the dev part of the labelled set
 * (`npm run eval:quality`); its test part only reports them.
 */
export type ScoreOptions = {
  /**
   * Cosine of a sentence to its closest source below which embedding support is 0, and above
   * `cosineHigh` 1 (a ramp between). @defaultValue 0.1
   */
  cosineLow: number;
  /** @defaultValue 0.6 */
  cosineHigh: number;
  /** Weight of the embedding support against the lexical one (share of content words the sources hold). @defaultValue 0.25 */
  cosineWeight: number;
  /** Support a sentence needs to count as supported (the groundedness share). @defaultValue 0.5 */
  supportedAt: number;
  /**
   * Weight in the lexical share of a specific word (with a digit, or capitalised inside a
   * sentence: a number, code, date or name), against 1 for any other: a changed number or name is
   * what an answer that contradicts the notes has. @defaultValue 5
   */
  specificWeight: number;
  /**
   * The score's base is the mean support of the sentences (`true`) rather than the share of
   * supported ones (groundedness): graded, so close calls rank in order. @defaultValue true
   */
  gradedScore: boolean;
  /**
   * Lexical share at or above which a sentence counts as quoted from the sources: full
   * embedding support, and no inference for it. 1 embeds every sentence but exact copies;
   * above 1, every sentence. @defaultValue 0.9
   */
  quoteAt: number;
  /**
   * Sentences embedded per answer at most (bounds the CPU of a long answer); 0 scores by words
   * alone, with no inference (about 3 ms of CPU saved per sentence). @defaultValue 0
   */
  maxEmbedded: number;
  /** Multiplier of a truncated answer's score. @defaultValue 0.9 */
  truncatedFactor: number;
};

/** The defaults, set on the dev split of `apps/worker/eval/quality-dataset.json`. */
export const SCORE_DEFAULTS: ScoreOptions = {
  cosineLow: 0.1,
  cosineHigh: 0.6,
  cosineWeight: 0.25,
  supportedAt: 0.5,
  specificWeight: 5,
  gradedScore: true,
  quoteAt: 0.9,
  // Words alone ranked the eval's answers as well as words plus embeddings (dev AUC 0.986 against
  // 0.978, test 1.000 both) at no inference; QUALITY_EMBEDDED_SENTENCES turns the embedding on.
  maxEmbedded: 0,
  truncatedFactor: 0.9,
};

/** Version of the scoring rule, stored with every score so old and new scores are not mixed. */
export const SCORE_VERSION = 2;

/** One sentence of an answer, its citation markers taken out. */
export type AnswerSentence = { text: string; citations: number[] };

// `[1]`, `[1, 2]`, `[1][3]`, `[2-3]`.
const CITATION = /\[(\d+(?:\s*[-–,]\s*\d+)*)\]/g;
// Markers after a sentence's stop belong to that sentence: "Water at dawn. [1] Basil…".
const MARKERS_AFTER_STOP = /([.!?])((?:\s*\[\d+(?:\s*[-–,]\s*\d+)*\])+)/g;

function citedNumbers(marker: string): number[] {
  const out: number[] = [];
  for (const part of marker.split(',')) {
    const [from, to] = part.split(/[-–]/).map((n) => Number.parseInt(n.trim(), 10));
    if (from === undefined || Number.isNaN(from)) continue;
    const last = to === undefined || Number.isNaN(to) ? from : Math.min(to, from + 20);
    for (let n = from; n <= last; n++) out.push(n);
  }
  return out;
}

/**
 * Splits an answer into sentences (at `.`, `!`, `?` before a space, and at line breaks), each
 * with the source numbers it cites; markers after a stop go with the sentence before them.
 * Sentences without a content word ("So it is.", a lone "[1]") are dropped.
 */
export function answerSentences(answer: string): AnswerSentence[] {
  const moved = answer.replace(
    MARKERS_AFTER_STOP,
    (_all, stop: string, markers: string) => `${markers}${stop}`,
  );
  return moved
    .split(/(?<=[.!?])\s+|\n+/)
    .map((raw) => {
      const citations = [...raw.matchAll(CITATION)].flatMap((m) => citedNumbers(m[1]!));
      const text = raw
        .replace(CITATION, ' ')
        .replace(/^\s*(?:[-*•]|\d+[.)])\s+/, '')
        .replace(/\s+/g, ' ')
        .replace(/\s+([.!?,;:])/g, '$1')
        .trim();
      return { text, citations };
    })
    .filter((sentence) => contentTerms(sentence.text).length > 0);
}

/** Share of a sentence's content words the sources hold, specific words weighing more. */
function lexicalSupport(sentence: string, sourceTerms: ReadonlySet<string>, specificWeight: number): number {
  let held = 0;
  let total = 0;
  sentence.split(/\s+/).forEach((word, i) => {
    const weight = /\d/.test(word) || (i > 0 && /^\p{Lu}/u.test(word)) ? specificWeight : 1;
    for (const term of contentTerms(word)) {
      total += weight;
      if (sourceTerms.has(term)) held += weight;
    }
  });
  return total === 0 ? 0 : held / total;
}

const ramp = (x: number, low: number, high: number) => Math.min(1, Math.max(0, (x - low) / (high - low)));
const round = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Scores an answer in [0, 1] against the sources its model was given, with no LLM call: the
 * answer's sentences that are not plain quotes are embedded in one batch (the worker's warm
 * model) and compared with the sources' stored vectors (embedded only when a source has none).
 *
 * - groundedness: the share of sentences supported by the sources, a sentence's support being
 *   the mix of its closest source's cosine (ramped) and the share of its content words the
 *   sources hold (a changed number or name is a word the notes do not have);
 * - citation coverage: the share of sentences citing a source; citation validity: the share of
 *   cited numbers that name a source the model was given;
 * - score = mean support (or groundedness, `gradedScore: false`) × (0.7 + 0.3 × coverage ×
 *   validity), × `truncatedFactor` when cut: citations add to a grounded answer, never rescue
 *   an ungrounded one.
 *
 * No sources (`no_context`): nothing can support a claim, groundedness 0. No sentence: 0.
 *
 * @example
 * const quality = await scoreAnswer({ answer, sources, truncated: false }, { embedder });
 */
export async function scoreAnswer(
  input: ScoreInput,
  deps: { embedder: Embedder },
  options: ScoreOptions = SCORE_DEFAULTS,
): Promise<AnswerQuality> {
  const sentences = answerSentences(input.answer);
  const noContext = input.sources.length === 0;
  const cited = sentences.flatMap((s) => s.citations);
  const validCitations = cited.filter((n) => n >= 1 && n <= input.sources.length).length;
  const citationCoverage =
    sentences.length === 0 ? 0 : sentences.filter((s) => s.citations.length > 0).length / sentences.length;
  const citationValidity = cited.length === 0 ? 1 : validCitations / cited.length;

  let supported = 0;
  let support: number[] = [];
  if (sentences.length > 0 && !noContext) {
    const sourceTerms = new Set(input.sources.flatMap((s) => contentTerms(`${s.title} ${s.text}`)));
    const lexical = sentences.map((s) => lexicalSupport(s.text, sourceTerms, options.specificWeight));
    // A sentence (nearly) all of whose words the sources hold is a quote: its cosine would be high
    // anyway, so it is not embedded (CPU: about 3 ms per embedded sentence on one core). Of the
    // rest, the `maxEmbedded` whose lexical share is closest to the bar are (the cosine decides
    // those); any other keeps its lexical share as its whole support.
    const embedded = sentences
      .map((sentence, i) => ({ sentence, doubt: Math.abs(lexical[i]! - options.supportedAt) }))
      .filter(({ sentence }) => lexical[sentences.indexOf(sentence)]! < options.quoteAt)
      .sort((a, b) => a.doubt - b.doubt)
      .slice(0, options.maxEmbedded)
      .map(({ sentence }) => sentence);
    const missing = input.sources.filter((s) => s.vector === undefined);
    // One inference for the sentences and any source retrieval returned without its vector.
    const vectors =
      embedded.length === 0
        ? []
        : await deps.embedder.embed([
            ...embedded.map((s) => s.text),
            ...missing.map((s) => `${s.title}\n${s.text}`),
          ]);
    const fresh = new Map(missing.map((s, i) => [s, vectors[embedded.length + i]!]));
    const sourceVectors = input.sources.map((s) => s.vector ?? fresh.get(s)!);
    const vectorOf = new Map(embedded.map((s, i) => [s, vectors[i]!]));
    support = sentences.map((sentence, i) => {
      const vector = vectorOf.get(sentence);
      // A quote counts as fully similar; a sentence past the cap as its lexical share.
      let semantic = lexical[i]! >= options.quoteAt ? 1 : lexical[i]!;
      if (vector) {
        let best = -1;
        for (const sourceVector of sourceVectors) best = Math.max(best, dot(vector, sourceVector));
        semantic = ramp(best, options.cosineLow, options.cosineHigh);
      }
      return options.cosineWeight * semantic + (1 - options.cosineWeight) * lexical[i]!;
    });
    supported = support.filter((s) => s >= options.supportedAt).length;
  }
  const groundedness = sentences.length === 0 ? 0 : supported / sentences.length;
  const meanSupport = support.length === 0 ? 0 : support.reduce((a, b) => a + b, 0) / support.length;
  const base = options.gradedScore ? meanSupport : groundedness;
  const raw = base * (0.7 + 0.3 * citationCoverage * citationValidity);
  const score = input.truncated ? raw * options.truncatedFactor : raw;
  return {
    score: round(score),
    groundedness: round(groundedness),
    support: round(meanSupport),
    citation_coverage: round(citationCoverage),
    citation_validity: round(citationValidity),
    sentences: sentences.length,
    supported_sentences: supported,
    no_context: noContext,
    truncated: input.truncated,
    version: SCORE_VERSION,
  };
}
