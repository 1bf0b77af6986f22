import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { ServiceDefinition } from '@shop/platform';
import type { InventoryContext } from './context';
import { createContext } from './context';
import { inventoryConsumers } from './events/subscriptions';
import { StockEntity } from './persistence/entities';
import { InventoryInit1700000003000 } from './persistence/migrations/1700000003000-inventory-init';
import { resolvers } from './resolvers';

/** The inventory subgraph: stock levels, reservations, adjustments, low-stock alerts. */
export const inventoryService: ServiceDefinition<InventoryContext> = {
  name: 'inventory',
  defaultPort: 4003,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: [StockEntity],
  migrations: [InventoryInit1700000003000],
  consumers: inventoryConsumers,
  context: createContext,
};
