/**
 * Fuzzy search over node types for the add-node palette. Each query word must match the type's title,
 * its type name, its category or its description. How a word matches decides the rank:
 *   title prefix > title word start > category match > title subsequence > description word start
 * (a prefix always beats a word start, which always beats a subsequence; the title counts most, a long
 * description least, and a description never matches by subsequence: nearly every word would).
 * A query of several words also earns bonuses for following the title's word order, so typing a title
 * in order finds that node first ("latent to image" -> Latent to Image, not Image to Latent):
 *   each next word matched later in the title than the one before, the whole query as a phrase at a
 *   title word start, and more when that phrase starts the title. A phrase (order + phrase bonuses) beats
 *   one tier step of a scattered match, so "to image" finds Latent to Image over Image to Latent.
 * Ties: shorter title first, then alphabetical.
 */
import type { NodeTypeDescription } from '../../../electron/engine/graph/describe.ts';

export interface SearchHit {
  type: NodeTypeDescription;
  score: number;
  /** Indices of title characters that matched, for highlighting. */
  titleMatches: number[];
}

const SCORE = {
  titlePrefix: 600,
  titleWordStart: 500,
  categoryPrefix: 420,
  categoryWordStart: 400,
  titleSubsequence: 300,
  descriptionWordStart: 200,
  /** Multi-word queries only: per next word matched after the previous one in the title. */
  wordInOrder: 100,
  /** Multi-word queries only: the words, space-separated, occur together at a title word start... */
  phrase: 150,
  /** ...at the very start of the title. */
  phrasePrefix: 100,
};

export function searchNodeTypes(types: readonly NodeTypeDescription[], query: string, limit = Infinity): SearchHit[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const hits: SearchHit[] = [];
  for (const type of types) {
    if (words.length === 0) {
      hits.push({ type, score: 0, titleMatches: [] });
      continue;
    }
    let score = 0;
    const titleMatches = new Set<number>();
    const perWord: number[][] = [];
    for (const word of words) {
      const best = scoreWord(type, word);
      if (!best) {
        score = -1;
        break;
      }
      score += best.score;
      perWord.push(best.titleMatches);
      for (const i of best.titleMatches) titleMatches.add(i);
    }
    if (score < 0) continue;
    if (words.length > 1) {
      score += SCORE.wordInOrder * wordsInOrder(perWord);
      const phrase = phraseMatch(type.title, words);
      if (phrase) {
        score += SCORE.phrase + (phrase.start === 0 ? SCORE.phrasePrefix : 0);
        // Highlight the phrase itself: a word matched on its own may have picked an earlier occurrence.
        titleMatches.clear();
        for (const i of phrase.indices) titleMatches.add(i);
      }
    }
    hits.push({ type, score, titleMatches: [...titleMatches].sort((a, b) => a - b) });
  }
  if (words.length > 0) {
    hits.sort((a, b) => b.score - a.score || a.type.title.length - b.type.title.length || a.type.title.localeCompare(b.type.title));
  }
  return hits.slice(0, limit);
}

function scoreWord(type: NodeTypeDescription, word: string): { score: number; titleMatches: number[] } | undefined {
  // The type name ("EmptyLatent") is searched like a title: users type either.
  for (const title of [type.title, type.type]) {
    const lower = title.toLowerCase();
    const isDisplayTitle = title === type.title;
    if (lower.startsWith(word)) return { score: SCORE.titlePrefix, titleMatches: isDisplayTitle ? range(0, word.length) : [] };
    const start = wordStarts(title).find((i) => lower.startsWith(word, i));
    if (start !== undefined) return { score: SCORE.titleWordStart, titleMatches: isDisplayTitle ? range(start, start + word.length) : [] };
  }
  const category = type.category.toLowerCase();
  if (category.startsWith(word)) return { score: SCORE.categoryPrefix, titleMatches: [] };
  if (wordStarts(type.category).some((i) => category.startsWith(word, i))) return { score: SCORE.categoryWordStart, titleMatches: [] };
  const sub = subsequence(type.title.toLowerCase(), word) ?? (subsequence(type.type.toLowerCase(), word) && []);
  if (sub) {
    // Tighter matches rank higher within the tier (less than one tier step).
    const span = sub.length ? sub[sub.length - 1] - sub[0] + 1 : word.length;
    return { score: SCORE.titleSubsequence + Math.round((50 * word.length) / span), titleMatches: sub };
  }
  const description = type.description.toLowerCase();
  if (wordStarts(type.description).some((i) => description.startsWith(word, i))) return { score: SCORE.descriptionWordStart, titleMatches: [] };
  return undefined;
}

/** How many words' title matches start after the previous word's title match ended (words matched elsewhere break the chain). */
function wordsInOrder(perWord: readonly number[][]): number {
  let count = 0;
  for (let k = 1; k < perWord.length; k++) {
    const previous = perWord[k - 1];
    const current = perWord[k];
    if (previous.length && current.length && current[0] > previous[previous.length - 1]) count++;
  }
  return count;
}

/**
 * Where the query words occur together, in order, at a word start of `title` (words separated in the
 * title by anything that is not a letter or digit), or undefined. Indices exclude the separators.
 */
function phraseMatch(title: string, words: readonly string[]): { start: number; indices: number[] } | undefined {
  const lower = title.toLowerCase();
  for (const start of wordStarts(title)) {
    const indices: number[] = [];
    let at = start;
    let matched = true;
    for (let k = 0; k < words.length && matched; k++) {
      if (k > 0) {
        const gap = at;
        while (at < lower.length && !/[\p{L}\p{N}]/u.test(lower[at])) at++;
        if (at === gap) matched = false; // words must be separated in the title too
      }
      if (matched && lower.startsWith(words[k], at)) {
        indices.push(...range(at, at + words[k].length));
        at += words[k].length;
      } else {
        matched = false;
      }
    }
    if (matched) return { start, indices };
  }
  return undefined;
}

/** Indices where a word starts: after a non-alphanumeric, at a lower-to-upper case change, or at a letter/digit change. */
export function wordStarts(text: string): number[] {
  const starts: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (!/[\p{L}\p{N}]/u.test(c)) continue;
    const prev = text[i - 1];
    if (
      i === 0 ||
      !/[\p{L}\p{N}]/u.test(prev) ||
      (/\p{Ll}/u.test(prev) && /\p{Lu}/u.test(c)) ||
      (/\p{N}/u.test(prev) !== /\p{N}/u.test(c))
    ) {
      starts.push(i);
    }
  }
  return starts;
}

/** Indices of `word`'s characters in order in `text`, the tightest such match (shortest span), or undefined. */
function subsequence(text: string, word: string): number[] | undefined {
  let best: number[] | undefined;
  for (let start = text.indexOf(word[0]); start >= 0; start = text.indexOf(word[0], start + 1)) {
    const match = [start];
    for (let k = 1, at = start + 1; k < word.length; k++) {
      const i = text.indexOf(word[k], at);
      if (i < 0) return best; // no later start can complete either
      match.push(i);
      at = i + 1;
    }
    if (!best || match[match.length - 1] - match[0] < best[best.length - 1] - best[0]) best = match;
  }
  return best;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
