/**
 * Turning what a shopper typed into a Postgres text-search query.
 *
 * Words are letters and digits only, so the tsquery text built from them can never contain
 * tsquery syntax (no injection, no syntax errors). Each word matches as a prefix ("head" finds
 * headphones) or, when the catalog has no word starting with it (a typo), any of its nearest
 * vocabulary words by trigram similarity ("hedphones" -> "headphones"). Words are ANDed.
 */

/** Most words of one search that are used (the rest are dropped). */
export const MAX_SEARCH_WORDS = 8;
/** Longest word kept, in characters (longer ones are cut). */
export const MAX_WORD_LENGTH = 40;
/** Words shorter than this are never spell-corrected (trigrams of short words match too much). */
export const MIN_CORRECTABLE_LENGTH = 3;
/** Alternatives kept per misspelled word. */
export const MAX_ALTERNATIVES = 3;
/** An alternative must be within this similarity of the best one (drops "phones" when "headphones" fits much better). */
export const ALTERNATIVE_MARGIN = 0.1;

/** Words worth spell-correcting: 3+ characters, not only digits (model numbers are not misspelled). */
export function correctableWords(words: readonly string[]): string[] {
  return words.filter((w) => [...w].length >= MIN_CORRECTABLE_LENGTH && !/^\p{N}+$/u.test(w));
}

/** Lower-case words of a search text, de-duplicated, in order: "Wireless  HEADphones!" -> ["wireless", "headphones"]. */
export function searchWords(text: string): string[] {
  const words = text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0)
    .map((w) => [...w].slice(0, MAX_WORD_LENGTH).join(''));
  return [...new Set(words)].slice(0, MAX_SEARCH_WORDS);
}

/** A vocabulary word close to a misspelled search word, with its trigram similarity (0..1). */
export interface Candidate {
  readonly word: string;
  readonly term: string;
  readonly similarity: number;
}

/** Keeps, per word, the best candidates: at most three, and only those almost as close as the best one. */
export function pickAlternatives(candidates: readonly Candidate[]): Map<string, string[]> {
  const byWord = new Map<string, Candidate[]>();
  for (const c of candidates) byWord.set(c.word, [...(byWord.get(c.word) ?? []), c]);
  const picked = new Map<string, string[]>();
  for (const [word, list] of byWord) {
    const sorted = [...list].sort((a, b) => b.similarity - a.similarity || a.term.localeCompare(b.term));
    const best = sorted[0]!.similarity;
    picked.set(
      word,
      sorted
        .filter((c) => c.similarity >= best - ALTERNATIVE_MARGIN)
        .slice(0, MAX_ALTERNATIVES)
        .map((c) => c.term),
    );
  }
  return picked;
}

/**
 * The text for `to_tsquery('english', …)`: `(hedphones:* | headphones) & (wireless:*)`.
 * Returns null when there are no words.
 */
export function buildTsQuery(words: readonly string[], alternatives: ReadonlyMap<string, readonly string[]> = new Map()): string | null {
  if (words.length === 0) return null;
  const safe = (w: string) => w.replace(/[^\p{L}\p{N}]/gu, ''); // vocabulary terms are split the same way; belt and braces
  return words
    .map((w) => {
      const options = [`${safe(w)}:*`, ...(alternatives.get(w) ?? []).map(safe).filter((t) => t.length > 0)];
      return options.length === 1 ? options[0]! : `(${options.join(' | ')})`;
    })
    .join(' & ');
}

/** The words as typed, any of them (`wireless | headphones`): ranks exact words above prefix and corrected matches. */
export function buildExactTsQuery(words: readonly string[]): string {
  return words.map((w) => w.replace(/[^\p{L}\p{N}]/gu, '')).filter((w) => w.length > 0).join(' | ');
}
