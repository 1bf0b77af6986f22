/**
 * A subgraph defends itself: straight at the catalog subgraph, the deep `similar` query that once
 * exhausted the heap is refused (unsigned: not answered at all; signed as the gateway would, by
 * the same query limits as the gateway, each refusal with the code naming its limit, 400), a body over the limit is refused
 * (413 PAYLOAD_TOO_LARGE), and the service stays
 * healthy and answers the next request. Health and metrics stay open.
 */
import { randomUUID } from 'node:crypto';
import { postAsGateway } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { errorCode, postGraphQL, startTestShop } from '../support/harness';

/** `product { similar { similar { … } } }`, nested `levels` deep. */
function deepSimilar(levels: number): string {
  return `query Deep($id: ID!) { product(id: $id) { ${'similar { id '.repeat(levels)}name${' }'.repeat(levels)} } }`;
}

describe('a subgraph called directly', () => {
  let shop: TestShop;
  let catalog: string;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
    catalog = shop.supergraph.services.catalog.url;
  });
  afterAll(async () => {
    await shop?.stop();
  });

  const asGateway = (query: string, variables?: Record<string, unknown>) => postAsGateway(catalog, { secret: shop.internalAuthSecret, audience: 'catalog', query, ...(variables ? { variables } : {}) });
  const productId = async (): Promise<string> => (await shop.gql('{ products(first: 1) { edges { node { id } } } }')).data.products.edges[0].node.id;

  it('should answer nothing, not even _service, to a request the gateway did not sign', async () => {
    for (const query of ['{ _service { sdl } }', deepSimilar(40), '{ products(first: 1) { totalCount } }']) {
      const res = await postGraphQL(catalog, query, { id: randomUUID() });
      expect(res.status).toBe(401);
      expect(errorCode(res)).toBe('UNAUTHENTICATED');
      expect(res.data).toBeUndefined();
    }
    const base = catalog.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('graphql_operations_total');
  });

  it('should refuse the 40-level similar query with the limit errors of the gateway, and stay healthy', async () => {
    const id = await productId();
    const deep = await asGateway(deepSimilar(40), { id });
    expect(deep.status).toBe(400);
    expect(deep.data).toBeUndefined();
    // The limits of the gateway's configuration: depth (12) and cost (20 000) both refuse it, each with its code.
    expect(deep.errors?.map((e) => [e.extensions?.['code'], e.extensions?.['limit']])).toEqual(expect.arrayContaining([['MAX_DEPTH_LIMIT', 12], ['COST_ESTIMATED_TOO_EXPENSIVE', 20_000]]));
    expect(deep.errors?.map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(/depth limit of 12 exceeded/i), expect.stringMatching(/cost limit of 20000 exceeded/i)]));
    // Through the gateway, the same limits, the same answer.
    const viaGateway = await shop.gql(deepSimilar(40), { id });
    expect(viaGateway.status).toBe(400);
    expect(viaGateway.errors?.map((e) => e.message)).toEqual(deep.errors?.map((e) => e.message));
    expect(viaGateway.errors?.map((e) => e.extensions?.['code'])).toEqual(deep.errors?.map((e) => e.extensions?.['code']));

    // The service is healthy and answers the next request.
    expect((await fetch(catalog.replace(/\/graphql$/, '/health/ready'))).status).toBe(200);
    const next = await asGateway('query($id: ID!) { product(id: $id) { id similar(first: 2) { id } } }', { id });
    expect(next.errors).toBeUndefined();
    expect(next.data.product.id).toBe(id);
  });

  it('should cut an answer that fans out past the size bound (depth 8: 23 MB before), and stay healthy', async () => {
    const id = await productId();
    // Within depth and cost, but `similar` fans out five-fold per level: ~80 000 products.
    const started = Date.now();
    const res = await asGateway(deepSimilar(7), { id });
    const seconds = (Date.now() - started) / 1000;
    const limits = res.errors?.map((e) => [e.extensions?.['code'], e.extensions?.['limit']]);
    // The answer-size bound, or on a very loaded machine the time bound: either way one error, not 23 MB.
    expect([[['BAD_USER_INPUT', 'response-fields']], [['SERVICE_UNAVAILABLE', 'execution-time']]]).toContainEqual(limits);
    expect(JSON.stringify(res).length).toBeLessThan(8 * 1024 * 1024);
    process.stdout.write(`depth-8 similar straight at catalog: cut after ${seconds.toFixed(1)} s, ${(JSON.stringify(res).length / 1e6).toFixed(1)} MB answered, ${JSON.stringify(limits)}\n`);
    expect((await fetch(catalog.replace(/\/graphql$/, '/health/ready'))).status).toBe(200);
    expect((await asGateway('{ products(first: 1) { totalCount } }')).errors).toBeUndefined();
  });

  it('should refuse too many aliases and a body over 1 MiB', async () => {
    const aliases = await asGateway(`{ ${Array.from({ length: 40 }, (_, i) => `a${i}: products(first: 1) { totalCount }`).join(' ')} }`);
    expect(aliases.status).toBe(400);
    expect(errorCode(aliases as never)).toBe('MAX_ALIASES_LIMIT');
    expect(aliases.errors?.[0]?.extensions?.['limit']).toBe(30);
    expect(aliases.errors?.[0]?.message).toMatch(/aliases/i);
    const big = await asGateway('query($pad: String) { products(first: 1) { totalCount } }', { pad: 'x'.repeat(1_100_000) });
    expect(big.status).toBe(413);
    expect(errorCode(big as never)).toBe('PAYLOAD_TOO_LARGE');
    expect(big.errors?.[0]?.extensions?.['limit']).toBe(1024 * 1024);
    expect((await asGateway('{ products(first: 1) { totalCount } }')).errors).toBeUndefined();
  });
});
