/**
 * Everything inventory reacts to, in one place: topic -> handler.
 */
import { ProductCreated, ProductDeleted, StockChanged } from '@shop/events';
import { on } from '@shop/platform';
import type { EventHandler, ServiceDeps } from '@shop/platform';
import { toPayload, toStockLevel } from '../domain/stock-level';
import type { StockRow } from '../persistence/entities';

export function inventoryConsumers(deps: ServiceDeps): ReadonlyArray<EventHandler<any>> {
  return [
    on(ProductCreated, async (event, tx) => {
      const rows = (await tx.query(
        `INSERT INTO stock (product_id, on_hand, reserved, low_stock_threshold, version, updated_at)
         VALUES ($1, $2, 0, $3, 1, now()) ON CONFLICT (product_id) DO NOTHING
         RETURNING product_id AS "productId", on_hand AS "onHand", reserved, low_stock_threshold AS "lowStockThreshold", version, updated_at AS "updatedAt", closed_at AS "closedAt"`,
        [event.data.productId, event.data.initialStock, event.data.lowStockThreshold],
      )) as StockRow[];
      const row = rows[0];
      if (row) await deps.outbox.add(tx, StockChanged, row.productId, { ...toPayload(toStockLevel(row)), reason: 'opened' });
    }),
    on(ProductDeleted, async (event, tx) => {
      await tx.query('UPDATE stock SET closed_at = now(), updated_at = now() WHERE product_id = $1 AND closed_at IS NULL', [event.data.productId]);
    }),
  ];
}
