import type { Category, Product, Review } from '../domain/types';

/** Column lists with the aliases the mappers read (`p` = product, `c` = category, `r` = review). */
export const PRODUCT_COLUMNS = `p.id, p.name, p.slug, p.description, p.price::text AS price, p.currency_code, p.category_id, p.image_urls,
  p.rating_sum, p.review_count, p.created_at, p.updated_at, p.deleted_at`;
export const CATEGORY_COLUMNS = 'c.id, c.name, c.slug, c.parent_id, c.created_at';
export const REVIEW_COLUMNS = 'r.id, r.product_id, r.author_id, r.rating, r.comment, r.created_at';

type Raw = Record<string, unknown>;

export function toProduct(r: Raw): Product {
  return {
    id: r['id'] as string,
    name: r['name'] as string,
    slug: r['slug'] as string,
    description: r['description'] as string,
    price: { amount: r['price'] as string, currencyCode: (r['currency_code'] as string).trim() },
    categoryId: r['category_id'] as string,
    imageUrls: r['image_urls'] as string[],
    ratingSum: Number(r['rating_sum']),
    reviewCount: Number(r['review_count']),
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
    deletedAt: (r['deleted_at'] as Date | null) ?? null,
  };
}

export function toCategory(r: Raw): Category {
  return {
    id: r['id'] as string,
    name: r['name'] as string,
    slug: r['slug'] as string,
    parentId: (r['parent_id'] as string | null) ?? null,
    createdAt: r['created_at'] as Date,
  };
}

export function toReview(r: Raw): Review {
  return {
    id: r['id'] as string,
    productId: r['product_id'] as string,
    authorId: r['author_id'] as string,
    rating: Number(r['rating']),
    comment: (r['comment'] as string | null) ?? null,
    createdAt: r['created_at'] as Date,
  };
}
