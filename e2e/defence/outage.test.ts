/**
 * Honest failure codes while a subgraph is down: `placeOrder` with orders stopped answers
 * SERVICE_UNAVAILABLE, `retryable: true` and HTTP 503 (the whole operation failed), never an
 * INTERNAL_SERVER_ERROR; the catalogue keeps answering; orders back, the same request succeeds.
 */
import { demoProducts, orderInput, PLACE_ORDER } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';

describe('a request during a subgraph outage', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
  });

  it('should answer placeOrder with SERVICE_UNAVAILABLE, retryable, HTTP 503 while orders is down', async () => {
    const [product] = (await demoProducts(shop, 1)).filter((p) => p.available > 2);
    const customer = await shop.tokenFor({});
    const input = orderInput([{ productId: product!.id, quantity: 1 }]);
    await shop.supergraph.stopService('orders');
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const down = await shop.gql(PLACE_ORDER, { input }, customer);
        expect(down.status).toBe(503);
        expect(down.data ?? null).toBeNull();
        expect(down.errors).toHaveLength(1);
        expect(down.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
        expect(down.errors?.[0]?.message).toMatch(/orders service is unavailable/);
      }
      // The catalogue answers meanwhile.
      const browse = await shop.gql('{ products(first: 3) { totalCount edges { node { name } } } }');
      expect(browse.status).toBe(200);
      expect(browse.errors).toBeUndefined();
    } finally {
      await shop.supergraph.startService('orders');
    }
    // The client retries, as told: the same request (same idempotency key) now succeeds.
    const placed = await shop.gql(PLACE_ORDER, { input }, customer);
    expect(errorCode(placed)).toBeUndefined();
    expect(placed.data.placeOrder.status).toMatch(/PENDING|CONFIRMED/);
  });
});
