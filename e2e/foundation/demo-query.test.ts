import http from 'node:http';
import https from 'node:https';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { BUS_KINDS, startTestShop } from '../support/harness';

const DEMO_QUERY = '{ products(first: 3) { edges { node { name price { amount currencyCode } inventory { available } } } } }';

/** Records every HTTP(S) request this process makes to anything but the loopback interface. */
function recordOutboundRequests(): { readonly hosts: string[]; restore(): void } {
  const hosts: string[] = [];
  const originals = [http.request, http.get, https.request, https.get] as const;
  const wrap = <F extends (...args: any[]) => any>(fn: F): F =>
    ((...args: any[]) => {
      const target = args[0];
      const host = typeof target === 'string' || target instanceof URL ? new URL(String(target)).hostname : (target?.hostname ?? target?.host ?? 'localhost');
      if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(String(host).split(':')[0] ?? '')) hosts.push(String(host));
      return fn(...args);
    }) as F;
  http.request = wrap(http.request);
  http.get = wrap(http.get);
  https.request = wrap(https.request);
  https.get = wrap(https.get);
  return {
    hosts,
    restore: () => {
      [http.request, http.get, https.request, https.get] = originals;
    },
  };
}

describe.each(BUS_KINDS)('the demo query through the gateway (%s bus)', (bus) => {
  let shop: TestShop;
  let outbound: ReturnType<typeof recordOutboundRequests>;
  beforeAll(async () => {
    outbound = recordOutboundRequests();
    shop = await startTestShop({ bus, seed: true });
  });
  afterAll(async () => {
    await shop?.stop();
    outbound.restore();
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
      // startTestShop returns once every service is ready (subgraphs: session revocations replayed).
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

  it('should send nothing to any host beyond this machine (no telemetry, no metadata probes)', async () => {
    await shop.gql(DEMO_QUERY);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(outbound.hosts).toEqual([]);
  });
});
