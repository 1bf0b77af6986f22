// Issue 22: signed-in users following their orders through the gateway share one upstream
// connection per subgraph (each subscription carries its own signed identity, checked by orders),
// and each user still gets only the events of their own order.
import { randomUUID } from 'node:crypto';
import { eventually } from '@shop/platform/testing';
import { demoProducts, orderInput, PLACE_ORDER } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import type { Watched } from './support';
import { ADJUST, metricsOf, sample, watch } from './support';

const MY_ORDERS = 'subscription { myOrderUpdated { id status } }';
const USERS = 200;

describe('signed-in users following their orders', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ seed: true });
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
  });

  it('should use one upstream socket per subgraph for 200 users, each getting only their own order', async () => {
    const admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    const products = (await demoProducts(shop)).slice(0, 5);
    for (const p of products) expect((await shop.gql(ADJUST, { id: p.id, delta: USERS }, admin)).errors).toBeUndefined();
    const users = await Promise.all(Array.from({ length: USERS }, async () => shop.tokenFor({ userId: randomUUID() })));
    const subs: Watched[] = users.map((token) => watch(shop, MY_ORDERS, {}, token));
    await eventually(async () => sample(await metricsOf(shop, 'orders'), 'subgraph_subscriptions_active', { service: 'orders', field: 'myOrderUpdated' }) === USERS, 60_000);
    // Counted where the sockets end: 200 users, one connection from the gateway to orders.
    expect(sample(await metricsOf(shop, 'orders'), 'subgraph_subscription_connections_active', { service: 'orders' })).toBe(1);

    const orders: string[] = [];
    for (let i = 0; i < USERS; i += 10) {
      const placed = await Promise.all(
        users.slice(i, i + 10).map(async (token, j) => shop.gql(PLACE_ORDER, { input: orderInput([{ productId: products[(i + j) % products.length]!.id, quantity: 1 }]) }, token)),
      );
      for (const res of placed) {
        expect(res.errors).toBeUndefined();
        orders.push(res.data.placeOrder.id);
      }
    }
    // Every order is confirmed by the saga; by then every order's PENDING event went out to everyone listening.
    await eventually(() => subs.every((s, i) => s.events.some((e) => e.data?.myOrderUpdated.id === orders[i] && e.data.myOrderUpdated.status === 'CONFIRMED')), 120_000, 250);
    subs.forEach((s, i) => {
      expect(s.events.length).toBeGreaterThan(0);
      for (const e of s.events) expect(e.data?.myOrderUpdated.id).toBe(orders[i]);
    });
    expect(sample(await metricsOf(shop, 'orders'), 'subgraph_subscription_connections_active', { service: 'orders' })).toBe(1);

    await Promise.all(subs.map(async (s) => s.close()));
    await eventually(async () => sample(await metricsOf(shop, 'orders'), 'subgraph_subscription_connections_active', { service: 'orders' }) === 0, 20_000);
  }, 240_000);
});
