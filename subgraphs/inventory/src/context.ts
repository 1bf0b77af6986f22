import DataLoader from 'dataloader';
import type { RequestContext } from '@shop/platform';
import type { StockRow } from './persistence/entities';
import { StockRepository } from './persistence/stock.repository';

export interface InventoryContext extends RequestContext {
  readonly repo: StockRepository;
  readonly loaders: { readonly stock: DataLoader<string, StockRow | null> };
}

export function createContext(base: RequestContext): InventoryContext {
  const repo = new StockRepository(base.deps.dataSource);
  return { ...base, repo, loaders: { stock: new DataLoader((ids) => repo.findByProductIds(ids)) } };
}
