/** Counts the word pieces of a text, without special tokens. */
export type CountTokens = (text: string) => number;

/**
 * End offset of the longest prefix of `text` holding at most `maxTokens` tokens. The cut falls
 * after a word (a whitespace-separated run) when at least one word fits, else inside the first
 * word between code points (0 when not even one character fits). It costs O(log n) counts of
 * strings not much longer than the answer, so a megabyte of text is never tokenized whole.
 */
export function prefixEndWithinTokens(text: string, maxTokens: number, countTokens: CountTokens): number {
  const fits = (end: number) => countTokens(text.slice(0, end)) <= maxTokens;
  const wordEnds = Array.from(text.matchAll(/\S+/g), (match) => match.index + match[0].length);
  const firstWordEnd = wordEnds[0];
  if (firstWordEnd === undefined) return text.length;
  const fittingWords = lastFittingIndex(wordEnds, fits);
  if (fittingWords >= 0) return wordEnds[fittingWords]!;
  const charEnds: number[] = [];
  for (let end = 0; end < firstWordEnd; ) {
    end += text.codePointAt(end)! > 0xffff ? 2 : 1;
    charEnds.push(end);
  }
  const fittingChars = lastFittingIndex(charEnds, fits);
  return fittingChars >= 0 ? charEnds[fittingChars]! : 0;
}

/**
 * Index of the last candidate that fits, assuming fitting is monotone (a prefix of the list
 * fits); -1 when none does. Gallops 1, 2, 4, … ahead, then bisects the last leap.
 */
function lastFittingIndex(candidates: readonly number[], fits: (end: number) => boolean): number {
  if (candidates.length === 0 || !fits(candidates[0]!)) return -1;
  let fitting = 0;
  let failing = candidates.length; // sentinel: past the end, never tested
  for (let step = 1; fitting + step < candidates.length; step *= 2) {
    if (!fits(candidates[fitting + step]!)) {
      failing = fitting + step;
      break;
    }
    fitting += step;
  }
  while (failing - fitting > 1) {
    const middle = (fitting + failing) >>> 1;
    if (fits(candidates[middle]!)) fitting = middle;
    else failing = middle;
  }
  return fitting;
}
