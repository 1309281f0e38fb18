import type { RetrieveInput, Retriever } from '../pipeline/retrieve.ts';
import type { LexicalMatch } from './lexical-index.ts';
import { type ChunkRef, toRetrieved, type UserVectorIndex } from './user-vector-index.ts';

/**
 * Options of {@link createFusedRetriever}. The defaults were set on the dev part of the eval set
 * (`npm run eval:retrieval`); the test part only reports them.
 */
export type FusedRetrieverOptions = {
  /** Weight of BM25 (divided by the question's best BM25) added to the cosine. @defaultValue 0.1 */
  lexicalWeight: number;
  /** Weight of the chunk's coverage of the question's IDF mass added too. @defaultValue 0.1 */
  coverageWeight: number;
  /** Subtracted from a chunk that names another year or month than the question. @defaultValue 0.1 */
  conflictPenalty: number;
  /** Weight multiplier of codes, numbers, years and capitalised names the question names. @defaultValue 3 */
  identifierBoost: number;
  /** Weight of a one-typo match against an exact one. @defaultValue 0.8 */
  fuzzyWeight: number;
  /**
   * Behind the best chunk, a chunk is returned only within `tailMargin` of its fused score, not
   * contradicting the question's year or month, and with cosine >= `minScore` or a third of the
   * question's rare words: the prompt (and the extractive answer) get no chunk that merely shares
   * a common word. @defaultValue 0.15
   */
  tailMargin: number;
  /** @defaultValue 0.3 */
  minScore: number;
  /** The answerability decision, read on the best chunk (see {@link isAnswerable}). */
  answerability: AnswerabilityGate;
};

/** What the answerability decision reads on the best chunk. */
export type AnswerabilityFeatures = {
  cosine: number;
  coverage: number;
  missingName: boolean;
  unseenName: boolean;
  conflict: boolean;
};

/**
 * When the notes count as answering: the best chunk is close in meaning (`minCosine`), or holds
 * most of the question's rare words (`minCoverage`), or both together are enough (`cosine +
 * coverageWeight * coverage >= minEvidence`); and no veto applies: the chunk contradicts the
 * question's year or month, the question names a thing no note holds, or a thing that other notes
 * hold but this chunk does not.
 */
export type AnswerabilityGate = {
  minCosine: number;
  minCoverage: number;
  minEvidence: number;
  coverageWeight: number;
  vetoConflict: boolean;
  vetoUnseenName: boolean;
  vetoMissingName: boolean;
};

/** The answerability decision on the best chunk's features. */
export function isAnswerable(gate: AnswerabilityGate, f: AnswerabilityFeatures): boolean {
  if ((gate.vetoConflict && f.conflict) || (gate.vetoUnseenName && f.unseenName)) return false;
  if (gate.vetoMissingName && f.missingName) return false;
  return (
    f.cosine >= gate.minCosine ||
    f.coverage >= gate.minCoverage ||
    f.cosine + gate.coverageWeight * f.coverage >= gate.minEvidence
  );
}

/** A gate that lets every question through (`RETRIEVAL_ANSWERABILITY=off`). */
export const ALWAYS_ANSWERABLE: AnswerabilityGate = {
  minCosine: -1,
  minCoverage: 0,
  minEvidence: -1,
  coverageWeight: 0,
  vetoConflict: false,
  vetoUnseenName: false,
  vetoMissingName: false,
};

/** The defaults, set on the dev part of the eval set. */
export const FUSED_DEFAULTS: FusedRetrieverOptions = {
  lexicalWeight: 0.1,
  coverageWeight: 0.1,
  conflictPenalty: 0.1,
  identifierBoost: 3,
  fuzzyWeight: 0.8,
  tailMargin: 0.15,
  minScore: 0.3,
  answerability: {
    minCosine: 0.3,
    minCoverage: 0.5,
    minEvidence: 0.3,
    coverageWeight: 1,
    vetoConflict: true,
    vetoUnseenName: false,
    vetoMissingName: false,
  },
};

/** A ranked candidate with what the answerability decision reads. */
export type Candidate = {
  chunk: ChunkRef;
  fused: number;
  cosine: number;
  lexical?: LexicalMatch;
  conflict: boolean;
};

/** The full outcome of a ranking: candidates best first, and whether the notes answer at all. */
export type Ranked = {
  candidates: Candidate[];
  answerable: boolean;
  /** What the answerability decision read (absent when the user has no chunks). */
  features?: AnswerabilityFeatures;
};

/** Deps of {@link createFusedRetriever}. */
export type FusedRetrieverDeps = { index: Pick<UserVectorIndex, 'scoreAll'> };

/**
 * Retrieval over the asking user's chunks: cosine from the in-memory matrix plus BM25 from the
 * in-memory index of the same generation (OR semantics, rare words weigh most, codes and numbers
 * boosted, one typo tolerated), fused by score, with chunks that contradict the question's year
 * or month pushed down. Then an answerability decision on the best chunk: when the notes do not
 * answer, the result is empty, so the pipeline answers "your notes don't cover this" with no
 * sources instead of quoting a near-topic note.
 */
export function createFusedRetriever(deps: FusedRetrieverDeps, options: FusedRetrieverOptions) {
  async function rank({ userId, query, vector }: Omit<RetrieveInput, 'limit'>): Promise<Ranked> {
    const { chunks, cosines, lexical } = await deps.index.scoreAll(userId, vector);
    if (chunks.length === 0) return { candidates: [], answerable: false };
    const { matches, conflict, evidence } = lexical.search(query, {
      identifierBoost: options.identifierBoost,
      fuzzyWeight: options.fuzzyWeight,
    });
    let best = 0;
    for (const match of matches.values()) best = Math.max(best, match.score);
    const candidates: Candidate[] = chunks.map((chunk, row) => {
      const match = matches.get(row);
      const cosine = cosines[row]!;
      const contradicts = match ? match.conflict : conflict(row);
      const fused =
        cosine +
        (match && best > 0
          ? options.lexicalWeight * (match.score / best) + options.coverageWeight * match.coverage
          : 0) -
        (contradicts ? options.conflictPenalty : 0);
      return { chunk, fused, cosine, ...(match ? { lexical: match } : {}), conflict: contradicts };
    });
    const rows = new Map(candidates.map((c, row) => [c, row]));
    candidates.sort((a, b) => b.fused - a.fused);
    const top = candidates[0]!;
    const seen = evidence(rows.get(top)!);
    const features: AnswerabilityFeatures = {
      cosine: top.cosine,
      coverage: seen.coverage,
      missingName: seen.missingName,
      unseenName: seen.unseenName,
      conflict: top.conflict,
    };
    return { candidates, answerable: isAnswerable(options.answerability, features), features };
  }

  const retriever: Retriever & { rank: typeof rank } = {
    rank,
    async retrieve(input) {
      const ranked = await rank(input);
      if (!ranked.answerable) return [];
      const floor = ranked.candidates[0]!.fused - options.tailMargin;
      return ranked.candidates
        .filter(
          (c, i) =>
            i === 0 ||
            (!c.conflict &&
              c.fused >= floor &&
              (c.cosine >= options.minScore || (c.lexical?.coverage ?? 0) >= 1 / 3)),
        )
        .slice(0, input.limit)
        .map((c) => toRetrieved(c.chunk, c.cosine));
    },
  };
  return retriever;
}
