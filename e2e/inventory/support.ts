/**
 * Test drivers for inventory: plays the catalog and the orders service on the shop's event bus
 * (envelopes built exactly as the outbox builds and relays them) and records inventory's answers.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { INVENTORY_RESERVATION_TOPIC, INVENTORY_STOCK_TOPIC, LowStock, OrderPlaced, ProductCreated, StockChanged, StockRejected, StockReserved } from '@shop/events';
import type { DataOf, EventDefinition } from '@shop/events';
import type { Consumer, EventBus, EventEnvelope } from '@shop/platform';
import { createEnvelope } from '@shop/platform';
import { eventually, uniqueName } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';

export type StockLevelEvent = DataOf<typeof StockChanged>;

/** Publishes an envelope the way the outbox relay does (topic of its type, key, headers). */
export async function publishEnvelope(bus: EventBus, def: EventDefinition<any>, envelope: EventEnvelope): Promise<void> {
  await bus.publish([{ topic: def.topic, key: envelope.key, value: JSON.stringify(envelope), headers: { 'event-type': envelope.type, 'event-id': envelope.id } }]);
}

/** Builds and publishes one event as `source` would; answers the envelope (to redeliver it later). */
export async function publish<T>(bus: EventBus, def: EventDefinition<T>, key: string, data: NoInfer<T>, source = 'orders'): Promise<EventEnvelope<T>> {
  const envelope = createEnvelope(source, def, key, data);
  await publishEnvelope(bus, def, envelope);
  return envelope;
}

/** Publishes many events in one batch (as a relay round does): they reach the consumer together. */
export async function publishAll<T>(bus: EventBus, def: EventDefinition<T>, items: ReadonlyArray<{ key: string; data: NoInfer<T> }>, source = 'orders'): Promise<Array<EventEnvelope<T>>> {
  const envelopes = items.map(({ key, data }) => createEnvelope(source, def, key, data));
  await bus.publish(envelopes.map((e) => ({ topic: def.topic, key: e.key, value: JSON.stringify(e), headers: { 'event-type': e.type, 'event-id': e.id } })));
  return envelopes;
}

/** The data of an `orders.order-placed.v1` event for `items` (prices are irrelevant to inventory). */
export function orderPlacedData(orderId: string, items: ReadonlyArray<{ productId: string; quantity: number }>): DataOf<typeof OrderPlaced> {
  return {
    orderId,
    number: `T-${orderId.slice(0, 8)}`,
    userId: randomUUID(),
    items: items.map((i) => ({ ...i, productName: 'Test product', unitPrice: { amount: '1.00', currencyCode: 'USD' } })),
    total: { amount: '1.00', currencyCode: 'USD' },
    placedAt: new Date().toISOString(),
  };
}

/** The base fields every orders event carries. */
export function orderBase(orderId: string): { orderId: string; number: string; userId: string } {
  return { orderId, number: `T-${orderId.slice(0, 8)}`, userId: randomUUID() };
}

/** Records every event inventory publishes (stock and reservation topics) through a test consumer group. */
export class InventoryEventLog {
  readonly events: EventEnvelope<any>[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(bus: EventBus): Promise<InventoryEventLog> {
    let log: InventoryEventLog | undefined;
    const pending: EventEnvelope<any>[] = [];
    const consumer = await bus.subscribe({
      groupId: uniqueName('test-inventory-log'),
      topics: [INVENTORY_STOCK_TOPIC, INVENTORY_RESERVATION_TOPIC],
      handle: async (m) => void (log ? log.events : pending).push(JSON.parse(m.value) as EventEnvelope<any>),
    });
    log = new InventoryEventLog(consumer);
    log.events.push(...pending);
    return log;
  }

  /** Every stock-changed event of a product, in the order received. */
  stockChanges(productId: string): StockLevelEvent[] {
    return this.events.filter((e) => e.type === StockChanged.type && e.data.productId === productId).map((e) => e.data as StockLevelEvent);
  }

  lowStockAlerts(productId: string): StockLevelEvent[] {
    return this.events.filter((e) => e.type === LowStock.type && e.data.productId === productId).map((e) => e.data as StockLevelEvent);
  }

  /** Inventory's answers (stock-reserved or stock-rejected) to one order. */
  answersTo(orderId: string): EventEnvelope<any>[] {
    return this.events.filter((e) => (e.type === StockReserved.type || e.type === StockRejected.type) && e.data.orderId === orderId);
  }

  /** Waits for inventory's answer to an order. */
  answerTo(orderId: string, timeoutMs = 20_000): Promise<EventEnvelope<any>> {
    return eventually(() => this.answersTo(orderId)[0], timeoutMs);
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }
}

/** Places an order as the orders service would (orders.order-placed.v1); `answer()` waits for inventory's reply. */
export async function placeOrder(shop: TestShop, log: InventoryEventLog, items: Array<{ productId: string; quantity: number }>) {
  const orderId = randomUUID();
  const envelope = await publish(shop.bus, OrderPlaced, orderId, orderPlacedData(orderId, items));
  return { orderId, envelope, answer: () => log.answerTo(orderId) };
}

/** Raw SQL on inventory's database (state checks). */
export function inventoryDb(shop: TestShop): Pool {
  return new Pool({ connectionString: shop.databaseUrl('inventory'), max: 2 });
}

export interface StockSnapshot {
  product_id: string;
  on_hand: number;
  reserved: number;
  low_stock_threshold: number;
  version: number;
  closed: boolean;
}

export async function stockOf(db: Pool, productId: string): Promise<StockSnapshot | undefined> {
  const { rows } = await db.query<StockSnapshot>(
    'SELECT product_id, on_hand, reserved, low_stock_threshold, version, closed_at IS NOT NULL AS closed FROM stock WHERE product_id = $1',
    [productId],
  );
  return rows[0];
}

/** True once inventory handled (committed) the event with this id. */
export async function handled(db: Pool, eventId: string): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM inbox WHERE consumer = 'inventory' AND event_id = $1`, [eventId]);
  return (rowCount ?? 0) > 0;
}

/** Opens a product in inventory as the catalog would (catalog.product-created.v1) and waits for its stock record. */
export async function createProduct(shop: TestShop, db: Pool, initialStock: number, lowStockThreshold = 0): Promise<string> {
  const productId = randomUUID();
  await publish(
    shop.bus,
    ProductCreated,
    productId,
    { productId, name: `Product ${productId.slice(0, 6)}`, slug: `p-${productId}`, price: { amount: '9.99', currencyCode: 'USD' }, categoryId: randomUUID(), initialStock, lowStockThreshold },
    'catalog',
  );
  await eventually(() => stockOf(db, productId), 20_000);
  return productId;
}

/**
 * Every product whose stock does not add up: initial + adjustments != on_hand + shipped, reserved !=
 * open reservations, or a level out of bounds. Computed independently of the service's own check.
 */
export async function invariantViolations(db: Pool): Promise<unknown[]> {
  const { rows } = await db.query(`
    SELECT s.product_id, s.initial_on_hand, s.on_hand, s.reserved,
           (SELECT coalesce(sum(delta), 0) FROM inventory_adjustment a WHERE a.product_id = s.product_id)::int AS adjusted,
           (SELECT coalesce(sum(quantity), 0) FROM reservation r WHERE r.product_id = s.product_id AND r.status = 'SHIPPED')::int AS shipped,
           (SELECT coalesce(sum(quantity), 0) FROM reservation r WHERE r.product_id = s.product_id AND r.status = 'RESERVED')::int AS open
    FROM stock s`);
  return rows.filter((r) => r.initial_on_hand + r.adjusted !== r.on_hand + r.shipped || r.reserved !== r.open || r.on_hand < 0 || r.reserved < 0 || r.reserved > r.on_hand);
}

/** The sum of the samples of a metric on inventory's /metrics whose labels include `labels`. */
export async function inventoryMetric(shop: TestShop, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(shop.supergraph.services.inventory.url.replace('/graphql', '/metrics'))).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
