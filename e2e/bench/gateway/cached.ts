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
