/**
 * The domain events that outdate cached answers, followed by every gateway process with a
 * consumer group of its own (as its session deny list does, revocations.ts): every replica and
 * every worker must see every event, because each may hold an in-process store, and marking a
 * shared (Redis) store again is harmless.
 *
 * | event | marks |
 * |---|---|
 * | catalog.product-created.v1 | root lists of catalog (a new product in listings) |
 * | catalog.product-updated.v1 / -deleted.v1 | the product in catalog, root lists of catalog |
 * | catalog.review-added.v1 | the product in catalog (rating, reviews), root lists of catalog (rating order) |
 * | inventory.stock-changed.v1 / low-stock.v1 | the product's stock in inventory, root lists of catalog (the inStock filter) |
 *
 * The group starts at the end of the log: entries are only ever outdated by events that come after
 * them, and a process starts with an empty in-process store (a shared one keeps the marks).
 */
import type { Consumer, EventBus, Logger } from '@shop/platform';
import { histogram, parseEnvelope } from '@shop/platform';
import { CATALOG_PRODUCT_TOPIC, INVENTORY_STOCK_TOPIC, LowStock, ProductCreated, ProductDeleted, ProductUpdated, ReviewAdded, StockChanged } from '@shop/events';
import type { EntityCache } from './entity-cache';

const delay = histogram({
  name: 'gateway_cache_invalidation_delay_seconds',
  help: 'Time from a domain event (its envelope time) to its invalidation in the cache store: how stale a cached answer can be after a change.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

/** Tags of answers derived from another service's events (catalog's lists, from stock). */
const DERIVED_TAGS = new Set(['root:catalog']);
/** When a derived tag is marked again after its event: catalog's consumer lags ours by this much at most, usually. */
export const REMARK_AFTER_MS = [1_000, 5_000];

/** The tags an event outdates, or none for events that change nothing cached. */
export function tagsOf(type: string, data: unknown): string[] {
  const productId = typeof data === 'object' && data !== null && 'productId' in data ? String((data as { productId: unknown }).productId) : undefined;
  switch (type) {
    case ProductCreated.type:
      return ['root:catalog'];
    case ProductUpdated.type:
    case ProductDeleted.type:
    case ReviewAdded.type:
      return productId ? [`catalog:Product:${productId}`, 'root:catalog'] : ['root:catalog'];
    case StockChanged.type:
    case LowStock.type:
      return productId ? [`inventory:Product:${productId}`, 'root:catalog'] : ['root:catalog'];
    default:
      return [];
  }
}

/** A running invalidation feed. */
export interface InvalidationFeed {
  stop(): Promise<void>;
}

/** Follows the catalog and stock topics into `cache`; fresh answers are served while it runs. */
export async function followInvalidations(cache: EntityCache, options: { readonly bus: EventBus; readonly logger: Logger; readonly instanceId?: string }): Promise<InvalidationFeed> {
  const consumer: Consumer = await options.bus.subscribe({
    groupId: `gateway.cache.${options.instanceId ?? Math.random().toString(36).slice(2, 10)}`,
    topics: [CATALOG_PRODUCT_TOPIC, INVENTORY_STOCK_TOPIC],
    fromBeginning: false,
    maxAttempts: 1,
    handle: async (message) => {
      let tags: string[];
      let occurredAt: number;
      let fromStock = false;
      try {
        const envelope = parseEnvelope(message.value);
        tags = tagsOf(envelope.type, envelope.data);
        fromStock = envelope.type === StockChanged.type || envelope.type === LowStock.type;
        occurredAt = Date.parse(envelope.occurredAt);
      } catch (error) {
        // Unreadable: it may have changed anything, so nothing cached before it stays fresh.
        options.logger.error({ err: error, topic: message.topic, offset: message.offset }, 'unreadable event on a cached topic: outdating the whole cache');
        tags = ['*'];
        occurredAt = Number.NaN;
      }
      if (tags.length === 0) return;
      await cache.invalidate(tags);
      // Catalog's lists hold data derived from stock (the inStock filter), which catalog updates
      // when *its* consumer gets the same event, maybe after ours: what a list fetched in between
      // says is outdated too, so those tags are marked again once catalog has had time to catch up.
      const derived = tags.filter((t) => DERIVED_TAGS.has(t));
      if (derived.length && fromStock) for (const ms of REMARK_AFTER_MS) setTimeout(() => void cache.invalidate(derived), ms).unref();
      if (Number.isFinite(occurredAt)) delay.observe(Math.max(0, Date.now() - occurredAt) / 1000);
    },
  });
  cache.follow(true);
  return {
    stop: async () => {
      cache.follow(false);
      await consumer.stop();
    },
  };
}
