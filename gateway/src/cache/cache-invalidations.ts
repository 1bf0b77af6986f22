/**
 * The domain events that outdate cached answers, followed by every gateway process with a
 * consumer group of its own (as its session deny list does, revocations.ts): every replica and
 * every worker must see every event, because each may hold an in-process store, and marking a
 * shared (Redis) store again is harmless.
 *
 * Each event marks exactly the entities it changed (entries hold the tags of the entities they
 * were built from, entity-cache.ts), and the lists of a service where their membership or order
 * may change:
 *
 * | event | marks |
 * |---|---|
 * | catalog.product-created.v1 / -updated.v1 / -deleted.v1 | the product in catalog, catalog's lists (a new, renamed, repriced or gone product in listings and searches) |
 * | catalog.review-added.v1 | the product in catalog (rating, reviews), catalog's lists (rating order and filter) |
 * | catalog.product-availability-changed.v1 | catalog's lists (the inStock filter and facet): published by catalog once *its* read model changed, so a list fetched before it is outdated, one fetched after it already shows the change |
 * | catalog.category-created.v1 | catalog's lists (`categories`, a `category(slug)` that found nothing), the parent category (its children): every replica, not only the one whose mutation marked `svc:catalog` |
 * | catalog.product-discovery-changed.v1 | each product whose bought-together partners a confirmed order moved: published by catalog in the transaction that counted the order. Not the lists: that would empty the list cache at checkout rates; suggestions ranked by popularity lag by their TTL |
 * | inventory.stock-changed.v1 / low-stock.v1 | the product's stock in inventory |
 * | users.user-updated.v1 / users.account-erased.v1 | the account in users (its public username and createdAt, cached under review authors): every update, whichever fields it names, so a field made public later is covered too |
 *
 * Erasure is the case that matters: once its event is delivered, no cached answer shows the
 * erased account's username (users answers the "deleted user" placeholder, or catalog the
 * anonymous author id it wrote instead).
 *
 * The group starts at the end of the log: entries are only ever outdated by events that come after
 * them, and a process starts with an empty in-process store (a shared one keeps the marks).
 */
import type { Consumer, EventBus, Logger } from '@shop/platform';
import { histogram, parseEnvelope } from '@shop/platform';
import { AccountErased, CATALOG_PRODUCT_TOPIC, CategoryCreated, INVENTORY_STOCK_TOPIC, LowStock, ProductAvailabilityChanged, ProductCreated, ProductDeleted, ProductDiscoveryChanged, ProductUpdated, ReviewAdded, StockChanged, UserUpdated, USERS_USER_TOPIC } from '@shop/events';
import { ALL_TAG } from './cache-store';
import type { EntityCache } from './entity-cache';
import { entityTag, listTag } from './entity-cache';

const delay = histogram({
  name: 'gateway_cache_invalidation_delay_seconds',
  help: 'Time from a domain event (its envelope time) to its invalidation in the cache store: how stale a cached answer can be after a change.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

/** The tags an event outdates, or none for events that change nothing cached. */
export function tagsOf(type: string, data: unknown): string[] {
  const productId = idIn(data, 'productId');
  const known = productId !== undefined;
  switch (type) {
    case ProductCreated.type:
    case ProductUpdated.type:
    case ProductDeleted.type:
    case ReviewAdded.type:
      return known ? [entityTag('catalog', 'Product', productId), listTag('catalog')] : [ALL_TAG];
    case ProductAvailabilityChanged.type:
      return [listTag('catalog')];
    case CategoryCreated.type: {
      // The lists (`categories`, a `category(slug)` that found nothing before) and the parent's children.
      const parentId = idIn(data, 'parentId');
      return parentId === undefined ? [listTag('catalog')] : [listTag('catalog'), entityTag('catalog', 'Category', parentId)];
    }
    case ProductDiscoveryChanged.type: {
      const ids = typeof data === 'object' && data !== null && 'productIds' in data ? (data as { productIds: unknown }).productIds : undefined;
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x): x is string => typeof x === 'string' && x.length > 0)) return [ALL_TAG];
      return ids.map((x) => entityTag('catalog', 'Product', x));
    }
    case StockChanged.type:
    case LowStock.type:
      return known ? [entityTag('inventory', 'Product', productId)] : [ALL_TAG];
    case UserUpdated.type:
    case AccountErased.type: {
      const userId = idIn(data, 'userId');
      return userId !== undefined ? [entityTag('users', 'User', userId)] : [ALL_TAG];
    }
    default:
      return [];
  }
}

/** The non-empty string id `data[field]`, or undefined. */
function idIn(data: unknown, field: string): string | undefined {
  const value = typeof data === 'object' && data !== null && field in data ? (data as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A running invalidation feed. */
export interface InvalidationFeed {
  stop(): Promise<void>;
}

/** Follows the catalog, stock and user topics into `cache`; fresh answers are served while it runs. */
export async function followInvalidations(cache: EntityCache, options: { readonly bus: EventBus; readonly logger: Logger; readonly instanceId?: string }): Promise<InvalidationFeed> {
  const consumer: Consumer = await options.bus.subscribe({
    groupId: `gateway.cache.${options.instanceId ?? Math.random().toString(36).slice(2, 10)}`,
    topics: [CATALOG_PRODUCT_TOPIC, INVENTORY_STOCK_TOPIC, USERS_USER_TOPIC],
    fromBeginning: false,
    maxAttempts: 1,
    handle: async (message) => {
      let tags: string[];
      let occurredAt: number;
      try {
        const envelope = parseEnvelope(message.value);
        tags = tagsOf(envelope.type, envelope.data);
        occurredAt = Date.parse(envelope.occurredAt);
      } catch (error) {
        // Unreadable: it may have changed anything, so nothing cached before it stays fresh.
        options.logger.error({ err: error, topic: message.topic, offset: message.offset }, 'unreadable event on a cached topic: outdating the whole cache');
        tags = [ALL_TAG];
        occurredAt = Number.NaN;
      }
      if (tags.length === 0) return;
      await cache.invalidate(tags);
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
