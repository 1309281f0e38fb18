import { detailKind, editDistance, isIdentifier, lexicalTerms } from './lexical-terms.ts';

/** Tunables of {@link buildLexicalIndex}'s BM25. */
export type Bm25Options = {
  /** Term-frequency saturation. @defaultValue 1.2 */
  k1: number;
  /** Length normalisation. @defaultValue 0.75 */
  b: number;
};

/** One posting list: `rows[from..to)` hold the term, each with its precomputed BM25 weight. */
type Postings = { idf: number; from: number; to: number };

/** How one chunk matched a question. */
export type LexicalMatch = {
  /** BM25 score (OR semantics: any question word counts, weighted by its rarity). */
  score: number;
  /** Share of the question's IDF mass the chunk holds (0..1): how much of the question it covers. */
  coverage: number;
  /** The question names a year or a month, the chunk names others of that kind and not it. */
  conflict: boolean;
  /** The chunk holds a code or number of the question exactly. */
  identifier: boolean;
};

/** How well one row covers the question, for the answerability decision. */
export type LexicalEvidence = {
  /** Share of the question's IDF mass the row holds. */
  coverage: number;
  /**
   * The question names a thing (a capitalised or possessive word, a code) that other notes hold
   * but this row does not: "Leo's dentist" when the dentist note is about someone else.
   */
  missingName: boolean;
  /** Share of the question's IDF mass in words no note holds (synonyms, or a thing not noted). */
  unseenShare: number;
  /** The question names a thing (a capitalised word, a code) that no note holds. */
  unseenName: boolean;
};

/** Options of one search. */
export type LexicalSearchOptions = {
  /** Multiplier on the weight of codes, numbers, years and capitalised names. @defaultValue 2 */
  identifierBoost: number;
  /** Weight of a typo-tolerant match against an exact one. @defaultValue 0.8 */
  fuzzyWeight: number;
};

/** Distinguishing details of a chunk: the years and months it names. */
type Details = { year: Set<string>; month: Set<string> };

/** A BM25 index over one user's chunks, row-aligned with the vector matrix. */
export type LexicalIndex = {
  /**
   * Every row with a match, keyed by row (rows without any term are absent), and whether a row
   * contradicts a year or month the question names (for any row, matched or not).
   */
  search(
    query: string,
    options: LexicalSearchOptions,
  ): {
    matches: Map<number, LexicalMatch>;
    conflict: (row: number) => boolean;
    /** What the answerability decision reads about one row. */
    evidence: (row: number) => LexicalEvidence;
  };
  /** Distinct terms. */
  readonly terms: number;
  /** Rough bytes held (postings and the term table). */
  readonly bytes: number;
};

/**
 * Builds the in-memory BM25 index of a user's chunks (title and text of each row). Built once
 * per notes generation, beside the vector matrix, so both always describe the same chunks.
 */
export function buildLexicalIndex(docs: string[], options: Bm25Options = { k1: 1.2, b: 0.75 }): LexicalIndex {
  const counts = new Map<string, Map<number, number>>();
  const lengths = new Float32Array(docs.length);
  // Only rows that name a year or a month have details (most do not).
  const details = new Map<number, Details>();
  docs.forEach((doc, row) => {
    const terms = lexicalTerms(doc);
    lengths[row] = terms.length;
    for (const term of terms) {
      let byRow = counts.get(term);
      if (!byRow) {
        byRow = new Map();
        counts.set(term, byRow);
      }
      byRow.set(row, (byRow.get(row) ?? 0) + 1);
      const kind = detailKind(term);
      if (kind) {
        const own = details.get(row) ?? { year: new Set<string>(), month: new Set<string>() };
        own[kind].add(term);
        details.set(row, own);
      }
    }
  });
  const n = docs.length;
  const averageLength = lengths.reduce((sum, length) => sum + length, 0) / Math.max(1, n);
  // All posting lists in two flat arrays (one allocation each, not two per term).
  let total = 0;
  for (const byRow of counts.values()) total += byRow.size;
  const rows = new Int32Array(total);
  const weights = new Float32Array(total);
  const postings = new Map<string, Postings>();
  let at = 0;
  for (const [term, byRow] of counts) {
    const from = at;
    for (const [row, tf] of byRow) {
      const norm = options.k1 * (1 - options.b + (options.b * lengths[row]!) / Math.max(1, averageLength));
      rows[at] = row;
      weights[at] = (tf * (options.k1 + 1)) / (tf + norm);
      at++;
    }
    postings.set(term, { idf: idf(n, byRow.size), from, to: at });
  }
  // Words (not codes) by length, for typo lookups.
  const byLength: string[][] = [];
  for (const term of postings.keys()) {
    if (isIdentifier(term)) continue;
    const bucket = byLength[term.length] ?? [];
    bucket.push(term);
    byLength[term.length] = bucket;
  }
  const unseenIdf = idf(n, 0);
  const noDetails: Details = { year: new Set(), month: new Set() };

  /** Vocabulary terms one typo away (two for long words), for a question word the notes lack. */
  function nearTerms(term: string): string[] {
    if (term.length < 4 || isIdentifier(term)) return [];
    const max = term.length >= 8 ? 2 : 1;
    let found: { term: string; distance: number }[] = [];
    for (let length = term.length - max; length <= term.length + max; length++) {
      for (const candidate of byLength[length] ?? []) {
        const distance = editDistance(term, candidate, max);
        if (distance <= max) found.push({ term: candidate, distance });
      }
    }
    const best = Math.min(...found.map((f) => f.distance));
    found = found.filter((f) => f.distance === best);
    return found.map((f) => f.term);
  }

  let termBytes = 0;
  for (const term of postings.keys()) termBytes += 2 * term.length;
  // Calibrated with `npm run measure:retrieval` (3.4 MiB of heap for 1,000 notes, 4,659 terms): about
  // 650 bytes per term for its Map entry, posting object, string and typo bucket.
  const bytes =
    rows.byteLength +
    weights.byteLength +
    lengths.byteLength +
    termBytes +
    postings.size * 650 +
    details.size * 400;

  return {
    terms: postings.size,
    bytes,
    search(query, searchOptions) {
      const queryTerms = [...new Set(lexicalTerms(query))].slice(0, 32);
      const names = nameTerms(query);
      const wanted: Partial<Record<'year' | 'month', string[]>> = {};
      const scores = new Map<
        number,
        { score: number; matched: number; identifier: boolean; terms: number }
      >();
      /** Per question term: its weight in the question (IDF mass) and whether any note holds it. */
      const termMass: number[] = [];
      const seen: boolean[] = [];
      let unseenName = false;
      queryTerms.forEach((term, t) => {
        const kind = detailKind(term);
        if (kind) wanted[kind] = [...(wanted[kind] ?? []), term];
        const exact = postings.get(term);
        const expansions = exact
          ? [{ list: exact, weight: 1 }]
          : nearTerms(term).map((near) => ({ list: postings.get(near)!, weight: searchOptions.fuzzyWeight }));
        // Exact things the question names weigh more: codes, numbers, years, capitalised names.
        const boost = isIdentifier(term) || names.has(term) ? searchOptions.identifierBoost : 1;
        if (expansions.length === 0) {
          // A question word no note holds still counts against coverage, at the highest rarity.
          termMass.push(unseenIdf * boost);
          seen.push(false);
          if (names.has(term) || isIdentifier(term)) unseenName = true;
          return;
        }
        const mass = Math.max(...expansions.map((e) => e.list.idf * e.weight)) * boost;
        termMass.push(mass);
        seen.push(true);
        // One expansion per row: the best one.
        const perRow = new Map<number, number>();
        for (const { list, weight } of expansions) {
          for (let i = list.from; i < list.to; i++) {
            const row = rows[i]!;
            const score = list.idf * weight * boost * weights[i]!;
            if ((perRow.get(row) ?? 0) < score) perRow.set(row, score);
          }
        }
        for (const [row, score] of perRow) {
          const entry = scores.get(row) ?? { score: 0, matched: 0, identifier: false, terms: 0 };
          entry.score += score;
          entry.matched += mass;
          entry.identifier ||= boost > 1 && exact !== undefined;
          entry.terms |= 1 << t;
          scores.set(row, entry);
        }
      });
      const total = termMass.reduce((sum, mass) => sum + mass, 0);
      const unseenMass = termMass.reduce((sum, mass, t) => sum + (seen[t] ? 0 : mass), 0);
      const conflict = (row: number) => conflicts(wanted, details.get(row) ?? noDetails);
      const matches = new Map<number, LexicalMatch>();
      for (const [row, entry] of scores) {
        matches.set(row, {
          score: entry.score,
          coverage: total > 0 ? Math.min(1, entry.matched / total) : 0,
          conflict: conflict(row),
          identifier: entry.identifier,
        });
      }
      return {
        matches,
        conflict,
        evidence(row) {
          const held = scores.get(row)?.terms ?? 0;
          const missingName = queryTerms.some(
            (term, t) => seen[t] && !(held & (1 << t)) && (names.has(term) || isIdentifier(term)),
          );
          return {
            coverage: matches.get(row)?.coverage ?? 0,
            missingName,
            unseenShare: total > 0 ? unseenMass / total : 0,
            unseenName,
          };
        },
      };
    },
  };
}

/**
 * Terms of the words a question capitalises past its first word or writes possessive: the names
 * of things and people ("Lisbon", "Leo's"). When no note holds one, the notes are not about it.
 */
function nameTerms(query: string): Set<string> {
  const names = new Set<string>();
  const words = query.match(/[\p{L}\p{N}][\p{L}\p{N}'’.-]*/gu) ?? [];
  words.forEach((word, i) => {
    if ((i > 0 && /^\p{Lu}/u.test(word)) || /['’]s$/.test(word)) {
      for (const term of lexicalTerms(word)) names.add(term);
    }
  });
  return names;
}

/** Whether a chunk names other years (or months) than the question and none of the question's. */
function conflicts(wanted: Partial<Record<'year' | 'month', string[]>>, own: Details): boolean {
  for (const kind of ['year', 'month'] as const) {
    const asked = wanted[kind];
    if (!asked || own[kind].size === 0) continue;
    if (!asked.some((term) => own[kind].has(term))) return true;
  }
  return false;
}

function idf(n: number, df: number): number {
  return Math.log(1 + (n - df + 0.5) / (df + 0.5));
}
