/**
 * Everything orders reacts to, in one place: the catalog's products (the local read model that
 * checkout prices from) and inventory's answers to the saga.
 */
import { ProductCreated, ProductDeleted, ProductUpdated, StockRejected, StockReserved } from '@shop/events';
import { on } from '@shop/platform';
import type { EventHandler } from '@shop/platform';
import type { OrdersParts } from './setup';

export function ordersConsumers({ service, salesReport }: OrdersParts): ReadonlyArray<EventHandler<any>> {
  const upsert = `INSERT INTO product_snapshot (product_id, name, price, currency_code) VALUES ($1, $2, $3, $4)
    ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, price = excluded.price, currency_code = excluded.currency_code, updated_at = now()`;
  return [
    // catalog.product: the product read model (name, price, currency, deleted).
    on(ProductCreated, async (e, tx) => void (await tx.query(upsert, [e.data.productId, e.data.name, e.data.price.amount, e.data.price.currencyCode]))),
    on(ProductUpdated, async (e, tx) => void (await tx.query(upsert, [e.data.productId, e.data.name, e.data.price.amount, e.data.price.currencyCode]))),
    on(ProductDeleted, async (e, tx) => void (await tx.query('UPDATE product_snapshot SET deleted = true, updated_at = now() WHERE product_id = $1', [e.data.productId]))),
    // inventory.reservation: the saga's next step.
    on(StockReserved, (e, tx) => service.onStockReserved(tx, e)),
    on(StockRejected, (e, tx) => service.onStockRejected(tx, e)),
    // orders.order (its own events): the sales report's read model.
    ...salesReport.consumers,
  ];
}
