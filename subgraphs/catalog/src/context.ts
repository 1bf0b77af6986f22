import type { RequestContext } from '@shop/platform';
import { createLoaders } from './loaders';
import type { CatalogLoaders } from './loaders';
import { CatalogRepository } from './persistence/catalog.repository';

export interface CatalogContext extends RequestContext {
  readonly repo: CatalogRepository;
  readonly loaders: CatalogLoaders;
}

export function createContext(base: RequestContext): CatalogContext {
  const repo = new CatalogRepository(base.deps.dataSource);
  return { ...base, repo, loaders: createLoaders(repo) };
}
