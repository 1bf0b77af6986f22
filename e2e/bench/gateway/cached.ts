/**
 * The benchmark's "cache on" scenario, `ours-cached`: our gateway with its entity cache serving
 * (the in-process store, as `npm start` runs it), on the same stubs, query and unique
 * `Authorization` per request as the uncached rows. The listing's public parts (the catalog root
 * fetch and the 20 stock levels) come from the cache; the user-bound parts (authors' order counts,
 * the users fetch) are still fetched on every request.
 *
 * Fresh answers need a followed invalidation feed; the stubs never change, so the feed here is a
 * bus that never delivers anything (no Kafka in the benchmark). Invalidation latency is measured on
 * the real stack instead (e2e/cache/cache-invalidation.test.ts, docs/notes/gateway-cache.md).
 */
import type { BusMessage, Consumer, EventBus, OutgoingMessage } from '@shop/platform';
import type { GatewaySettings } from '@shop/gateway';

/** The benchmark's workloads: the nested `listing` (workload.ts) or anonymous-style `browsing`. */
export const WORKLOADS = ['listing', 'browsing'] as const;
export type Workload = (typeof WORKLOADS)[number];

/**
 * Storefront browsing: 20 products with price, rating and stock, nothing bound to a user (every
 * fetch public by the cache hints: the catalog list and the 20 stock levels).
 */
export const BROWSING_QUERY = `query StorefrontBrowsing {
  products(first: 20) {
    totalCount
    edges { node { id name slug price { amount currencyCode } rating reviewCount inventory { available isLowStock } } }
  }
}`;

/** The request body of `browsing`. */
export const BROWSING_BODY = JSON.stringify({ query: BROWSING_QUERY, operationName: 'StorefrontBrowsing' });

/** Checks a `browsing` answer (20 products, each with stock, no error); the reason when not. */
export function browsingProblem(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { data?: { products?: { edges?: Array<{ node?: { inventory?: unknown } }> } }; errors?: unknown };
    if (parsed.errors) return `errors: ${JSON.stringify(parsed.errors).slice(0, 300)}`;
    const edges = parsed.data?.products?.edges ?? [];
    if (edges.length !== 20) return `${edges.length} products, not 20`;
    return edges.every((e) => e.node?.inventory) ? null : 'a product without stock';
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
}

/** A bus with no events: the stubs' data never changes. */
class QuietBus implements EventBus {
  readonly kind = 'in-process' as const;
  publish(_messages: readonly OutgoingMessage[]): Promise<void> {
    return Promise.resolve();
  }
  subscribe(_spec: { handle(message: BusMessage): Promise<void> }): Promise<Consumer> {
    return Promise.resolve({ stop: () => Promise.resolve() });
  }
  isReady(): Promise<boolean> {
    return Promise.resolve(true);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What `ours-cached` adds to ours' settings. */
export function cachedGatewaySettings(): Pick<GatewaySettings, 'bus' | 'cache'> {
  return { bus: new QuietBus(), cache: { enabled: true } };
}
