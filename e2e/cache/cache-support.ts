/** Helpers of the cache scenarios (the tests beside and the staleness measurement, e2e/bench/cache). */
import { randomUUID } from 'node:crypto';
import type { RunningGateway } from '@shop/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '@shop/gateway';
import { createLogger } from '@shop/platform';
import { postAsGateway, testRedisUrl } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';

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

/** Invalidation events this gateway process has handled (its histogram's count). */
export async function invalidationsHandled(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith('gateway_cache_invalidation_delay_seconds_count'));
  return line ? Number(line.split(' ').pop()) : 0;
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
