import { z } from 'zod';
import { defineEvent } from './definition';
import { id, money } from './common';

/** Every product event, keyed by product id. */
export const CATALOG_PRODUCT_TOPIC = 'catalog.product';

export const ProductCreated = defineEvent(
  'catalog.product-created.v1',
  CATALOG_PRODUCT_TOPIC,
  z.object({
    productId: id,
    name: z.string(),
    slug: z.string(),
    price: money,
    categoryId: id,
    initialStock: z.number().int().min(0),
    lowStockThreshold: z.number().int().min(0),
  }),
);

export const ProductUpdated = defineEvent(
  'catalog.product-updated.v1',
  CATALOG_PRODUCT_TOPIC,
  z.object({ productId: id, name: z.string(), slug: z.string(), price: money, categoryId: id }),
);

export const ProductDeleted = defineEvent('catalog.product-deleted.v1', CATALOG_PRODUCT_TOPIC, z.object({ productId: id }));

/**
 * A category was created (keyed by its id, on the product topic that every reader of catalog's
 * changes follows). Published in the creating transaction: the gateways' caches outdate catalog's
 * lists (`categories` and the category tree) on it, every replica, not only the one the admin used.
 */
export const CategoryCreated = defineEvent(
  'catalog.category-created.v1',
  CATALOG_PRODUCT_TOPIC,
  z.object({ categoryId: id, name: z.string(), slug: z.string(), parentId: id.nullable() }),
);

/** A review was added: the product's rating and review count changed (the gateway's cache outdates it). */
export const ReviewAdded = defineEvent(
  'catalog.review-added.v1',
  CATALOG_PRODUCT_TOPIC,
  z.object({ productId: id, reviewId: id, rating: z.number().int().min(1).max(5) }),
);

/**
 * The catalog's own read model of availability changed: a product came into stock or went out of
 * it (what `products(filter: { inStock })` and the facets' in-stock count read). Published in the
 * transaction that applies inventory's stock event, so that a reader of the catalog's lists (the
 * gateway's cache) learns of the change only once the lists already show it.
 */
export const ProductAvailabilityChanged = defineEvent(
  'catalog.product-availability-changed.v1',
  CATALOG_PRODUCT_TOPIC,
  z.object({ productId: id, inStock: z.boolean() }),
);

/**
 * The catalog's discovery read models moved for these products (a confirmed order counted: their
 * bought-together partners, units sold and so popularity). Published in the transaction that
 * counts the order, so a reader that outdates its copies on it (the gateway's cache) never keeps
 * a `frequentlyBoughtTogether` or a popularity order from before the order counted.
 */
export const ProductDiscoveryChanged = defineEvent(
  'catalog.product-discovery-changed.v1',
  CATALOG_PRODUCT_TOPIC,
  z.object({ productIds: z.array(id).min(1) }),
);
