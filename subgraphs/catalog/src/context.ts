import type { RequestContext } from '@shop/platform';
import { CatalogService } from './catalog.service';
import { createLoaders } from './loaders';
import type { CatalogLoaders } from './loaders';
import { CatalogRepository } from './persistence/catalog.repository';

export interface CatalogContext extends RequestContext {
  readonly loaders: CatalogLoaders;
  readonly catalog: CatalogService;
}

/** Per request: fresh DataLoaders (nothing cached across users) and the service around them. */
export function createContext(base: RequestContext): CatalogContext {
  const repo = new CatalogRepository(base.deps.dataSource);
  const loaders = createLoaders(repo);
  return { ...base, loaders, catalog: new CatalogService(base.deps, repo, loaders) };
}
