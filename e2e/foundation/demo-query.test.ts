import { eventually } from '@shop/platform/src/testing';
import type { TestShop } from '../support/harness';
import { BUS_KINDS, startTestShop } from '../support/harness';

const DEMO_QUERY = '{ products(first: 3) { edges { node { name price { amount currencyCode } inventory { available } } } } }';

describe.each(BUS_KINDS)('the demo query through the gateway (%s bus)', (bus) => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ bus, seed: true });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  it('should return products with names and prices from the catalog and stock from inventory', async () => {
    // Stock records open from catalog.product-created.v1 events, so the stock arrives shortly after the products.
    const res = await eventually(async () => {
      const r = await shop.gql(DEMO_QUERY);
      const nodes = r.data?.products.edges.map((e: any) => e.node) ?? [];
      return nodes.length === 3 && nodes.some((n: any) => n.inventory.available > 0) ? r : null;
    }, 30_000);
    expect(res.errors).toBeUndefined();
    for (const { node } of res.data.products.edges) {
      expect(node.name).toEqual(expect.any(String));
      expect(node.price.amount).toMatch(/^\d+\.\d{2}$/);
      expect(node.price.currencyCode).toBe('USD');
      expect(Number.isInteger(node.inventory.available)).toBe(true);
    }
  });

  it('should answer health and metrics on every subgraph', async () => {
    for (const service of Object.values(shop.supergraph.services)) {
      const base = service.url.replace('/graphql', '');
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('graphql_operations_total');
    }
  });

  it('should reject an identity header forged by a client that calls a subgraph directly', async () => {
    const res = await fetch(shop.supergraph.services.users.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shop-identity': Buffer.from(JSON.stringify({ userId: 'x', roles: ['ADMIN'], sessionId: 's', exp: 9999999999 })).toString('base64url'),
        'x-shop-identity-signature': 'forged',
      },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
    expect(res.status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
