/**
 * The composition root of the inventory service: builds its parts once per running service; the
 * platform hands them to the context, the consumers, the live feed and the background jobs.
 */
import type { StockLevelPayload } from '@shop/events';
import type { ServiceDeps, SettingsOf } from '@shop/platform';
import { LivePubSub } from '@shop/platform';
import type { inventorySettings } from './config';
import { InventoryService } from './inventory.service';

/** The live topics of inventory's subscriptions, fed from the stock events. */
export interface InventoryTopics {
  readonly 'stock-changed': StockLevelPayload;
  readonly 'low-stock': StockLevelPayload;
}

export interface InventoryParts {
  readonly settings: SettingsOf<typeof inventorySettings.shape>;
  readonly inventory: InventoryService;
  readonly live: LivePubSub<InventoryTopics>;
}

export function setupInventory(deps: ServiceDeps, settings: InventoryParts['settings']): InventoryParts {
  return { settings, inventory: new InventoryService(deps), live: new LivePubSub<InventoryTopics>() };
}
