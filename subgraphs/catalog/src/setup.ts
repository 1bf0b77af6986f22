/**
 * The composition root of the catalog service: builds its parts once per running service. The
 * catalog service itself is per request (it works through the request's DataLoaders), so the
 * context builds it around these parts.
 */
import type { ServiceDeps } from '@shop/platform';
import type { CatalogSettings } from './config';
import { CatalogService } from './catalog.service';
import { createLoaders } from './loaders';
import type { CatalogLoaders } from './loaders';
import { CatalogRepository } from './persistence/catalog.repository';
import { DiscoveryRepository } from './persistence/discovery.repository';
import { DiscoveryService } from './discovery.service';

export interface CatalogParts {
  readonly deps: ServiceDeps;
  readonly repo: CatalogRepository;
  readonly discovery: DiscoveryRepository;
  readonly settings: CatalogSettings;
  /** Where `/…` image URLs point (see images.ts): the setting, else the address the gateway reached this catalog at. */
  readonly images: { readonly publicBase: string | null; observedBase: string | null };
  /** A catalog service over fresh DataLoaders: nothing is cached across requests. */
  forRequest(): { readonly loaders: CatalogLoaders; readonly catalog: CatalogService; readonly discover: DiscoveryService };
}

export function setupCatalog(deps: ServiceDeps, settings: CatalogSettings): CatalogParts {
  const repo = new CatalogRepository(deps.dataSource);
  const discovery = new DiscoveryRepository(deps.dataSource);
  return {
    deps,
    repo,
    discovery,
    settings,
    images: { publicBase: settings.CATALOG_PUBLIC_URL ?? null, observedBase: null },
    forRequest: () => {
      const loaders = createLoaders(repo, discovery);
      return { loaders, catalog: new CatalogService(deps, repo, loaders, discovery), discover: new DiscoveryService(repo, discovery, loaders) };
    },
  };
}
