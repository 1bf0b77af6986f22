// A client that stops reading is dropped by the gateway with a clear close reason once its bounded
// buffer is full, and never delays the other clients of the same upstream subscription.
import { eventually } from '@shop/platform/testing';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { ADJUST, metricsOf, rawClient, sample, watch } from './support';

/** A heavy event (a few KiB: similar products with their descriptions), so a stuck socket fills quickly. */
const HEAVY = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { available product { name description similar(first: 20) { name slug description imageUrls } } } }';
const LIGHT = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { available } }';

describe('a stuck subscription client', () => {
  let shop: TestShop;
  let product: DemoProduct;
  let admin: string;

  beforeAll(async () => {
    shop = await startTestShop({ seed: true });
    product = (await demoProducts(shop))[0]!;
    admin = await shop.tokenFor({ roles: ['ADMIN'] });
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
  });

  it('should be dropped with a clear reason without delaying the others', async () => {
    const gateway = () => metricsOf(shop, 'gateway');
    const droppedBefore = sample(await gateway(), 'gateway_subscription_slow_clients_dropped_total');
    const stuck = await rawClient(shop);
    for (let i = 0; i < 50; i++) stuck.subscribe(`heavy-${i}`, HEAVY, { ids: [product.id] });
    const healthy = watch<{ stockChanged: { available: number } }>(shop, LIGHT, { ids: [product.id] });
    await eventually(async () => sample(await gateway(), 'gateway_subscriptions_active', { root_field: 'stockChanged' }) === 51, 15_000);
    await eventually(async () => sample(await metricsOf(shop, 'inventory'), 'subgraph_subscriptions_active', { service: 'inventory', field: 'stockChanged' }) === 2, 15_000);
    stuck.socket.pause(); // stops reading: loopback buffers fill, then the gateway's bounded queue

    // Bounded: 50 heavy subscriptions fill a few MiB of socket buffers and the 64-event queue well within it.
    const mutatedAt: number[] = [];
    let dropped = false;
    for (let i = 0; i < 300 && !dropped; i++) {
      const res = await shop.gql(ADJUST, { id: product.id, delta: 1 }, admin);
      expect(res.errors).toBeUndefined();
      mutatedAt.push(Date.now());
      if (i % 10 === 9) dropped = sample(await gateway(), 'gateway_subscription_slow_clients_dropped_total') > droppedBefore;
    }
    await eventually(async () => sample(await gateway(), 'gateway_subscription_slow_clients_dropped_total') === droppedBefore + 1, 10_000);
    stuck.socket.resume(); // what it still can read: the buffered events, then the close frame with its reason
    await eventually(() => stuck.close !== undefined, 10_000);
    expect(stuck.close).toEqual({ code: 1013, reason: 'Slow consumer: more than 64 undelivered events; dropped' });

    // The healthy client got every change, in order, each soon after its mutation returned.
    await eventually(() => healthy.events.length === mutatedAt.length, 15_000);
    expect(healthy.events.map((e) => e.data!.stockChanged.available)).toEqual(mutatedAt.map((_, i) => product.available + i + 1));
    const lags = healthy.arrivals.map((at, i) => at - mutatedAt[i]!);
    expect(Math.max(...lags)).toBeLessThan(2_000);
    await eventually(async () => sample(await gateway(), 'gateway_subscriptions_active', { root_field: 'stockChanged' }) === 1, 10_000);
    await healthy.close();
  });
});
