// Real-time stock and order updates through the gateway over graphql-ws, against the whole shop:
// each event arrives in order with the fields of every subgraph resolved. Run on each bus by
// stock-and-orders.<bus>.test.ts (one file per bus keeps each file short).
import { eventually } from '@shop/platform/testing';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts, orderInput, PLACE_ORDER, waitForStatus } from '../orders/orders-flow';
import type { BusKind, TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { registerAccount } from '../users/support';
import { ADJUST, metricsOf, sample, watch } from './support';

const STOCK_CHANGED = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available isLowStock product { name price { amount } } } }';
const MY_ORDERS = `subscription { myOrderUpdated { id number status payment { status } user { email }
  items { productName quantity product { name inventory { available } } } } }`;
const ORDER_UPDATED = 'subscription($id: ID!) { orderUpdated(orderId: $id) { id status } }';

/** Every subscription scenario on one shop with the given bus. */
export function subscriptionScenarios(bus: BusKind): void {
  describe(`subscriptions through the gateway (${bus} bus)`, () => {
    let shop: TestShop;
    let products: DemoProduct[];
    let admin: string;
    const take = (): DemoProduct => products.shift()!;

    beforeAll(async () => {
      shop = await startTestShop({ bus, seed: true });
      products = (await demoProducts(shop)).filter((p) => p.available >= 5);
      admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    }, 90_000);
    afterAll(async () => {
      await shop?.stop();
    });

    /** Waits until the inventory replica holds `n` upstream subscriptions of `field` (so no event is published before). */
    const upstreamsOn = async (service: 'inventory' | 'orders', field: string, n: number, timeoutMs = 15_000) =>
      eventually(async () => sample(await metricsOf(shop, service), 'subgraph_subscriptions_active', { service, field }) === n, timeoutMs);

    it('should deliver stock changes from admin adjustments and from an order, in order, with the catalog product resolved', async () => {
      const p = take();
      const sub = watch(shop, STOCK_CHANGED, { ids: [p.id] });
      await upstreamsOn('inventory', 'stockChanged', 1);
      const deltas = [5, -1, 3, -2, 4];
      for (const delta of deltas) {
        const res = await shop.gql(ADJUST, { id: p.id, delta }, admin);
        expect(res.errors).toBeUndefined();
      }
      let expected = p.available;
      const afterAdjustments = deltas.map((d) => (expected += d));
      await eventually(() => sub.events.length === deltas.length, 15_000);
      expect(sub.events.map((e) => e.data?.stockChanged.available)).toEqual(afterAdjustments);
      for (const e of sub.events) expect(e).toEqual({ data: { stockChanged: { productId: p.id, available: expect.any(Number), isLowStock: expect.any(Boolean), product: { name: p.name, price: { amount: p.price } } } }, extensions: { cursor: expect.any(String) } });

      // An order reserves stock: one more change, after the adjustments.
      const customer = await shop.tokenFor({});
      const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 2 }]) }, customer);
      expect(placed.errors).toBeUndefined();
      await eventually(() => sub.events.length === deltas.length + 1, 20_000);
      expect(sub.events.at(-1)!.data!.stockChanged.available).toBe(expected - 2);
      await sub.close();
      await upstreamsOn('inventory', 'stockChanged', 0);
    });

    it('should follow my order from PENDING to DELIVERED with fields from users, catalog and inventory', async () => {
      const p = take();
      const { auth } = await registerAccount(shop);
      const other = await registerAccount(shop);
      const mine = watch(shop, MY_ORDERS, {}, auth.accessToken);
      const theirs = watch(shop, MY_ORDERS, {}, other.auth.accessToken);
      await upstreamsOn('orders', 'myOrderUpdated', 2);

      const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 1 }]) }, auth.accessToken);
      expect(placed.errors).toBeUndefined();
      const order = placed.data.placeOrder;
      await waitForStatus(shop, order.id, 'CONFIRMED', auth.accessToken);
      const shipped = await shop.gql('mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "JD0146000033") { status } }', { id: order.id }, admin);
      expect(shipped.errors).toBeUndefined();
      const delivered = await shop.gql('mutation($id: ID!) { markDelivered(id: $id) { status } }', { id: order.id }, admin);
      expect(delivered.errors).toBeUndefined();

      await eventually(() => mine.events.length === 4, 20_000);
      expect(mine.events.map((e) => e.data?.myOrderUpdated.status)).toEqual(['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED']);
      for (const e of mine.events) {
        expect(e.errors).toBeUndefined();
        const o = e.data!.myOrderUpdated;
        expect(o).toMatchObject({ id: order.id, number: order.number, user: { email: auth.user.email } });
        expect(o.items).toEqual([{ productName: p.name, quantity: 1, product: { name: p.name, inventory: { available: expect.any(Number) } } }]);
      }
      expect(mine.events[1]!.data!.myOrderUpdated.payment.status).toBe('CAPTURED');
      // Another customer's subscription never sees this order.
      expect(theirs.events).toEqual([]);
      await Promise.all([mine.close(), theirs.close()]);
    });

    it("should refuse a subscription to another customer's order", async () => {
      const p = take();
      const owner = await shop.tokenFor({});
      const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 1 }]) }, owner);
      expect(placed.errors).toBeUndefined();
      const id = placed.data.placeOrder.id;

      const intruder = watch(shop, ORDER_UPDATED, { id }, await shop.tokenFor({}));
      const anonymous = watch(shop, ORDER_UPDATED, { id });
      const own = watch(shop, ORDER_UPDATED, { id }, owner);
      const byAdmin = watch(shop, ORDER_UPDATED, { id }, admin);
      await eventually(() => intruder.completed && anonymous.completed, 15_000);
      expect(intruder.events).toEqual([{ data: null, errors: [expect.objectContaining({ message: 'This order belongs to someone else.', extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })] }]);
      expect(anonymous.events[0]!.errors![0]!.extensions!['code']).toBe('UNAUTHENTICATED');

      await upstreamsOn('orders', 'orderUpdated', 2);
      await shop.gql('mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { status } }', { id }, owner);
      await eventually(() => own.events.some((e) => e.data?.orderUpdated.status === 'CANCELLED') && byAdmin.events.some((e) => e.data?.orderUpdated.status === 'CANCELLED'), 20_000);
      await Promise.all([intruder.close(), anonymous.close(), own.close(), byAdmin.close()]);
    });

    it('should alert admins, and only admins, when stock falls to its threshold', async () => {
      const p = take();
      const customer = watch(shop, 'subscription { lowStockAlert { productId available } }', {}, await shop.tokenFor({}));
      const alert = watch(shop, 'subscription { lowStockAlert { productId available isLowStock product { name } } }', {}, admin);
      await eventually(() => customer.completed, 15_000);
      expect(customer.events[0]!.errors![0]!.extensions!['code']).toBe('FORBIDDEN');
      await upstreamsOn('inventory', 'lowStockAlert', 1);
      const threshold = await shop.gql('mutation($id: ID!) { setLowStockThreshold(productId: $id, threshold: 2) { lowStockThreshold available } }', { id: p.id }, admin);
      expect(threshold.errors).toBeUndefined();
      const available = threshold.data.setLowStockThreshold.available as number;
      await shop.gql(ADJUST, { id: p.id, delta: -(available - 1) }, admin);
      await eventually(() => alert.events.some((e) => e.data?.lowStockAlert.productId === p.id), 15_000);
      expect(alert.events.find((e) => e.data?.lowStockAlert.productId === p.id)).toEqual({ data: { lowStockAlert: { productId: p.id, available: 1, isLowStock: true, product: { name: p.name } } }, extensions: { cursor: expect.any(String) } });
      await Promise.all([customer.close(), alert.close()]);
    });

    it('should serve one hundred clients of the same stockChanged from one upstream subscription', async () => {
      const p = take();
      const clients = Array.from({ length: 100 }, () => watch(shop, STOCK_CHANGED, { ids: [p.id] }));
      await upstreamsOn('inventory', 'stockChanged', 1);
      await eventually(async () => sample(await metricsOf(shop, 'gateway'), 'gateway_subscriptions_active', { root_field: 'stockChanged' }) === 100, 15_000);
      expect(sample(await metricsOf(shop, 'gateway'), 'gateway_subscription_upstreams_active', { subgraph: 'inventory' })).toBe(1);
      await shop.gql(ADJUST, { id: p.id, delta: 7 }, admin);
      await shop.gql(ADJUST, { id: p.id, delta: -3 }, admin);
      await eventually(() => clients.every((c) => c.events.length === 2), 15_000);
      for (const c of clients) expect(c.events.map((e) => e.data?.stockChanged.available)).toEqual([p.available + 7, p.available + 4]);
      await Promise.all(clients.map((c) => c.close()));
      await upstreamsOn('inventory', 'stockChanged', 0);
    });

    it('should keep every client subscription through a restart of the inventory subgraph', async () => {
      const p = take();
      const clients = [watch(shop, STOCK_CHANGED, { ids: [p.id] }), watch(shop, STOCK_CHANGED, { ids: [p.id] }, await shop.tokenFor({}))];
      await upstreamsOn('inventory', 'stockChanged', 1);
      await shop.gql(ADJUST, { id: p.id, delta: 1 }, admin);
      await eventually(() => clients.every((c) => c.events.length === 1), 15_000);

      await shop.supergraph.restart('inventory');
      // The gateway reconnects with backoff and resubscribes on the new replica (whose live listener
      // first joins the bus: seconds on Kafka).
      await upstreamsOn('inventory', 'stockChanged', 1, 30_000);
      const res = await shop.gql(ADJUST, { id: p.id, delta: 2 }, admin);
      expect(res.errors).toBeUndefined();
      await eventually(() => clients.every((c) => c.events.length === 2), 20_000);
      for (const c of clients) {
        expect(c.events.map((e) => e.data?.stockChanged.available)).toEqual([p.available + 1, p.available + 3]);
        expect(c.events[1]!.data!.stockChanged.product.name).toBe(p.name);
        expect(c.completed).toBe(false);
        expect(c.closes).toEqual([]);
      }
      await Promise.all(clients.map((c) => c.close()));
    });
  });
}
