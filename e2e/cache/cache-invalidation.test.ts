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
import { startTestShop } from '../support/harness';
import { adjustStock, invalidationsHandled, readProduct, setPrice, settledInvalidations } from './cache-support';

describe('the entity cache on the real stack', () => {
  let shop: TestShop;
  let productId: string;

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'kafka', seed: true, gateway: { redisUrl: testRedisUrl() } });
    const list = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>('{ products(first: 1) { edges { node { id } } } }');
    productId = list.data!.products.edges[0]!.node.id;
  }, 180_000);
  afterAll(async () => {
    await shop?.stop();
  });

  it('should never show a price or stock older than the last event the gateway was delivered', async () => {
    let page = await readProduct(shop.url, productId);
    for (let step = 1; step <= 3; step++) {
      const delivered = await settledInvalidations(shop.url);
      // Cached now: a read before the event may still show the previous value, never an older one.
      expect(await readProduct(shop.url, productId)).toEqual(page);
      const available = await adjustStock(shop, productId, 1);
      await eventually(async () => (await invalidationsHandled(shop.url)) > delivered, 30_000, 20);
      page = await readProduct(shop.url, productId);
      expect(page.inventory.available).toBe(available);

      const before = await settledInvalidations(shop.url);
      const price = `${100 + step}.50`;
      await setPrice(shop, productId, price);
      await eventually(async () => (await invalidationsHandled(shop.url)) > before, 30_000, 20);
      page = await readProduct(shop.url, productId);
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
