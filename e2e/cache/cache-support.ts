/** Helpers of the cache scenarios (the tests beside and the staleness measurement, e2e/bench/cache). */
import { randomUUID } from 'node:crypto';
import type { RunningGateway } from '@shop/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '@shop/gateway';
import { createLogger } from '@shop/platform';
import { postAsGateway, testRedisUrl } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { postGraphQL } from '../support/harness';
import { sample } from '../subscriptions/support';

const ADMIN = { userId: randomUUID(), roles: ['ADMIN' as const], sessionId: randomUUID(), exp: 9_999_999_999 };

/** One more gateway over the shop's subgraphs and bus, sharing the test Redis (a second replica). */
export function startAnotherGateway(shop: TestShop): Promise<RunningGateway> {
  return startGateway({
    port: 0,
    subgraphUrls: Object.fromEntries(Object.entries(shop.supergraph.services).map(([name, s]) => [name, s.url])),
    internalAuthSecret: shop.internalAuthSecret,
    verifier: jwtVerifier(shop.jwtSecret, new SessionRevocations()),
    bus: shop.bus,
    redisUrl: testRedisUrl(),
    nodeEnv: 'test',
    logger: createLogger('gateway-b', 'silent'),
  });
}

/**
 * An admin operation sent straight to a subgraph, signed as the gateway would: no gateway sees it,
 * so only its events can tell the gateways' caches.
 */
export function asAdmin(shop: TestShop, audience: 'catalog' | 'inventory', query: string, variables: Record<string, unknown>): ReturnType<typeof postAsGateway> {
  return postAsGateway(shop.supergraph.services[audience].url, { secret: shop.internalAuthSecret, audience, query, variables, identity: ADMIN });
}

/** A product's page as a storefront reads it: catalog's fields and inventory's stock, each cached under its own hints. */
export const PRODUCT_PAGE = 'query ($id: ID!) { product(id: $id) { id name price { amount } inventory { available } } }';

/** What {@link PRODUCT_PAGE} answers (and any query of the same fields beside others). */
export interface ProductPage {
  id: string;
  name: string;
  price: { amount: string };
  inventory: { available: number };
}

/** Throws with the GraphQL errors of `what`, so that a failed read or change fails the test where it happened. */
function withoutErrors<T extends { errors?: unknown }>(what: string, res: T): T {
  if (res.errors !== undefined) throw new Error(`${what} answered errors: ${JSON.stringify(res.errors)}`);
  return res;
}

/** `product(id: productId)` through the gateway at `url`, asked with `query` (default {@link PRODUCT_PAGE}); throws on errors. */
export async function readProduct(url: string, productId: string, query = PRODUCT_PAGE): Promise<ProductPage> {
  return withoutErrors('product', await postGraphQL<{ product: ProductPage }>(url, query, { id: productId })).data!.product;
}

/** Changes the product's stock by `delta` at inventory, as an admin (no gateway sees it): the units available after. */
export async function adjustStock(shop: TestShop, productId: string, delta: number): Promise<number> {
  const mutation = 'mutation ($id: ID!, $delta: Int!) { adjustInventory(productId: $id, delta: $delta, reason: "cache test") { available } }';
  return withoutErrors('adjustInventory', await asAdmin(shop, 'inventory', mutation, { id: productId, delta })).data.adjustInventory.available as number;
}

/** Sets the product's price at catalog, as an admin (no gateway sees it). */
export async function setPrice(shop: TestShop, productId: string, price: string): Promise<void> {
  const mutation = 'mutation ($id: ID!, $price: Decimal!) { updateProduct(id: $id, input: { price: $price }) { price { amount } } }';
  withoutErrors('updateProduct', await asAdmin(shop, 'catalog', mutation, { id: productId, price }));
}

/** One sample of this gateway process's /metrics, summed over the series matching `labels` (0 before the first). */
async function gatewaySample(gatewayUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sample(await (await fetch(gatewayUrl.replace(/\/graphql$/, '/metrics'))).text(), name, labels);
}

/** Invalidation events this gateway process has handled (its histogram's count). */
export function invalidationsHandled(gatewayUrl: string): Promise<number> {
  return gatewaySample(gatewayUrl, 'gateway_cache_invalidation_delay_seconds_count');
}

/** Whole answers this gateway process served from its cache so far. */
export function wholeAnswerHits(gatewayUrl: string): Promise<number> {
  return gatewaySample(gatewayUrl, 'gateway_cache_lookups_total', { service: 'gateway', result: 'hit' });
}

/** The count of invalidation events once it has not moved for a second (no event in flight). */
export async function settledInvalidations(gatewayUrl: string): Promise<number> {
  let last = await invalidationsHandled(gatewayUrl);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = await invalidationsHandled(gatewayUrl);
    if (now === last) return now;
    last = now;
  }
}
