/**
 * Stock records from the catalog, and what an admin does with stock through the gateway:
 * adjustments with their audit trail, thresholds, the low-stock list and its alerts.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { OrderPlaced, StockReserved } from '@shop/events';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { BUS_KINDS, errorCode, startTestShop } from '../support/harness';
import { createProduct, InventoryEventLog, inventoryDb, inventoryMetric, orderPlacedData, publish, stockOf } from './support';

const LEVEL = 'productId onHand reserved available lowStockThreshold isLowStock updatedAt';
const ADJUST = `mutation ($productId: ID!, $delta: Int!, $reason: String!) { adjustInventory(productId: $productId, delta: $delta, reason: $reason) { ${LEVEL} } }`;
const THRESHOLD = `mutation ($productId: ID!, $threshold: Int!) { setLowStockThreshold(productId: $productId, threshold: $threshold) { ${LEVEL} } }`;
const ADJUSTMENTS = `query ($productId: ID!, $first: Int) { inventoryAdjustments(productId: $productId, first: $first) { id productId delta reason actor { id } createdAt } }`;
const LOW_STOCK = `{ lowStock { ${LEVEL} product { id } } }`;

describe.each(BUS_KINDS)('inventory administration (%s bus)', (bus) => {
  let shop: TestShop;
  let db: Pool;
  let log: InventoryEventLog;
  const adminId = randomUUID();
  let admin: string;
  let customer: string;

  beforeAll(async () => {
    shop = await startTestShop({ bus, seed: true });
    db = inventoryDb(shop);
    log = await InventoryEventLog.start(shop.bus);
    admin = await shop.tokenFor({ userId: adminId, roles: ['ADMIN'] });
    customer = await shop.tokenFor({ roles: ['CUSTOMER'] });
  });
  afterAll(async () => {
    await log?.stop();
    await db?.end();
    await shop?.stop();
  });

  it('should open a stock record for every product the catalog creates', async () => {
    const total = (await shop.gql('{ products(first: 0) { totalCount } }')).data.products.totalCount as number;
    expect(total).toBeGreaterThan(0);
    await eventually(async () => (await db.query('SELECT count(*)::int AS n FROM stock WHERE closed_at IS NULL')).rows[0].n === total, 30_000);

    const res = await shop.gql(`{ products(first: 100) { edges { node { id inventory { productId onHand reserved available lowStockThreshold updatedAt } } } } }`);
    expect(res.errors).toBeUndefined();
    const nodes = res.data.products.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(total);
    for (const n of nodes) {
      const row = await stockOf(db, n.id);
      expect(n.inventory).toEqual({ productId: n.id, onHand: row!.on_hand, reserved: 0, available: row!.on_hand, lowStockThreshold: 5, updatedAt: expect.stringMatching(/^20\d\d-/) });
    }
    expect(nodes.filter((n: any) => n.inventory.onHand > 0).length).toBeGreaterThan(total / 2);
    // Each opening was announced with version 1.
    const opened = await eventually(() => (nodes.every((n: any) => log.stockChanges(n.id).length) ? nodes.map((n: any) => log.stockChanges(n.id)[0]) : null), 20_000);
    for (const change of opened) expect(change).toMatchObject({ version: 1, reason: 'opened' });
  });

  it('should let only admins manage stock', async () => {
    const productId = await createProduct(shop, db, 10);
    const operations: Array<[string, Record<string, unknown>]> = [
      [ADJUST, { productId, delta: 1, reason: 'count' }],
      [THRESHOLD, { productId, threshold: 1 }],
      [ADJUSTMENTS, { productId }],
      [LOW_STOCK, {}],
    ];
    for (const [query, variables] of operations) {
      expect(errorCode(await shop.gql(query, variables))).toBe('UNAUTHENTICATED');
      expect(errorCode(await shop.gql(query, variables, customer))).toBe('FORBIDDEN');
    }
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 10, low_stock_threshold: 0, version: 1 });
  });

  it('should adjust stock with an audit row naming the admin, the reason and the resulting levels', async () => {
    const productId = await createProduct(shop, db, 10);
    const order = randomUUID();
    await publish(shop.bus, OrderPlaced, order, orderPlacedData(order, [{ productId, quantity: 3 }]));
    expect((await log.answerTo(order)).type).toBe(StockReserved.type);

    const added = await shop.gql(ADJUST, { productId, delta: 5, reason: '  delivery from supplier  ' }, admin);
    expect(added.errors).toBeUndefined();
    expect(added.data.adjustInventory).toMatchObject({ productId, onHand: 15, reserved: 3, available: 12 });
    const removed = await shop.gql(ADJUST, { productId, delta: -12, reason: 'damaged in the warehouse' }, admin);
    expect(removed.data.adjustInventory).toMatchObject({ onHand: 3, reserved: 3, available: 0, isLowStock: true });

    const trail = await shop.gql(ADJUSTMENTS, { productId }, admin);
    expect(trail.errors).toBeUndefined();
    expect(trail.data.inventoryAdjustments).toEqual([
      { id: expect.any(String), productId, delta: -12, reason: 'damaged in the warehouse', actor: { id: adminId }, createdAt: expect.any(String) },
      { id: expect.any(String), productId, delta: 5, reason: 'delivery from supplier', actor: { id: adminId }, createdAt: expect.any(String) },
    ]);
    expect((await shop.gql(ADJUSTMENTS, { productId, first: 1 }, admin)).data.inventoryAdjustments).toHaveLength(1);
    const { rows } = await db.query('SELECT delta, actor_id, on_hand_after, reserved_after FROM inventory_adjustment WHERE product_id = $1 ORDER BY created_at', [productId]);
    expect(rows).toEqual([
      { delta: 5, actor_id: adminId, on_hand_after: 15, reserved_after: 3 },
      { delta: -12, actor_id: adminId, on_hand_after: 3, reserved_after: 3 },
    ]);
    const changes = await eventually(() => (log.stockChanges(productId).length === 4 ? log.stockChanges(productId) : null));
    expect(changes.map((c) => [c.reason, c.version, c.onHand, c.reserved])).toEqual([
      ['opened', 1, 10, 0],
      ['reserved', 2, 10, 3],
      ['adjusted', 3, 15, 3],
      ['adjusted', 4, 3, 3],
    ]);
  });

  it('should answer INSUFFICIENT_STOCK when an adjustment would leave less on hand than is reserved, and change nothing', async () => {
    const productId = await createProduct(shop, db, 5);
    const order = randomUUID();
    await publish(shop.bus, OrderPlaced, order, orderPlacedData(order, [{ productId, quantity: 2 }]));
    await log.answerTo(order);

    const belowReserved = await shop.gql(ADJUST, { productId, delta: -4, reason: 'lost' }, admin);
    expect(errorCode(belowReserved)).toBe('INSUFFICIENT_STOCK');
    expect(belowReserved.errors![0]!.extensions).toMatchObject({ productId, onHand: 5, reserved: 2, available: 3 });
    expect(errorCode(await shop.gql(ADJUST, { productId, delta: -6, reason: 'lost' }, admin))).toBe('INSUFFICIENT_STOCK');
    expect((await shop.gql(ADJUST, { productId, delta: -3, reason: 'lost' }, admin)).data.adjustInventory).toMatchObject({ onHand: 2, available: 0 });

    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 2, reserved: 2 });
    const { rows } = await db.query('SELECT count(*)::int AS n FROM inventory_adjustment WHERE product_id = $1', [productId]);
    expect(rows[0].n).toBe(1);
  });

  it('should name the offending field of invalid input, and answer NOT_FOUND for a product without stock', async () => {
    const productId = await createProduct(shop, db, 5);
    const cases: Array<[string, Record<string, unknown>, string]> = [
      [ADJUST, { productId, delta: 0, reason: 'count' }, 'delta'],
      [ADJUST, { productId, delta: 1, reason: '   ' }, 'reason'],
      [ADJUST, { productId, delta: 1, reason: 'x'.repeat(501) }, 'reason'],
      [ADJUST, { productId: 'not-an-id', delta: 1, reason: 'count' }, 'productId'],
      [ADJUST, { productId, delta: 2_147_483_647, reason: 'count' }, 'delta'],
      [THRESHOLD, { productId, threshold: -1 }, 'threshold'],
      [ADJUSTMENTS, { productId, first: 101 }, 'first'],
      [ADJUSTMENTS, { productId, first: -1 }, 'first'],
    ];
    for (const [query, variables, field] of cases) {
      const res = await shop.gql(query, variables, admin);
      expect([field, errorCode(res), res.errors?.[0]?.extensions?.['field']]).toEqual([field, 'BAD_USER_INPUT', field]);
    }
    const unknown = randomUUID();
    expect(errorCode(await shop.gql(ADJUST, { productId: unknown, delta: 1, reason: 'count' }, admin))).toBe('NOT_FOUND');
    expect(errorCode(await shop.gql(THRESHOLD, { productId: unknown, threshold: 1 }, admin))).toBe('NOT_FOUND');
    expect(errorCode(await shop.gql(ADJUSTMENTS, { productId: unknown }, admin))).toBe('NOT_FOUND');
    expect(await stockOf(db, productId)).toMatchObject({ on_hand: 5, version: 1 });
  });

  it('should list low stock, alert once per crossing and count low products in a gauge', async () => {
    const productId = await createProduct(shop, db, 10, 2);
    const before = await shop.gql(LOW_STOCK, {}, admin);
    expect(before.errors).toBeUndefined();
    expect(before.data.lowStock.map((l: any) => l.productId)).not.toContain(productId);

    // Raising the threshold over the available stock is a crossing; raising it further is not another.
    const raised = await shop.gql(THRESHOLD, { productId, threshold: 10 }, admin);
    expect(raised.data.setLowStockThreshold).toMatchObject({ lowStockThreshold: 10, available: 10, isLowStock: true });
    await shop.gql(THRESHOLD, { productId, threshold: 12 }, admin);
    // Stock arriving lifts it above; an adjustment taking it back down is the second crossing.
    await shop.gql(ADJUST, { productId, delta: 5, reason: 'delivery' }, admin);
    await shop.gql(ADJUST, { productId, delta: -4, reason: 'count' }, admin);
    await shop.gql(ADJUST, { productId, delta: -1, reason: 'count' }, admin);
    await eventually(() => log.stockChanges(productId).length === 6);
    expect(log.lowStockAlerts(productId).map((a) => [a.available, a.lowStockThreshold, a.isLowStock])).toEqual([
      [10, 10, true],
      [11, 12, true],
    ]);

    const low = (await shop.gql(LOW_STOCK, {}, admin)).data.lowStock;
    const mine = low.find((l: any) => l.productId === productId);
    expect(mine).toMatchObject({ onHand: 10, available: 10, lowStockThreshold: 12, isLowStock: true, product: { id: productId } });
    for (const l of low) expect(l.available).toBeLessThanOrEqual(l.lowStockThreshold);
    expect(await inventoryMetric(shop, 'inventory_low_stock_products')).toBe(low.length);
  });
});
