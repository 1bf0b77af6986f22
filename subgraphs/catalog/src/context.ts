import type { RequestContext } from '@shop/platform';
import type { CatalogService } from './catalog.service';
import type { DiscoveryService } from './discovery.service';
import type { CatalogLoaders } from './loaders';
import type { CatalogParts } from './setup';

export interface CatalogContext extends RequestContext {
  readonly loaders: CatalogLoaders;
  readonly catalog: CatalogService;
  readonly discover: DiscoveryService;
  readonly images: CatalogParts['images'];
}

/** Per request: fresh DataLoaders (nothing cached across users) and the service around them. */
export function createContext(base: RequestContext, parts: CatalogParts): CatalogContext {
  return { ...base, ...parts.forRequest(), images: parts.images };
}
