// Real-time stock and order updates through the gateway over HTTP: SSE (graphql-sse, distinct and
// single connection) and multipart (Apollo's protocol), against the whole shop on the in-process
// bus: fields of every subgraph resolved per event, and a restart of the owning subgraph survived.
// The same scenarios over graphql-ws are in scenarios.ts.
import type { HttpSubscriptionTransport } from '@shop/platform/testing';
import { eventually, HTTP_SUBSCRIPTION_TRANSPORTS, subscribeOverHttp } from '@shop/platform/testing';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts, orderInput, PLACE_ORDER, waitForStatus } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { registerAccount } from '../users/support';
import { ADJUST, metricsOf, sample } from './support';

const STOCK_CHANGED = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available product { name price { amount } } } }';
const MY_ORDERS = 'subscription { myOrderUpdated { id status user { email } items { quantity product { name inventory { available } } } } }';

describe('subscriptions through the gateway over SSE and multipart (whole shop)', () => {
  let shop: TestShop;
  let products: DemoProduct[];
  let admin: string;
  beforeAll(async () => {
    shop = await startTestShop({ seed: true });
    products = (await demoProducts(shop)).filter((p) => p.available >= 5);
    admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
  });

  const upstreamsOn = async (service: 'inventory' | 'orders', field: string, n: number) =>
    eventually(async () => sample(await metricsOf(shop, service), 'subgraph_subscriptions_active', { service, field }) === n, 15_000);

  it.each(HTTP_SUBSCRIPTION_TRANSPORTS)('should deliver stock changes over %s with the catalog product, through an inventory restart', async (transport: HttpSubscriptionTransport) => {
    const p = products.shift()!;
    const sub = subscribeOverHttp(transport, shop.url, STOCK_CHANGED, { ids: [p.id] });
    await upstreamsOn('inventory', 'stockChanged', 1);
    for (const delta of [3, -1]) expect((await shop.gql(ADJUST, { id: p.id, delta }, admin)).errors).toBeUndefined();
    await eventually(() => sub.events.length === 2, 15_000);
    expect(sub.events).toEqual([p.available + 3, p.available + 2].map((available) => ({ data: { stockChanged: { productId: p.id, available, product: { name: p.name, price: { amount: p.price } } } }, extensions: { cursor: expect.any(String) } })));

    await shop.supergraph.restart('inventory', 700);
    await upstreamsOn('inventory', 'stockChanged', 1);
    expect((await shop.gql(ADJUST, { id: p.id, delta: 1 }, admin)).errors).toBeUndefined();
    await eventually(() => sub.events.length === 3, 20_000);
    expect(sub.events[2]!.data!.stockChanged.available).toBe(p.available + 3);
    expect({ completed: sub.completed, error: sub.error }).toEqual({ completed: false, error: undefined });
    await sub.close();
    await upstreamsOn('inventory', 'stockChanged', 0);
  });

  it.each(HTTP_SUBSCRIPTION_TRANSPORTS)('should follow my order over %s with fields from users, catalog and inventory, through an orders restart', async (transport: HttpSubscriptionTransport) => {
    const p = products.shift()!;
    const { auth } = await registerAccount(shop);
    const mine = subscribeOverHttp(transport, shop.url, MY_ORDERS, {}, auth.accessToken);
    await upstreamsOn('orders', 'myOrderUpdated', 1);
    const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 1 }]) }, auth.accessToken);
    expect(placed.errors).toBeUndefined();
    const order = placed.data.placeOrder;
    await waitForStatus(shop, order.id, 'CONFIRMED', auth.accessToken);
    await eventually(() => mine.events.length === 2, 20_000);

    await shop.supergraph.restart('orders', 700);
    await upstreamsOn('orders', 'myOrderUpdated', 1);
    const shipped = await shop.gql('mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "JD0146000033") { status } }', { id: order.id }, admin);
    expect(shipped.errors).toBeUndefined();
    await eventually(() => mine.events.length === 3, 20_000);
    expect(mine.events.map((e) => e.data?.myOrderUpdated.status)).toEqual(['PENDING', 'CONFIRMED', 'SHIPPED']);
    for (const e of mine.events) {
      expect(e.errors).toBeUndefined();
      expect(e.data!.myOrderUpdated).toMatchObject({ id: order.id, user: { email: auth.user.email }, items: [{ quantity: 1, product: { name: p.name, inventory: { available: expect.any(Number) } } }] });
    }
    await mine.close();
    await upstreamsOn('orders', 'myOrderUpdated', 0);
  });
});
