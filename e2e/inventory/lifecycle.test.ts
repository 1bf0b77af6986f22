/**
 * What becomes of a reservation: released when the order is cancelled or rejected, deducted from
 * on-hand stock when it ships; redeliveries change nothing; low-stock alerts once per crossing;
 * the reconciliation keeps proving that the stock adds up.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { OrderCancelled, OrderPlaced, OrderRejected, OrderShipped, ProductCreated, StockRejected, StockReserved } from '@shop/events';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { BUS_KINDS, startTestShop } from '../support/harness';
import { createProduct, handled, InventoryEventLog, inventoryDb, inventoryMetric, invariantViolations, orderBase, placeOrder, publish, publishEnvelope, stockOf } from './support';

describe.each(BUS_KINDS)('inventory reservation lifecycle (%s bus)', (bus) => {
  let shop: TestShop;
  let db: Pool;
  let log: InventoryEventLog;

  beforeAll(async () => {
    // A fast reconciliation, so that the last test sees several runs.
    shop = await startTestShop({ bus, settings: { inventory: { INVENTORY_RECONCILIATION_INTERVAL_MS: 300 } } });
    db = inventoryDb(shop);
    log = await InventoryEventLog.start(shop.bus);
  });
  afterAll(async () => {
    await log?.stop();
    await db?.end();
    await shop?.stop();
  });

  const place = (items: Array<{ productId: string; quantity: number }>) => placeOrder(shop, log, items);

  it('should release what a cancelled or payment-rejected order holds, and nothing for an order that held nothing', async () => {
    const productId = await createProduct(shop, db, 3);
    const a = await place([{ productId, quantity: 2 }]);
    expect((await a.answer()).type).toBe(StockReserved.type);
    const b = await place([{ productId, quantity: 2 }]);
    expect((await b.answer()).type).toBe(StockRejected.type);

    // The order service rejects b after our stock-rejected: b holds nothing, so nothing moves.
    const rejectB = await publish(shop.bus, OrderRejected, b.orderId, { ...orderBase(b.orderId), reason: 'OUT_OF_STOCK', stockWasReserved: false });
    await eventually(() => handled(db, rejectB.id));
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 3, reserved: 2, version: 2 });

    const cancelA = await publish(shop.bus, OrderCancelled, a.orderId, { ...orderBase(a.orderId), reason: 'changed my mind', refunded: true });
    await eventually(() => handled(db, cancelA.id));
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 3, reserved: 0, version: 3 });
    const { rows } = await db.query('SELECT status FROM reservation WHERE order_id = $1', [a.orderId]);
    expect(rows).toEqual([{ status: 'RELEASED' }]);

    // A payment failure rejects an order whose stock was reserved: it is given back.
    const c = await place([{ productId, quantity: 3 }]);
    expect((await c.answer()).type).toBe(StockReserved.type);
    const rejectC = await publish(shop.bus, OrderRejected, c.orderId, { ...orderBase(c.orderId), reason: 'PAYMENT_DECLINED', stockWasReserved: true });
    await eventually(() => handled(db, rejectC.id));
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 3, reserved: 0 });
  });

  it('should turn the reservation of a shipped order into a deduction of on-hand stock', async () => {
    const productId = await createProduct(shop, db, 5);
    const order = await place([{ productId, quantity: 2 }]);
    expect((await order.answer()).type).toBe(StockReserved.type);
    const shipped = await publish(shop.bus, OrderShipped, order.orderId, {
      ...orderBase(order.orderId),
      items: [{ productId, quantity: 2 }],
      carrier: 'UPS',
      trackingNumber: '1Z999',
    });
    await eventually(() => handled(db, shipped.id));
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 3, reserved: 0 });
    const { rows } = await db.query('SELECT status, quantity FROM reservation WHERE order_id = $1', [order.orderId]);
    expect(rows).toEqual([{ status: 'SHIPPED', quantity: 2 }]);
    // A cancellation arriving after the shipment has nothing left to release.
    const late = await publish(shop.bus, OrderCancelled, order.orderId, { ...orderBase(order.orderId), reason: null, refunded: false });
    await eventually(() => handled(db, late.id));
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 3, reserved: 0 });
  });

  it('should change nothing when any event is delivered again', async () => {
    const productId = randomUUID();
    const created = await publish(
      shop.bus,
      ProductCreated,
      productId,
      { productId, name: 'Redelivered', slug: `r-${productId}`, price: { amount: '1.00', currencyCode: 'USD' }, categoryId: randomUUID(), initialStock: 4, lowStockThreshold: 0 },
      'catalog',
    );
    await eventually(() => stockOf(db, productId));
    const kept = await place([{ productId, quantity: 1 }]);
    await kept.answer();
    const cancelled = await place([{ productId, quantity: 1 }]);
    await cancelled.answer();
    const cancel = await publish(shop.bus, OrderCancelled, cancelled.orderId, { ...orderBase(cancelled.orderId), reason: null, refunded: false });
    const shippedOrder = await place([{ productId, quantity: 2 }]);
    await shippedOrder.answer();
    const ship = await publish(shop.bus, OrderShipped, shippedOrder.orderId, { ...orderBase(shippedOrder.orderId), items: [{ productId, quantity: 2 }], carrier: 'DHL', trackingNumber: 'X1' });
    await eventually(async () => (await handled(db, cancel.id)) && handled(db, ship.id));

    const snapshot = async () => ({
      stock: await stockOf(db, productId),
      reservations: (await db.query('SELECT order_id, quantity, status FROM reservation WHERE product_id = $1 ORDER BY order_id', [productId])).rows,
    });
    const before = await snapshot();
    expect(before.stock).toMatchObject({ on_hand: 2, reserved: 1 });
    const changesBefore = (await eventually(() => (log.stockChanges(productId).length === before.stock!.version ? log.stockChanges(productId) : null))).length;

    const duplicates = (type: string) => inventoryMetric(shop, 'events_handled_duration_seconds_count', { service: 'inventory', type, outcome: 'duplicate' });
    const dupsBefore = { created: await duplicates(ProductCreated.type), placed: await duplicates(OrderPlaced.type), cancelled: await duplicates(OrderCancelled.type), shipped: await duplicates(OrderShipped.type) };
    await publishEnvelope(shop.bus, ProductCreated, created);
    await publishEnvelope(shop.bus, OrderPlaced, kept.envelope);
    await publishEnvelope(shop.bus, OrderPlaced, cancelled.envelope);
    await publishEnvelope(shop.bus, OrderCancelled, cancel);
    await publishEnvelope(shop.bus, OrderShipped, ship);
    await eventually(
      async () =>
        (await duplicates(ProductCreated.type)) === dupsBefore.created + 1 &&
        (await duplicates(OrderPlaced.type)) === dupsBefore.placed + 2 &&
        (await duplicates(OrderCancelled.type)) === dupsBefore.cancelled + 1 &&
        (await duplicates(OrderShipped.type)) === dupsBefore.shipped + 1,
      20_000,
    );
    expect(await snapshot()).toEqual(before);

    // The same order placed again under a new event id gets its first answer, not a second
    // reservation; an order whose reservation was released or shipped gets no answer at all.
    const replayed = () => inventoryMetric(shop, 'inventory_reservations_total', { outcome: 'replayed' });
    const replayedBefore = await replayed();
    for (const order of [cancelled, shippedOrder, kept]) {
      const replay = await publish(shop.bus, OrderPlaced, order.orderId, order.envelope.data);
      await eventually(() => handled(db, replay.id));
    }
    expect(await replayed()).toBe(replayedBefore + 3);
    expect(await snapshot()).toEqual(before);
    // The kept order's second answer was written after the others' would have been.
    const answers = await eventually(() => (log.answersTo(kept.orderId).length === 2 ? log.answersTo(kept.orderId) : null));
    expect(answers[1]!.data).toEqual(answers[0]!.data);
    expect(log.stockChanges(productId)).toHaveLength(changesBefore);
    expect([cancelled, shippedOrder].map((o) => log.answersTo(o.orderId).length)).toEqual([1, 1]);
  });

  it('should publish one low-stock alert per crossing of the threshold, not one per sale', async () => {
    const productId = await createProduct(shop, db, 6, 3);
    const sell = async (n: number) => {
      const placed = [];
      for (let i = 0; i < n; i++) {
        const order = await place([{ productId, quantity: 1 }]);
        expect((await order.answer()).type).toBe(StockReserved.type);
        placed.push(order);
      }
      return placed;
    };
    const first = await sell(5); // available 6 -> 1: crosses at 3, then stays low
    await eventually(() => log.stockChanges(productId).length === 6);
    expect(log.lowStockAlerts(productId).map((a) => a.available)).toEqual([3]);

    for (const order of first.slice(0, 3)) {
      const cancel = await publish(shop.bus, OrderCancelled, order.orderId, { ...orderBase(order.orderId), reason: null, refunded: false });
      await eventually(() => handled(db, cancel.id));
    }
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 6, reserved: 2 }); // available 4: above again
    await sell(1); // falls to 3 again: a second crossing
    // A last change as a marker: events of one product arrive in order, so every alert due is in by then.
    const marker = await publish(shop.bus, OrderCancelled, first[3]!.orderId, { ...orderBase(first[3]!.orderId), reason: null, refunded: false });
    await eventually(() => handled(db, marker.id));
    await eventually(() => log.stockChanges(productId).length === 11);
    const alerts = log.lowStockAlerts(productId);
    expect(alerts.map((a) => [a.available, a.isLowStock, a.lowStockThreshold])).toEqual([
      [3, true, 3],
      [3, true, 3],
    ]);
  });

  it('should keep the stock invariant and report no reconciliation mismatch, and report one when stock stops adding up', async () => {
    expect(await invariantViolations(db)).toEqual([]);
    const runs = async () => inventoryMetric(shop, 'inventory_reconciliation_runs_total', { outcome: 'ok' });
    const after = await runs();
    await eventually(async () => (await runs()) >= after + 2, 10_000);
    expect(await inventoryMetric(shop, 'inventory_reconciliation_mismatches')).toBe(0);

    // Break one record behind the service's back: the next run must notice.
    const productId = await createProduct(shop, db, 5);
    await db.query('UPDATE stock SET reserved = reserved + 1 WHERE product_id = $1', [productId]);
    try {
      await eventually(async () => (await inventoryMetric(shop, 'inventory_reconciliation_mismatches')) === 1, 10_000);
    } finally {
      await db.query('UPDATE stock SET reserved = reserved - 1 WHERE product_id = $1', [productId]);
    }
    await eventually(async () => (await inventoryMetric(shop, 'inventory_reconciliation_mismatches')) === 0, 10_000);
  });
});
