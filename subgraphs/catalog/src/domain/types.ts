/** The catalog's domain types: plain data, no ORM. */

/** An exact amount: `amount` is a decimal string ("29.99"), never a float. */
export interface Money {
  readonly amount: string;
  /** ISO-4217, e.g. "USD". */
  readonly currencyCode: string;
}

export interface Category {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
  readonly parentId: string | null;
  readonly createdAt: Date;
}

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
  readonly description: string;
  readonly price: Money;
  readonly categoryId: string;
  readonly imageUrls: readonly string[];
  /** Sum of all review ratings; with `reviewCount` it gives the average without reading the reviews. */
  readonly ratingSum: number;
  readonly reviewCount: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Set when an admin deleted the product: it leaves listings but still resolves by id (past orders). */
  readonly deletedAt: Date | null;
}

export interface Review {
  readonly id: string;
  readonly productId: string;
  readonly authorId: string;
  /** 1..5 */
  readonly rating: number;
  readonly comment: string | null;
  readonly createdAt: Date;
}

export const PRODUCT_SORTS = ['RELEVANCE', 'PRICE_ASC', 'PRICE_DESC', 'RATING_DESC', 'NEWEST'] as const;
export type ProductSort = (typeof PRODUCT_SORTS)[number];

/** `products(filter:)` as received (GraphQL input, not yet validated). */
export interface ProductFilterInput {
  readonly search?: string | null;
  readonly categorySlug?: string | null;
  readonly minPrice?: unknown;
  readonly maxPrice?: unknown;
  readonly minRating?: number | null;
  readonly inStock?: boolean | null;
}

/** A validated filter: prices are normalised decimal strings, the search is split into words. */
export interface ProductFilter {
  /** Lower-case search words (empty: no search). */
  readonly searchWords: readonly string[];
  readonly categorySlug: string | null;
  readonly minPrice: string | null;
  readonly maxPrice: string | null;
  readonly minRating: number | null;
  readonly inStock: boolean | null;
}

/** A page of items and whether there are more after it. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly hasNextPage: boolean;
}
