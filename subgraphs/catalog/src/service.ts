import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { ServiceDefinition } from '@shop/platform';
import type { CatalogContext } from './context';
import { createContext } from './context';
import { catalogConsumers } from './events/subscriptions';
import { CATALOG_ENTITIES } from './persistence/entities';
import { CatalogInit1700000001000 } from './persistence/migrations/1700000001000-catalog-init';
import { resolvers } from './resolvers';
import { seedCatalog } from './seed';

/** The catalog subgraph: categories, products, search and filters, reviews and ratings, similar products. */
export const catalogService: ServiceDefinition<CatalogContext> = {
  name: 'catalog',
  defaultPort: 4002,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: CATALOG_ENTITIES,
  migrations: [CatalogInit1700000001000],
  consumers: catalogConsumers,
  context: createContext,
  seed: seedCatalog,
};
