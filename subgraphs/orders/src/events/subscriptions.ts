/** Everything orders reacts to, in one place. */
import { ProductCreated, ProductDeleted, ProductUpdated } from '@shop/events';
import { on } from '@shop/platform';
import type { EventHandler, ServiceDeps } from '@shop/platform';

export function ordersConsumers(_deps: ServiceDeps): ReadonlyArray<EventHandler<any>> {
  const upsert = `INSERT INTO product_snapshot (product_id, name, price, currency_code) VALUES ($1, $2, $3, $4)
    ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, price = excluded.price, currency_code = excluded.currency_code, updated_at = now()`;
  return [
    on(ProductCreated, async (e, tx) => void (await tx.query(upsert, [e.data.productId, e.data.name, e.data.price.amount, e.data.price.currencyCode]))),
    on(ProductUpdated, async (e, tx) => void (await tx.query(upsert, [e.data.productId, e.data.name, e.data.price.amount, e.data.price.currencyCode]))),
    on(ProductDeleted, async (e, tx) => void (await tx.query('UPDATE product_snapshot SET deleted = true, updated_at = now() WHERE product_id = $1', [e.data.productId]))),
  ];
}
