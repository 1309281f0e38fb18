/**
 * Words as the in-memory BM25 index sees them, for notes and questions alike: lowercased,
 * accents folded, English stop and question words dropped, plurals and possessives trimmed,
 * month abbreviations spelled out ("Apr" meets "April"), and every code written with separators
 * ("AH-55190", "0-2931-8841", "192.168.1.40") also kept whole without them, so a booking
 * reference matches as one rare term.
 */

const STOPWORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'me my no not of on or our so than that the their them then there these they this to was we were what ' +
    'when where which who whom whose why will with would you your about any all some just also us am ' +
    "i'm im get got should shall need needs there's what's whats is it's let let's please tell know"
  ).split(' '),
);

const MONTHS: Record<string, string> = {
  jan: 'january',
  feb: 'february',
  mar: 'march',
  apr: 'april',
  jun: 'june',
  jul: 'july',
  aug: 'august',
  sep: 'september',
  sept: 'september',
  oct: 'october',
  nov: 'november',
  dec: 'december',
};

const MONTH_NAMES = new Set(Object.values(MONTHS).concat('may'));

/** A crude singular: enough for matching, since questions and notes go through the same rule. */
function singular(word: string): string {
  if (word.length <= 3 || word.endsWith('ss') || /\d/.test(word)) return word;
  if (word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (/(?:oes|ches|shes|xes)$/.test(word)) return word.slice(0, -2);
  return word.endsWith('s') ? word.slice(0, -1) : word;
}

function normalise(word: string): string {
  const bare = word.replace(/['’]s$/, '').replace(/['’]/g, '');
  return MONTHS[bare] ?? singular(bare);
}

/** Terms of a text, in order, with repeats (term frequency counts them). */
export function lexicalTerms(text: string): string[] {
  const folded = text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  const terms: string[] = [];
  for (const match of folded.matchAll(/[\p{L}\p{N}]+(?:['’.\-/:_][\p{L}\p{N}]+)*/gu)) {
    const token = match[0];
    const parts = token.split(/[.\-/:_]/);
    // "Wi-Fi", "e-mail": one word written in short pieces.
    const pieces = parts.length > 1 && parts.every((part) => part.length <= 2);
    if (parts.length > 1 && (pieces || /\d/.test(token))) terms.push(parts.join(''));
    if (pieces) continue;
    for (const part of parts) {
      const term = normalise(part);
      if (term.length > 1 && !STOPWORDS.has(term)) terms.push(term);
    }
  }
  return terms;
}

/** A term that names one thing exactly: has a digit (a code, a number, a year) and 2+ characters. */
export function isIdentifier(term: string): boolean {
  return /\d/.test(term) && term.length >= 2;
}

/** The kind of distinguishing detail a term is, if any: a year or a month. */
export function detailKind(term: string): 'year' | 'month' | undefined {
  if (/^(19|20)\d\d$/.test(term)) return 'year';
  if (MONTH_NAMES.has(term)) return 'month';
  return undefined;
}

/**
 * Optimal-string-alignment distance of `a` and `b` if it is at most `max`, else `max + 1`: one
 * insertion, deletion, substitution or swap of neighbours each counts 1 ("kyotto", "acadai").
 */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prevPrev = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1);
    row[0] = i;
    let best = row[0];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, prevPrev[j - 2]! + 1);
      }
      row[j] = value;
      if (value < best) best = value;
    }
    if (best > max) return max + 1;
    prevPrev = prev;
    prev = row;
  }
  return prev[b.length]!;
}
