/**
 * The own executor of the query plans (GATEWAY_EXECUTOR=own, gateway/src/execution/) against
 * @apollo/gateway's, over one real shop (four subgraphs, seeded): the shop's storefront and account
 * operations, the benchmark's listing, error cases and nulls sent to two gateways over the same
 * subgraphs, one per executor, signed in and anonymous; the HTTP status and the body bytes must be
 * the same. (gateway/tests/own-executor.test.ts covers what the shop's schema lacks: interfaces,
 * unions, failing non-null fields, a subgraph that is down.)
 */
import { jwtVerifier, SessionRevocations, startGateway } from '@shop/gateway';
import type { RunningGateway } from '@shop/gateway';
import { createLogger } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';

const LISTING = `query StorefrontListing {
  products(first: 20) { totalCount edges { node { id name price { amount currencyCode } inventory { available isLowStock }
    reviews(first: 3) { edges { node { id rating author { id username orders(first: 1) { totalCount } } } } } } } }
}`;

/** [name, query, variables?, signed in?] */
const CORPUS: Array<{ name: string; query: string; variables?: Record<string, unknown>; signedIn?: boolean }> = [
  { name: 'the benchmark listing (four subgraphs)', query: LISTING },
  { name: 'the benchmark listing, signed in', query: LISTING, signedIn: true },
  { name: 'the demo query', query: '{ products(first: 3) { edges { node { name price { amount currencyCode } inventory { available } } } } }' },
  { name: 'a product page with reviews, similar products and stock', query: 'query P($first: Int) { products(first: $first) { edges { cursor node { id slug name description rating reviewCount category { id name slug } imageUrls similar(first: 3) { id name price { amount } inventory { available } } reviews(first: 5) { totalCount pageInfo { hasNextPage endCursor } edges { node { rating comment createdAt author { username } } } } } } pageInfo { hasNextPage } } }', variables: { first: 5 } },
  { name: 'categories', query: '{ categories { id name slug } }' },
  { name: 'filtered search', query: 'query S($f: ProductFilter) { products(filter: $f, sort: PRICE_ASC, first: 10) { totalCount edges { node { name price { amount } inventory { available } } } } }', variables: { f: { inStock: true, minPrice: '1.00' } } },
  { name: 'aliases, __typename, fragments and @include/@skip', query: 'query A($withStock: Boolean!, $noReviews: Boolean = true) { first: products(first: 2) { edges { node { ...Card t: __typename stock: inventory @include(if: $withStock) { available } reviews(first: 1) @skip(if: $noReviews) { totalCount } } } } second: products(first: 1, sort: NEWEST) { edges { node { ... on Product { id __typename } } } } } fragment Card on Product { id label: name price { amount } }', variables: { withStock: true } },
  { name: 'the same, conditions the other way', query: 'query A($withStock: Boolean!, $noReviews: Boolean = true) { first: products(first: 2) { edges { node { ...Card t: __typename stock: inventory @include(if: $withStock) { available } reviews(first: 1) @skip(if: $noReviews) { totalCount } } } } second: products(first: 1, sort: NEWEST) { edges { node { ... on Product { id __typename } } } } } fragment Card on Product { id label: name price { amount } }', variables: { withStock: false, noReviews: false } },
  { name: 'me when anonymous (null)', query: '{ me { id username } }' },
  { name: 'me signed in as nobody known', query: '{ me { id username orders(first: 1) { totalCount } } }', signedIn: true },
  { name: 'an unknown product (null)', query: '{ product(id: "00000000-0000-4000-8000-000000000000") { id name inventory { available } } }' },
  { name: 'a malformed id (BAD_USER_INPUT from a subgraph)', query: '{ product(id: "not-a-uuid") { id } }' },
  { name: 'too many products (BAD_USER_INPUT)', query: '{ products(first: 1000) { totalCount } }' },
  { name: 'an admin field as a customer (FORBIDDEN)', query: '{ lowStock { available } }', signedIn: true },
  { name: 'an admin field anonymous (UNAUTHENTICATED)', query: '{ orders { totalCount } }' },
  { name: 'a variable of the wrong type', query: 'query ($first: Int) { products(first: $first) { totalCount } }', variables: { first: 'many' } },
  { name: 'only __typename', query: '{ __typename }' },
  { name: 'introspection', query: '{ __type(name: "Product") { name fields { name } } }' },
];

describe('the own executor against @apollo/gateway over a real shop', () => {
  let shop: TestShop;
  let apollo: RunningGateway;
  let own: RunningGateway;
  let token: string;

  beforeAll(async () => {
    shop = await startTestShop({ seed: true });
    const gatewayWith = (executor: 'apollo' | 'own') =>
      startGateway({
        port: 0,
        subgraphUrls: Object.fromEntries(Object.entries(shop.supergraph.services).map(([name, s]) => [name, s.url])),
        internalAuthSecret: shop.internalAuthSecret,
        verifier: jwtVerifier(shop.jwtSecret, new SessionRevocations()),
        nodeEnv: 'test',
        logger: createLogger('gateway', process.env['LOG_LEVEL'] ?? 'silent'),
        // Neither answers from a cache nor shares executions: every request runs its executor.
        cache: { enabled: false },
        coalescing: { enabled: false },
        executor,
      });
    apollo = await gatewayWith('apollo');
    own = await gatewayWith('own');
    token = await shop.tokenFor({});
    // Stock records open from catalog's events: wait until the listing has stock everywhere.
    await eventually(async () => {
      const res = await shop.gql('{ products(first: 20) { edges { node { inventory { available } } } } }');
      return res.errors === undefined && (res.data?.products.edges.length ?? 0) > 0 ? true : null;
    }, 60_000);
  });

  afterAll(async () => {
    await own?.stop();
    await apollo?.stop();
    await shop?.stop();
  });

  const post = async (url: string, query: string, variables: Record<string, unknown> | undefined, signedIn: boolean) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(signedIn ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query, variables }) });
    return { status: res.status, body: await res.text() };
  };

  it.each(CORPUS)('should answer $name with the same status and body bytes', async ({ query, variables, signedIn }) => {
    for (let round = 0; round < 2; round++) {
      const expected = await post(apollo.url, query, variables, signedIn ?? false);
      const actual = await post(own.url, query, variables, signedIn ?? false);
      expect(actual).toEqual(expected);
      expect(Object.keys(JSON.parse(actual.body) as object).some((k) => k === 'data' || k === 'errors')).toBe(true);
    }
  });

  it('should answer the listing with data from all four subgraphs', async () => {
    const body = JSON.parse((await post(own.url, LISTING, undefined, false)).body) as { data: { products: { edges: Array<{ node: { inventory: { available: number }; reviews: { edges: unknown[] } } }> } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data.products.edges.length).toBeGreaterThan(0);
    expect(body.data.products.edges.every((e) => Number.isInteger(e.node.inventory.available))).toBe(true);
  });
});
