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

/** A review was added: the product's rating and review count changed (the gateway's cache outdates it). */
export const ReviewAdded = defineEvent(
  'catalog.review-added.v1',
  CATALOG_PRODUCT_TOPIC,
  z.object({ productId: id, reviewId: id, rating: z.number().int().min(1).max(5) }),
);
