/**
 * Stale-if-error through the gateway: with inventory stopped, the storefront listing keeps
 * answering with data, its stock served from the last known values and flagged in
 * `extensions.stale`; a product whose stock was never fetched answers SERVICE_UNAVAILABLE
 * (retryable) for its stock, and only that.
 */
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';

const LISTING = '{ products(first: 5) { edges { node { id name price { amount } inventory { available } } } } }';
const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name inventory { available } } }';

interface Listing {
  products: { edges: Array<{ node: { id: string; name: string; price: { amount: string }; inventory: { available: number } } }> };
}

describe('a storefront listing while inventory is down', () => {
  let shop: TestShop;
  beforeAll(async () => {
    // Fresh answers off: every request asks inventory, so what answers while it is down is the
    // stale fallback, not a fresh hit (cache-and-invalidation.test.ts covers those).
    shop = await startTestShop({ bus: 'in-process', seed: true, gateway: { cache: { enabled: false } } });
  }, 120_000);
  afterAll(async () => {
    await shop?.stop();
  });

  it('should keep answering with the last known stock, flagged stale, and answer SERVICE_UNAVAILABLE for stock never fetched', async () => {
    const before = await shop.gql<Listing>(LISTING);
    expect(before.errors).toBeUndefined();
    expect(before.extensions?.['stale']).toBeUndefined();
    expect(before.data?.products.edges).toHaveLength(5);
    // Products beyond the first five: their stock has never been asked for.
    const more = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>('{ products(first: 8) { edges { node { id } } } }');
    const neverFetched = more.data!.products.edges[7]!.node.id;

    await shop.supergraph.stopService('inventory');
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const down = await shop.gql<Listing>(LISTING);
        expect(down.status).toBe(200);
        expect(down.errors).toBeUndefined();
        // The same page as before, stock included.
        expect(down.data).toEqual(before.data);
        const stale = down.extensions?.['stale'] as Array<{ service: string; path: Array<string | number>; ageSeconds: number }>;
        expect(stale).toHaveLength(5);
        stale.forEach((marker, i) => {
          expect(marker).toEqual({ service: 'inventory', path: ['products', 'edges', i, 'node', 'inventory'], ageSeconds: expect.any(Number) });
          expect(marker.ageSeconds).toBeGreaterThanOrEqual(0);
        });
      }

      // A listing that reaches products whose stock was never fetched: SERVICE_UNAVAILABLE for those
      // stocks alone (the first five are served stale, without an error). `Product.inventory` is
      // non-null in the contract, so GraphQL's null propagation still blanks the page.
      const wider = await shop.gql('{ products(first: 8) { edges { node { id inventory { available } } } } }');
      expect(wider.errors?.map((e) => [e.path, e.extensions?.['code']])).toEqual([5, 6, 7].map((i) => [['products', 'edges', i, 'node', 'inventory'], 'SERVICE_UNAVAILABLE']));
      expect(wider.data ?? null).toBeNull();

      const never = await shop.gql<{ product: null }>(PRODUCT, { id: neverFetched });
      expect(never.data?.product ?? null).toBeNull();
      expect(never.errors).toHaveLength(1);
      expect(never.errors?.[0]?.path).toEqual(['product', 'inventory']);
      expect(never.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
      expect(never.extensions?.['stale']).toBeUndefined();
    } finally {
      await shop.supergraph.startService('inventory');
    }

    // Back: fresh answers, no marker.
    const after = await shop.gql<Listing>(LISTING);
    expect(after.errors).toBeUndefined();
    expect(after.extensions?.['stale']).toBeUndefined();
  });
});
