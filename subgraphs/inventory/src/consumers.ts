/**
 * Everything inventory reacts to, in one place: event -> handler. Each runs in the consumer's
 * transaction together with its inbox row, so a redelivered event has no second effect.
 */
import { OrderCancelled, OrderPlaced, OrderRejected, OrderShipped, ProductCreated, ProductDeleted } from '@shop/events';
import { on } from '@shop/platform';
import type { EventHandler } from '@shop/platform';
import type { InventoryParts } from './setup';

/**
 * The saga's handlers lock the stock rows of several products (in product id order within one
 * event); two such events in one transaction could cross another partition's locks, so each keeps
 * a transaction of its own (`batchable: false`). Opening and closing a record locks one row.
 */
const OWN_TRANSACTION = { batchable: false };

export function inventoryConsumers({ inventory }: InventoryParts): ReadonlyArray<EventHandler<any>> {
  return [
    // catalog.product: stock records open and close with the products.
    on(ProductCreated, (e, tx) => inventory.openStock(tx, e.data)),
    on(ProductDeleted, (e, tx) => inventory.closeStock(tx, e.data.productId)),
    // orders.order: the checkout saga. Answers go to inventory.reservation, keyed by order id.
    on(OrderPlaced, (e, tx) => inventory.reserve(tx, e.data.orderId, e.data.items), OWN_TRANSACTION),
    on(OrderCancelled, (e, tx) => inventory.release(tx, e.data.orderId), OWN_TRANSACTION),
    // A rejection after our stock-rejected holds nothing; after a payment failure it holds the reservation.
    on(OrderRejected, (e, tx) => inventory.release(tx, e.data.orderId), OWN_TRANSACTION),
    on(OrderShipped, (e, tx) => inventory.ship(tx, e.data.orderId, e.data.items), OWN_TRANSACTION),
  ];
}
