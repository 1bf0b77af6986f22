import path from 'node:path';
import { defineService, loadSdl } from '@shop/platform';
import { inventorySettings } from './config';
import { inventoryConsumers } from './consumers';
import { createContext } from './context';
import { AdjustmentEntity, ReservationDecisionEntity, ReservationEntity, StockEntity } from './persistence/entities';
import { InventoryInit1700000003000 } from './persistence/migrations/1700000003000-inventory-init';
import { startReconciliation } from './reconciliation';
import { resolvers } from './resolvers';
import { setupInventory } from './setup';
import { inventoryLive, subscriptionResolvers } from './subscriptions';

/** The inventory subgraph: stock levels, reservations, adjustments, low-stock alerts. */
export const inventoryService = defineService({
  name: 'inventory',
  defaultPort: 4003,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers: { ...resolvers, Subscription: subscriptionResolvers },
  entities: [StockEntity, ReservationEntity, ReservationDecisionEntity, AdjustmentEntity],
  migrations: [InventoryInit1700000003000],
  settings: inventorySettings,
  setup: setupInventory,
  context: createContext,
  consumers: inventoryConsumers,
  live: inventoryLive,
  background: (parts, deps) => [startReconciliation(deps, parts.inventory, parts.settings.INVENTORY_RECONCILIATION_INTERVAL_MS)],
});
