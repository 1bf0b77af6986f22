import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { ServiceDefinition } from '@shop/platform';
import type { CatalogContext } from './context';
import { createContext } from './context';
import { CategoryEntity, ProductEntity } from './persistence/entities';
import { CatalogInit1700000001000 } from './persistence/migrations/1700000001000-catalog-init';
import { resolvers } from './resolvers';
import { seedCatalog } from './seed';

/** The catalog subgraph: products, categories, search, reviews. */
export const catalogService: ServiceDefinition<CatalogContext> = {
  name: 'catalog',
  defaultPort: 4002,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: [CategoryEntity, ProductEntity],
  migrations: [CatalogInit1700000001000],
  context: createContext,
  seed: seedCatalog,
};
