import { badUserInput, forbidden, requireUser } from '@shop/platform';
import type { AuthContext } from '@shop/platform';
import { validateFirst } from './domain/product-rules';
import { correctableWords, pickAlternatives, searchWords } from './domain/search-query';
import type { Category, Product } from './domain/types';
import type { CatalogLoaders } from './loaders';
import type { CatalogRepository } from './persistence/catalog.repository';
import type { DiscoveryRepository } from './persistence/discovery.repository';

/** Largest `searchSuggestions(first:)`. */
export const MAX_SUGGESTIONS = 20;
/** Largest `frequentlyBoughtTogether(first:)`. */
export const MAX_BOUGHT_TOGETHER = 20;
/** Largest `recommendedProducts(first:)`. */
export const MAX_RECOMMENDED = 50;
/** Longest prefix looked at, in characters (the rest is ignored). */
export const MAX_PREFIX_LENGTH = 100;
/** Categories among the suggestions, at most (they come first: a category is the broader answer). */
const MAX_CATEGORY_SUGGESTIONS = 2;

export interface Suggestion {
  readonly text: string;
  readonly product: Product | null;
  readonly category: Category | null;
}

/**
 * The tsquery text of a prefix on the 'simple' name words: every word as a prefix, or any of its
 * spelling corrections as a prefix (`(hedphon:* | headphones:*) & wireless:*`). Words are letters
 * and digits only, so the text can never carry tsquery syntax.
 */
export function prefixTsQuery(words: readonly string[], alternatives: ReadonlyMap<string, readonly string[]>): string {
  const safe = (w: string) => w.replace(/[^\p{L}\p{N}]/gu, '');
  return words
    .map((w) => `(${[w, ...(alternatives.get(w) ?? [])].map(safe).filter((x) => x.length > 0).map((x) => `${x}:*`).join(' | ')})`)
    .join(' & ');
}

/** Suggestions, facets, bought together and recommendations; built per request around its DataLoaders. */
export class DiscoveryService {
  constructor(
    private readonly repo: CatalogRepository,
    private readonly discovery: DiscoveryRepository,
    private readonly loaders: CatalogLoaders,
  ) {}

  /**
   * `searchSuggestions(prefix, first)`: categories first (at most two), then products, each ranked
   * by how well the name matches what was typed and by popularity. Every word is a prefix; a word
   * no catalog word starts with is corrected against the search vocabulary (typos).
   */
  async suggestions(prefix: string, first: number | null | undefined): Promise<Suggestion[]> {
    const n = validateFirst('first', first ?? 8, MAX_SUGGESTIONS);
    if (typeof prefix !== 'string') throw badUserInput('prefix', 'prefix must be a string.');
    const typed = prefix.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim().slice(0, MAX_PREFIX_LENGTH);
    const words = searchWords(typed);
    if (words.length === 0 || n === 0) return [];
    const correctable = correctableWords(words);
    const [wholeWords, prefixes] = await Promise.all([this.repo.spellingCandidates(correctable), this.discovery.prefixSpellingCandidates(correctable)]);
    const alternatives = pickAlternatives([...wholeWords, ...prefixes]);
    const tsquery = prefixTsQuery(words, alternatives);
    const [categories, products] = await Promise.all([
      this.discovery.suggestCategories(tsquery, typed, Math.min(n, MAX_CATEGORY_SUGGESTIONS)),
      this.discovery.suggestProducts(tsquery, typed, n),
    ]);
    for (const { product } of products) this.loaders.product.prime(product.id, product);
    for (const { category } of categories) this.loaders.category.prime(category.id, category);
    const all: Suggestion[] = [
      ...categories.map(({ category }) => ({ text: category.name, product: null, category })),
      ...products.map(({ product }) => ({ text: product.name, product, category: null })),
    ];
    return all.slice(0, n);
  }

  /** `Product.frequentlyBoughtTogether`: from confirmed orders, live products only, never itself. */
  async boughtTogether(product: Product, first: number | null | undefined): Promise<Product[]> {
    const n = validateFirst('first', first ?? 5, MAX_BOUGHT_TOGETHER);
    if (n === 0) return [];
    const items = await this.loaders.boughtTogether.load({ parentId: product.id, limit: n, after: null });
    for (const p of items) this.loaders.product.prime(p.id, p);
    return items;
  }

  /** `User.recommendedProducts`: only the user themself (FORBIDDEN for anyone else, admins included: it is personal). */
  async recommended(ctx: AuthContext, userId: string, first: number | null | undefined): Promise<Product[]> {
    const identity = requireUser(ctx);
    if (identity.userId !== userId) throw forbidden('Only the customer themself can see their recommendations.');
    const n = validateFirst('first', first ?? 10, MAX_RECOMMENDED);
    if (n === 0) return [];
    const items = await this.discovery.recommendations(userId, n);
    for (const p of items) this.loaders.product.prime(p.id, p);
    return items;
  }
}
