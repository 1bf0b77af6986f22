import path from 'node:path';
import { defineService, loadSdl } from '@shop/platform';
import { catalogSettings } from './config';
import { catalogRoutes } from './images';
import { catalogConsumers } from './consumers';
import { createContext } from './context';
import { CATALOG_ENTITIES } from './persistence/entities';
import { CatalogInit1700000001000 } from './persistence/migrations/1700000001000-catalog-init';
import { CatalogDiscovery1700000500000 } from './persistence/migrations/1700000500000-catalog-discovery';
import { resolvers } from './resolvers';
import { seedCatalog } from './seed';
import { setupCatalog } from './setup';

/** The catalog subgraph: categories, products, search and filters, reviews and ratings, similar products. */
export const catalogService = defineService({
  name: 'catalog',
  defaultPort: 4002,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: CATALOG_ENTITIES,
  migrations: [CatalogInit1700000001000, CatalogDiscovery1700000500000],
  settings: catalogSettings,
  setup: setupCatalog,
  context: createContext,
  consumers: catalogConsumers,
  seed: seedCatalog,
  routes: catalogRoutes,
});
