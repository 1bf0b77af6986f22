/**
 * Everything inventory reacts to, in one place: event -> handler. Each runs in the consumer's
 * transaction together with its inbox row, so a redelivered event has no second effect.
 */
import { OrderCancelled, OrderPlaced, OrderRejected, OrderShipped, ProductCreated, ProductDeleted, ReturnReceived } from '@shop/events';
import { on } from '@shop/platform';
import type { EventHandler, HandlerOptions } from '@shop/platform';
import type { InventoryParts } from './setup';

export function inventoryConsumers({ inventory }: InventoryParts): ReadonlyArray<EventHandler<any>> {
  /**
   * The saga's handlers lock the stock rows of several products (in product id order within one
   * event); two such events in one transaction could cross another partition's locks, unless the
   * batch locks every row its events will touch first, in product id order (one statement; see
   * `InventoryService.lockForBatch`). Then they share a batch's transaction. Opening and closing
   * a record locks one row (a new one, or a product no order can reserve any more).
   */
  const sagaBatch: HandlerOptions = {
    lockBatch: (events, tx) =>
      inventory.lockForBatch(
        tx,
        events.map((e) => {
          const data = e.data as { orderId: string; items?: ReadonlyArray<{ productId: string; quantity: number }> };
          // Placed (and shipped, whose lines the reservation knows anyway) carry items; releases do not.
          // A received return (issue 19) locks the rows it restocks, like a placement.
          return e.type === OrderPlaced.type || e.type === ReturnReceived.type ? { orderId: data.orderId, items: data.items ?? [] } : { orderId: data.orderId };
        }),
      ),
  };
  return [
    // catalog.product: stock records open and close with the products.
    on(ProductCreated, (e, tx) => inventory.openStock(tx, e.data)),
    on(ProductDeleted, (e, tx) => inventory.closeStock(tx, e.data.productId)),
    // orders.order: the checkout saga. Answers go to inventory.reservation, keyed by order id.
    on(OrderPlaced, (e, tx) => inventory.reserve(tx, e.data.orderId, e.data.items), sagaBatch),
    on(OrderCancelled, (e, tx) => inventory.release(tx, e.data.orderId), sagaBatch),
    // A rejection after our stock-rejected holds nothing; after a payment failure it holds the reservation.
    on(OrderRejected, (e, tx) => inventory.release(tx, e.data.orderId), sagaBatch),
    on(OrderShipped, (e, tx) => inventory.ship(tx, e.data.orderId, e.data.items), sagaBatch),
    // Issue 19: returned goods go back on hand, audited as adjustments by the admin who received them.
    on(ReturnReceived, (e, tx) => inventory.restockReturn(tx, e.data), sagaBatch),
  ];
}
