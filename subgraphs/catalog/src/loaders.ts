import DataLoader from 'dataloader';
import type { CursorPosition } from './domain/cursor';
import type { Category, Product, Review } from './domain/types';
import type { CatalogRepository, Positioned } from './persistence/catalog.repository';
import type { DiscoveryRepository } from './persistence/discovery.repository';
import { SIMILAR_CACHED } from './persistence/discovery.repository';

/** A page request for one parent (category or product): batched with every other parent asking for the same page. */
export interface PageKey {
  readonly parentId: string;
  /** Rows to fetch (page size + 1 to learn hasNextPage). */
  readonly limit: number;
  readonly after: CursorPosition | null;
}

/**
 * Batches page requests: keys asking for the same (limit, after) go to `fetch` together
 * (one SQL statement per distinct page shape, whatever the number of parents).
 */
function pageLoader<T>(fetch: (parentIds: string[], after: CursorPosition | null, limit: number) => Promise<Map<string, T[]>>) {
  return new DataLoader<PageKey, T[], string>(
    async (keys) => {
      const groups = new Map<string, PageKey[]>();
      for (const k of keys) {
        const shape = JSON.stringify([k.limit, k.after]);
        groups.set(shape, [...(groups.get(shape) ?? []), k]);
      }
      const results = new Map<string, T[]>();
      await Promise.all(
        [...groups.entries()].map(async ([shape, group]) => {
          const pages = await fetch([...new Set(group.map((k) => k.parentId))], group[0]!.after, group[0]!.limit);
          for (const k of group) results.set(`${shape}|${k.parentId}`, pages.get(k.parentId) ?? []);
        }),
      );
      return keys.map((k) => results.get(`${JSON.stringify([k.limit, k.after])}|${k.parentId}`) ?? []);
    },
    { cacheKeyFn: (k) => JSON.stringify([k.limit, k.after, k.parentId]) },
  );
}

/** DataLoaders, built per request so that nothing is cached across users. Every entity lookup goes through one. */
export function createLoaders(repo: CatalogRepository, discovery: DiscoveryRepository) {
  return {
    product: new DataLoader<string, Product | null>((ids) => repo.findProductsByIds(ids)),
    category: new DataLoader<string, Category | null>((ids) => repo.findCategoriesByIds(ids)),
    children: new DataLoader<string, Category[]>((ids) => repo.findChildrenOf(ids)),
    categoryPage: pageLoader<Positioned<Product>>((ids, after, limit) => repo.categoryPages(ids, after, limit)),
    categoryCount: new DataLoader<string, number>(async (ids) => {
      const counts = await repo.categoryCounts(ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    reviewPage: pageLoader<Positioned<Review>>((ids, after, limit) => repo.reviewPages(ids, after, limit)),
    similar: pageLoader<Product>((ids, _after, limit) => similarThroughCache(repo, discovery, ids, limit)),
    boughtTogether: pageLoader<Product>((ids, _after, limit) => discovery.boughtTogether(ids, limit)),
  };
}
export type CatalogLoaders = ReturnType<typeof createLoaders>;

/**
 * Similar products from the cache (one statement); the products missing from it are computed
 * (one statement for all of them, the best {@link SIMILAR_CACHED}) and stored for the next request.
 * Product changes drop the cached lists of their family (DiscoveryRepository.invalidateSimilar).
 */
async function similarThroughCache(repo: CatalogRepository, discovery: DiscoveryRepository, ids: string[], limit: number): Promise<Map<string, Product[]>> {
  const cached = await discovery.cachedSimilar(ids, limit);
  const missing = ids.filter((id) => !cached.has(id));
  if (missing.length === 0) return cached;
  const computed = await repo.similarTo(missing, SIMILAR_CACHED);
  await discovery.cacheSimilar(new Map([...computed].map(([id, list]) => [id, list.map((p) => p.id)])));
  for (const [id, list] of computed) cached.set(id, list.slice(0, limit));
  return cached;
}
