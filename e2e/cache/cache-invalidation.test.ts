/**
 * The gateway's entity cache on the real stack (Kafka, Redis, the four subgraphs): answers are
 * served from the cache, a page never shows a price or stock older than the last event its gateway
 * was delivered, and nothing bound to a user is ever served to another. Two gateway processes
 * sharing Redis: cache-processes.test.ts.
 *
 * Changes are made at the subgraphs directly (signed as the gateway would), so that only the
 * events can tell the gateways about them (a mutation through a gateway outdates its service's
 * answers at once, which would hide a missing invalidation).
 */
import { randomUUID } from 'node:crypto';
import { eventually, testRedisUrl } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { postGraphQL, startTestShop } from '../support/harness';
import { asAdmin, invalidationsHandled, settledInvalidations } from './cache-support';

const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name price { amount } inventory { available } } }';

interface ProductPage {
  product: { id: string; name: string; price: { amount: string }; inventory: { available: number } };
}


describe('the entity cache on the real stack', () => {
  let shop: TestShop;
  let productId: string;

  const read = async (url: string, query = PRODUCT): Promise<ProductPage['product']> => {
    const res = await postGraphQL<ProductPage>(url, query, { id: productId });
    expect(res.errors).toBeUndefined();
    return res.data!.product;
  };
  const adjustStock = async (delta: number): Promise<number> => {
    const res = await asAdmin(shop, 'inventory', 'mutation ($id: ID!, $delta: Int!) { adjustInventory(productId: $id, delta: $delta, reason: "cache test") { available } }', { id: productId, delta });
    expect(res.errors).toBeUndefined();
    return res.data.adjustInventory.available as number;
  };
  const setPrice = async (price: string): Promise<void> => {
    const res = await asAdmin(shop, 'catalog', 'mutation ($id: ID!, $price: Decimal!) { updateProduct(id: $id, input: { price: $price }) { price { amount } } }', { id: productId, price });
    expect(res.errors).toBeUndefined();
  };

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'kafka', seed: true, gateway: { redisUrl: testRedisUrl() } });
    const list = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>('{ products(first: 1) { edges { node { id } } } }');
    productId = list.data!.products.edges[0]!.node.id;
  }, 180_000);
  afterAll(async () => {
    await shop?.stop();
  });

  it('should never show a price or stock older than the last event the gateway was delivered', async () => {
    let page = await read(shop.url);
    for (let step = 1; step <= 3; step++) {
      const delivered = await settledInvalidations(shop.url);
      // Cached now: a read before the event may still show the previous value, never an older one.
      expect(await read(shop.url)).toEqual(page);
      const available = await adjustStock(1);
      await eventually(async () => (await invalidationsHandled(shop.url)) > delivered, 30_000, 20);
      page = await read(shop.url);
      expect(page.inventory.available).toBe(available);

      const before = await settledInvalidations(shop.url);
      const price = `${100 + step}.50`;
      await setPrice(price);
      await eventually(async () => (await invalidationsHandled(shop.url)) > before, 30_000, 20);
      page = await read(shop.url);
      expect(page.price.amount).toBe(price);
    }
  });

  it('should never serve one user’s data to another', async () => {
    const register = async (): Promise<{ token: string; email: string }> => {
      const email = `cache-${randomUUID()}@example.com`;
      const res = await shop.gql<{ register: { accessToken: string } }>('mutation ($input: RegisterInput!) { register(input: $input) { accessToken } }', {
        input: { email, username: `u${randomUUID().slice(0, 8)}`, password: 'correct horse battery staple' },
      });
      expect(res.errors).toBeUndefined();
      return { token: res.data!.register.accessToken, email };
    };
    const users = [await register(), await register()];
    const ME = '{ me { email orders(first: 5) { totalCount } } }';
    for (let round = 0; round < 3; round++) {
      for (const user of users) {
        const res = await shop.gql<{ me: { email: string; orders: { totalCount: number } } }>(ME, undefined, user.token);
        expect(res.errors).toBeUndefined();
        expect(res.data?.me.email).toBe(user.email);
      }
    }
    // Anonymous: nobody's data.
    const anonymous = await shop.gql(ME);
    expect(anonymous.data?.me ?? null).toBeNull();
  });
});
