/**
 * Everything the catalog reacts to, in one place: topic -> handler.
 *
 * - users.account-erased.v1: reviews of an erased account get an anonymous author.
 * - inventory.stock-changed.v1 (topic inventory.stock, keyed by product id): keeps the read model
 *   of availability that `products(filter: { inStock })` filters on. Events carry inventory's
 *   per-product version; an event older than what is stored is ignored (redelivery, reordering
 *   across a rebalance), so the model only moves forward. A product coming into stock or going out
 *   of it publishes catalog.product-availability-changed.v1 in the same transaction.
 * - orders.order-placed.v1 / order-confirmed.v1 / order-rejected.v1 (topic orders.order): the read
 *   models of discovery (bought together, units sold, each customer's purchases), confirmed orders only;
 *   counting one publishes catalog.product-discovery-changed.v1 in the same transaction.
 */
import { AccountErased, ERASED_USER_ID_PREFIX, OrderConfirmed, OrderPlaced, OrderRejected, ProductAvailabilityChanged, ProductDiscoveryChanged, StockChanged } from '@shop/events';
import { on } from '@shop/platform';
import type { EventHandler } from '@shop/platform';
import { isUuid } from './persistence/catalog.repository';
import type { CatalogParts } from './setup';

export function catalogConsumers({ deps, repo, discovery }: CatalogParts): ReadonlyArray<EventHandler<any>> {
  return [
    on(StockChanged, async (event, tx) => {
      const { productId, available, version } = event.data;
      if (!isUuid(productId)) {
        deps.logger.warn({ eventId: event.id, productId }, 'stock event for a product id that is not a uuid; ignored');
        return;
      }
      const applied = await repo.in(tx).applyStockLevel(productId, Math.max(0, available), version);
      if (!applied) deps.logger.debug({ eventId: event.id, productId, version }, 'stale stock event ignored');
      // In or out of stock now: the lists that filter on it changed (the gateway's cache outdates them on this event).
      else if (applied.wasInStock !== available > 0) await deps.outbox.add(tx, ProductAvailabilityChanged, productId, { productId, inStock: available > 0 });
    }),
    // users.account-erased.v1 (issue 20): the reviews stay (ratings, comments), their author becomes
    // a "deleted user" with a fresh id per review, so nothing links them to the person or each other.
    on(AccountErased, async (event, tx) => {
      await tx.query(`UPDATE review SET author_id = $2 || gen_random_uuid() WHERE author_id = $1`, [event.data.userId, ERASED_USER_ID_PREFIX]);
    }),
    // Bought together, popularity and each customer's purchases count confirmed orders only. The
    // placement carries the lines (the confirmation does not): they wait in order_line_pending.
    // Both events are keyed by order id on one topic, so the placement always comes first.
    on(OrderPlaced, async (event, tx) => {
      const { orderId, userId, items, placedAt } = event.data;
      await discovery.in(tx).holdOrderLines(orderId, userId ?? null, items, placedAt);
    }),
    on(OrderConfirmed, async (event, tx) => {
      const productIds = await discovery.in(tx).confirmOrder(event.data.orderId);
      if (productIds.length === 0) deps.logger.warn({ eventId: event.id, orderId: event.data.orderId }, 'confirmed order whose placement the catalog never saw; not counted');
      // Their bought-together partners and popularity changed: the gateway's cache outdates them on this event.
      else await deps.outbox.add(tx, ProductDiscoveryChanged, productIds[0]!, { productIds });
    }),
    on(OrderRejected, (event, tx) => discovery.in(tx).dropOrderLines(event.data.orderId)),
  ];
}
