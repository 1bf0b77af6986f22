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

/** The DataLoaders of one subscription event, shared by every subscription of this replica that delivers it. */
const EVENT_LOADERS = new WeakMap<object, Pick<OrdersContext, 'loaders' | 'returnLoaders'>>();

/**
 * Per request: fresh DataLoaders around the service's parts. Per subscription event: the event's
 * own (fresh for each event, so never stale across events), shared by all its subscriptions, so an
 * order change is read once per replica however many subscriptions (delivery groups, identities)
 * follow it. Loaders only read rows; access is checked by the resolvers, per caller.
 */
export function createContext(base: RequestContext, parts: OrdersParts): OrdersContext {
  if (!base.liveEvent) return { ...base, orders: parts, loaders: createLoaders(parts.repo), returnLoaders: createReturnLoaders(parts) };
  let loaders = EVENT_LOADERS.get(base.liveEvent);
  if (!loaders) {
    loaders = { loaders: createLoaders(parts.repo), returnLoaders: createReturnLoaders(parts) };
    EVENT_LOADERS.set(base.liveEvent, loaders);
  }
  return { ...base, orders: parts, ...loaders };
}
