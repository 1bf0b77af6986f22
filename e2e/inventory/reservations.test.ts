/**
 * Reservations for the checkout saga, driven the way the orders service drives them: orders
 * placed on the bus in, reservation answers and stock events out. No oversell, all or nothing,
 * no deadlock.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { OrderPlaced, ProductDeleted, StockRejected, StockReserved } from '@shop/events';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { BUS_KINDS, startTestShop } from '../support/harness';
import { createProduct, handled, InventoryEventLog, inventoryDb, inventoryMetric, invariantViolations, orderPlacedData, placeOrder, publish, publishAll, stockOf } from './support';

describe.each(BUS_KINDS)('inventory reservations (%s bus)', (bus) => {
  let shop: TestShop;
  let db: Pool;
  let log: InventoryEventLog;

  beforeAll(async () => {
    shop = await startTestShop({ bus });
    db = inventoryDb(shop);
    log = await InventoryEventLog.start(shop.bus);
  });
  afterAll(async () => {
    await log?.stop();
    await db?.end();
    await shop?.stop();
  });

  const place = (items: Array<{ productId: string; quantity: number }>) => placeOrder(shop, log, items);

  it('should reserve exactly the 10 units in stock when 200 orders race for them, never going below zero', async () => {
    const productId = await createProduct(shop, db, 10, 2);
    const orders = Array.from({ length: 200 }, () => randomUUID());
    await publishAll(shop.bus, OrderPlaced, orders.map((orderId) => ({ key: orderId, data: orderPlacedData(orderId, [{ productId, quantity: 1 }]) })));

    const answers = await eventually(() => {
      const all = orders.map((id) => log.answersTo(id)[0]);
      return all.every(Boolean) ? all : null;
    }, 60_000);
    const reserved = answers.filter((a) => a!.type === StockReserved.type);
    const rejected = answers.filter((a) => a!.type === StockRejected.type);
    expect(reserved).toHaveLength(10);
    expect(rejected).toHaveLength(190);
    for (const r of rejected) expect(r!.data.shortages).toEqual([{ productId, requested: 1, available: 0 }]);
    for (const r of reserved) expect(r!.data.lines).toEqual([{ productId, quantity: 1 }]);

    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 10, reserved: 10, version: 11 });
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM reservation WHERE product_id = $1 AND status = 'RESERVED'`, [productId]);
    expect(rows[0].n).toBe(10);
    // Every change was published once, in order, and available never went below zero.
    const changes = await eventually(() => (log.stockChanges(productId).length === 11 ? log.stockChanges(productId) : null));
    expect(changes.map((c) => c.version)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(changes.map((c) => c.available)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(log.lowStockAlerts(productId).map((a) => a.available)).toEqual([2]);
    expect(await invariantViolations(db)).toEqual([]);
  });

  it('should reserve every line of a multi-line order or none of them', async () => {
    const plenty = await createProduct(shop, db, 5);
    const scarce = await createProduct(shop, db, 1);

    const tooMuch = await place([
      { productId: plenty, quantity: 2 },
      { productId: scarce, quantity: 3 },
    ]);
    const rejection = await tooMuch.answer();
    expect(rejection.type).toBe(StockRejected.type);
    expect(rejection.data.shortages).toEqual([{ productId: scarce, requested: 3, available: 1 }]);
    expect(await stockOf(db, plenty)).toMatchObject({ on_hand: 5, reserved: 0, version: 1 });
    expect(await stockOf(db, scarce)).toMatchObject({ on_hand: 1, reserved: 0, version: 1 });

    // Two lines of one product count together.
    const fits = await place([
      { productId: plenty, quantity: 2 },
      { productId: scarce, quantity: 1 },
      { productId: plenty, quantity: 1 },
    ]);
    const reservation = await fits.answer();
    expect(reservation.type).toBe(StockReserved.type);
    expect(reservation.data.lines).toEqual(
      expect.arrayContaining([
        { productId: plenty, quantity: 3 },
        { productId: scarce, quantity: 1 },
      ]),
    );
    expect(await stockOf(db, plenty)).toMatchObject({ on_hand: 5, reserved: 3 });
    expect(await stockOf(db, scarce)).toMatchObject({ on_hand: 1, reserved: 1 });
  });

  it('should reject lines of unknown and deleted products with nothing available', async () => {
    const sold = await createProduct(shop, db, 5);
    const deleted = await createProduct(shop, db, 5);
    const deletion = await publish(shop.bus, ProductDeleted, deleted, { productId: deleted }, 'catalog');
    await eventually(() => handled(db, deletion.id));
    const unknown = randomUUID();

    const order = await place([
      { productId: sold, quantity: 1 },
      { productId: deleted, quantity: 1 },
      { productId: unknown, quantity: 2 },
      { productId: 'not-a-product-id', quantity: 1 },
    ]);
    const answer = await order.answer();
    expect(answer.type).toBe(StockRejected.type);
    expect(answer.data.shortages).toEqual(
      expect.arrayContaining([
        { productId: deleted, requested: 1, available: 0 },
        { productId: unknown, requested: 2, available: 0 },
        { productId: 'not-a-product-id', requested: 1, available: 0 },
      ]),
    );
    expect(answer.data.shortages).toHaveLength(3);
    expect(await stockOf(db, sold)).toMatchObject({ on_hand: 5, reserved: 0 });
    expect(await stockOf(db, deleted)).toMatchObject({ on_hand: 5, reserved: 0, closed: true });
  });

  it('should not deadlock when orders name the same products in opposite orders', async () => {
    const [p1, p2, p3] = [await createProduct(shop, db, 1000), await createProduct(shop, db, 1000), await createProduct(shop, db, 1000)];
    const orders = [
      [p1, p2, p3],
      [p3, p2, p1],
      [p2, p1, p3],
      [p3, p1, p2],
    ];
    const deadlocksBefore = await deadlocks(db);
    const errorsBefore = await inventoryMetric(shop, 'events_handled_duration_seconds_count', { service: 'inventory', type: OrderPlaced.type, outcome: 'error' });
    const ids = Array.from({ length: 80 }, () => randomUUID());
    await publishAll(
      shop.bus,
      OrderPlaced,
      ids.map((orderId, i) => ({ key: orderId, data: orderPlacedData(orderId, orders[i % orders.length]!.map((productId) => ({ productId, quantity: 1 }))) })),
    );
    const answers = await eventually(() => (ids.every((id) => log.answersTo(id).length) ? ids.map((id) => log.answersTo(id)[0]!) : null), 60_000);
    expect(answers.every((a) => a.type === StockReserved.type)).toBe(true);
    for (const p of [p1, p2, p3]) expect(await stockOf(db, p)).toMatchObject({ on_hand: 1000, reserved: 80 });
    // No handler failed and Postgres detected no deadlock: no order ever waited on another in a cycle.
    expect(await inventoryMetric(shop, 'events_handled_duration_seconds_count', { service: 'inventory', type: OrderPlaced.type, outcome: 'error' })).toBe(errorsBefore);
    expect(await deadlocks(db)).toBe(deadlocksBefore);
    expect(await invariantViolations(db)).toEqual([]);
  });

});

async function deadlocks(db: Pool): Promise<number> {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query('SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()');
  return rows[0].n;
}
