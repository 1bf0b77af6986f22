/**
 * The composition root of the catalog service: builds its parts once per running service. The
 * catalog service itself is per request (it works through the request's DataLoaders), so the
 * context builds it around these parts.
 */
import type { ServiceDeps } from '@shop/platform';
import { CatalogService } from './catalog.service';
import { createLoaders } from './loaders';
import type { CatalogLoaders } from './loaders';
import { CatalogRepository } from './persistence/catalog.repository';

export interface CatalogParts {
  readonly deps: ServiceDeps;
  readonly repo: CatalogRepository;
  /** A catalog service over fresh DataLoaders: nothing is cached across requests. */
  forRequest(): { readonly loaders: CatalogLoaders; readonly catalog: CatalogService };
}

export function setupCatalog(deps: ServiceDeps): CatalogParts {
  const repo = new CatalogRepository(deps.dataSource);
  return {
    deps,
    repo,
    forRequest: () => {
      const loaders = createLoaders(repo);
      return { loaders, catalog: new CatalogService(deps, repo, loaders) };
    },
  };
}
