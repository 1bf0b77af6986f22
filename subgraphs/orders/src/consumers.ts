/**
 * Everything orders reacts to, in one place: the catalog's products (the local read model that
 * checkout prices from) and inventory's answers to the saga.
 */
import { AccountErased, PaymentWebhookReceived, ProductCreated, ProductDeleted, ProductUpdated, StockChanged, StockRejected, StockReserved } from '@shop/events';
import { on } from '@shop/platform';
import type { EventHandler } from '@shop/platform';
import type { OrdersParts } from './setup';

export function ordersConsumers({ service, privacy, salesReport, webhooks }: OrdersParts): ReadonlyArray<EventHandler<any>> {
  const upsert = `INSERT INTO product_snapshot (product_id, name, price, currency_code) VALUES ($1, $2, $3, $4)
    ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, price = excluded.price, currency_code = excluded.currency_code, updated_at = now()`;
  return [
    // catalog.product: the product read model (name, price, currency, deleted).
    on(ProductCreated, async (e, tx) => void (await tx.query(upsert, [e.data.productId, e.data.name, e.data.price.amount, e.data.price.currencyCode]))),
    on(ProductUpdated, async (e, tx) => void (await tx.query(upsert, [e.data.productId, e.data.name, e.data.price.amount, e.data.price.currencyCode]))),
    on(ProductDeleted, async (e, tx) => void (await tx.query('UPDATE product_snapshot SET deleted = true, updated_at = now() WHERE product_id = $1', [e.data.productId]))),
    // inventory.stock: available stock per product, for cart problems (issue 18).
    on(StockChanged, async (e, tx) => {
      const d = e.data;
      await tx.query(
        `INSERT INTO stock_snapshot (product_id, available, version) VALUES ($1, $2, $3)
         ON CONFLICT (product_id) DO UPDATE SET available = excluded.available, version = excluded.version, updated_at = now() WHERE stock_snapshot.version < excluded.version`,
        [d.productId, d.available, d.version],
      );
    }),
    // inventory.reservation: the saga's next step.
    on(StockReserved, (e, tx) => service.onStockReserved(tx, e)),
    on(StockRejected, (e, tx) => service.onStockRejected(tx, e)),
    // orders.payment-webhook (issue 19): verified provider webhooks, queued by POST /webhooks/payments.
    on(PaymentWebhookReceived, (e, tx) => webhooks.onWebhook(tx, e), { batchable: false }),
    // users.user: an erased account's shipping copies go (issue 20).
    on(AccountErased, async (e, tx) => void (await privacy.eraseCustomer(tx, e.data.userId))),
    // orders.order (its own events): the sales report's read model.
    ...salesReport.consumers,
  ];
}
