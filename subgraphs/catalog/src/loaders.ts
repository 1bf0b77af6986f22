import DataLoader from 'dataloader';
import type { CatalogRepository } from './persistence/catalog.repository';
import type { CategoryRow, ProductRow } from './persistence/entities';

/** DataLoaders, built per request so that nothing is cached across users. */
export function createLoaders(repo: CatalogRepository) {
  return {
    product: new DataLoader<string, ProductRow | null>((ids) => repo.findProductsByIds(ids)),
    category: new DataLoader<string, CategoryRow | null>((ids) => repo.findCategoriesByIds(ids)),
  };
}
export type CatalogLoaders = ReturnType<typeof createLoaders>;
