import DataLoader from 'dataloader';
import type { RequestContext } from '@shop/platform';
import type { InventoryService } from './inventory.service';
import type { StockRow } from './persistence/entities';
import type { InventoryParts } from './setup';

export interface InventoryContext extends RequestContext {
  readonly inventory: InventoryService;
  readonly live: InventoryParts['live'];
  /** Built per request: one query for every stock row a response needs. */
  readonly loaders: { readonly stock: DataLoader<string, StockRow | null> };
}

export function createContext(base: RequestContext, { inventory, live }: InventoryParts): InventoryContext {
  return { ...base, inventory, live, loaders: { stock: new DataLoader((ids) => inventory.repo.findByProductIds(ids)) } };
}
