import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { ServiceDefinition } from '@shop/platform';
import { inventorySettings } from './config';
import type { InventoryContext } from './context';
import { createContext } from './context';
import { inventoryConsumers } from './events/subscriptions';
import { inventoryServiceFor } from './inventory.service';
import { AdjustmentEntity, ReservationDecisionEntity, ReservationEntity, StockEntity } from './persistence/entities';
import { InventoryInit1700000003000 } from './persistence/migrations/1700000003000-inventory-init';
import { startReconciliation } from './reconciliation.job';
import { resolvers } from './resolvers';
import { attachSubscriptions, subscriptionResolvers } from './subscriptions';

/** The inventory subgraph: stock levels, reservations, adjustments, low-stock alerts. */
export const inventoryService: ServiceDefinition<InventoryContext> = {
  name: 'inventory',
  defaultPort: 4003,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers: { ...resolvers, Subscription: subscriptionResolvers },
  entities: [StockEntity, ReservationEntity, ReservationDecisionEntity, AdjustmentEntity],
  migrations: [InventoryInit1700000003000],
  consumers: inventoryConsumers,
  context: createContext,
  attach: attachSubscriptions,
  background: (deps) => {
    const settings = inventorySettings(deps.settings.extra);
    return [startReconciliation(deps, inventoryServiceFor(deps), settings.INVENTORY_RECONCILIATION_INTERVAL_MS)];
  },
};
