import { EntitySchema } from 'typeorm';

/**
 * TypeORM schemas of the catalog's tables (the migrations are the source of truth; `synchronize`
 * is never on). The repository reads and writes them with SQL and maps rows to domain types in
 * `mappers.ts`; generated columns are read-only here.
 */

/** A category row; `parent_id` builds the tree. */
export interface CategoryRow {
  id: string;
  name: string;
  slug: string;
  parentId: string | null;
  createdAt: Date;
}

/** A product row. Money is `numeric`, read as a string: never a float. */
export interface ProductRow {
  id: string;
  name: string;
  slug: string;
  description: string;
  price: string;
  currencyCode: string;
  categoryId: string;
  imageUrls: string[];
  ratingSum: number;
  reviewCount: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface ReviewRow {
  id: string;
  productId: string;
  authorId: string;
  rating: number;
  comment: string | null;
  createdAt: Date;
}

export interface ProductAvailabilityRow {
  productId: string;
  available: number;
  version: string;
  updatedAt: Date;
}

export interface SearchTermRow {
  term: string;
}

export const CategoryEntity = new EntitySchema<CategoryRow>({
  name: 'Category',
  tableName: 'category',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    name: { type: 'text' },
    slug: { type: 'text', unique: true },
    parentId: { type: 'uuid', name: 'parent_id', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
  },
});

export const ProductEntity = new EntitySchema<ProductRow>({
  name: 'Product',
  tableName: 'product',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    name: { type: 'text' },
    slug: { type: 'text', unique: true },
    description: { type: 'text' },
    price: { type: 'numeric', precision: 12, scale: 2 },
    currencyCode: { type: 'char', length: 3, name: 'currency_code' },
    categoryId: { type: 'uuid', name: 'category_id' },
    imageUrls: { type: 'text', array: true, name: 'image_urls' },
    ratingSum: { type: 'int', name: 'rating_sum', default: 0 },
    reviewCount: { type: 'int', name: 'review_count', default: 0 },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
    deletedAt: { type: 'timestamptz', name: 'deleted_at', nullable: true },
  },
});

export const ReviewEntity = new EntitySchema<ReviewRow>({
  name: 'Review',
  tableName: 'review',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    productId: { type: 'uuid', name: 'product_id' },
    authorId: { type: 'text', name: 'author_id' },
    rating: { type: 'smallint' },
    comment: { type: 'text', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
  },
});

export const ProductAvailabilityEntity = new EntitySchema<ProductAvailabilityRow>({
  name: 'ProductAvailability',
  tableName: 'product_availability',
  columns: {
    productId: { type: 'uuid', primary: true, name: 'product_id' },
    available: { type: 'int' },
    version: { type: 'bigint' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
  },
});

export const SearchTermEntity = new EntitySchema<SearchTermRow>({
  name: 'SearchTerm',
  tableName: 'search_term',
  columns: { term: { type: 'text', primary: true } },
});

export const CATALOG_ENTITIES = [CategoryEntity, ProductEntity, ReviewEntity, ProductAvailabilityEntity, SearchTermEntity];
