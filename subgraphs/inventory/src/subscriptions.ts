/**
 * Inventory's GraphQL subscriptions (`stockChanged`, `lowStockAlert`), served over graphql-ws to the
 * gateway by the platform (the service's `live` hook). Each replica follows the stock topic with a
 * live listener of its own (every replica sees every event) and feeds its in-memory pub/sub, so it
 * can serve whichever subscriptions the gateway opened on it.
 *
 * The event carries the whole stock level as of the change, so an event is resolved from its
 * payload, never re-read from the database: two quick changes arrive as two distinct levels, in
 * the order they happened (events are keyed by product; `version` drops a redelivered one).
 */
import type { StockLevelPayload } from '@shop/events';
import { LowStock, StockChanged } from '@shop/events';
import type { LiveEvent, LiveHandler } from '@shop/platform';
import { badUserInput, isAdmin, liveResumeOf, onLive, requireAdmin } from '@shop/platform';
import type { InventoryContext } from './context';
import { isProductId } from './domain/reservation';
import type { StockLevel } from './domain/stock-level';
import type { InventoryParts } from './setup';

/** Products one `stockChanged` subscription may follow. */
export const MAX_SUBSCRIBED_PRODUCTS = 100;

function toLevel({ payload }: LiveEvent<StockLevelPayload>): StockLevel {
  return { ...payload, updatedAt: new Date(payload.updatedAt) };
}

/** Only newer versions of each product: a redelivered or stale event is not sent twice. */
function newerVersions(): (payload: StockLevelPayload) => boolean {
  const seen = new Map<string, number>();
  return (payload) => {
    if ((seen.get(payload.productId) ?? -1) >= payload.version) return false;
    seen.set(payload.productId, payload.version);
    return true;
  };
}

/** The `Subscription` resolvers (merged into the service's resolver map). */
export const subscriptionResolvers = {
  stockChanged: {
    subscribe: (_: unknown, args: { productIds: string[] }, ctx: InventoryContext) => {
      if (args.productIds.length === 0) throw badUserInput('productIds', 'Give at least one product id.');
      if (args.productIds.length > MAX_SUBSCRIBED_PRODUCTS) throw badUserInput('productIds', `At most ${MAX_SUBSCRIBED_PRODUCTS} products per subscription.`);
      const bad = args.productIds.find((id) => !isProductId(id));
      if (bad !== undefined) throw badUserInput('productIds', `"${bad.slice(0, 60)}" is not a product id.`);
      const ids = new Set(args.productIds.map((id) => id.toLowerCase()));
      const fresh = newerVersions();
      return ctx.live.subscribe('stock-changed', { filter: (p) => ids.has(p.productId) && fresh(p), resume: liveResumeOf(ctx) });
    },
    resolve: toLevel,
  },
  lowStockAlert: {
    subscribe: (_: unknown, __: unknown, ctx: InventoryContext) => {
      requireAdmin(ctx);
      const fresh = newerVersions();
      // Admins only, checked again for each event (a replay included): the caller's roles.
      return ctx.live.subscribe('low-stock', { filter: (p) => isAdmin(ctx.identity) && fresh(p), resume: liveResumeOf(ctx) });
    },
    resolve: toLevel,
  },
};

/** The service's `live` hook: the stock events feed its pub/sub. */
export function inventoryLive({ live }: InventoryParts): ReadonlyArray<LiveHandler<any>> {
  return [
    onLive(StockChanged, (event) => live.publish('stock-changed', event.data, event.occurredAt)),
    onLive(LowStock, (event) => live.publish('low-stock', event.data, event.occurredAt)),
  ];
}
