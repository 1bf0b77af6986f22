import type { RequestContext } from '@shop/platform';
import { createLoaders } from './loaders';
import type { OrdersLoaders } from './loaders';
import type { ReturnLoaders } from './returns/loaders';
import { createReturnLoaders } from './returns/loaders';
import type { OrdersParts } from './setup';

export interface OrdersContext extends RequestContext {
  readonly orders: OrdersParts;
  readonly loaders: OrdersLoaders;
  /** Issue 19: returns, refunded amounts and fraud reviews per order (returns/loaders.ts). */
  readonly returnLoaders: ReturnLoaders;
}

/** Per request: fresh DataLoaders around the service's parts. */
export function createContext(base: RequestContext, parts: OrdersParts): OrdersContext {
  return { ...base, orders: parts, loaders: createLoaders(parts.repo), returnLoaders: createReturnLoaders(parts) };
}
