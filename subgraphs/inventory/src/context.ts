import DataLoader from 'dataloader';
import type { RequestContext } from '@shop/platform';
import type { InventoryService } from './inventory.service';
import { inventoryServiceFor } from './inventory.service';
import type { StockRow } from './persistence/entities';

export interface InventoryContext extends RequestContext {
  readonly inventory: InventoryService;
  /** Built per request: one query for every stock row a response needs. */
  readonly loaders: { readonly stock: DataLoader<string, StockRow | null> };
}

export function createContext(base: RequestContext): InventoryContext {
  const inventory = inventoryServiceFor(base.deps);
  return { ...base, inventory, loaders: { stock: new DataLoader((ids) => inventory.repo.findByProductIds(ids)) } };
}
