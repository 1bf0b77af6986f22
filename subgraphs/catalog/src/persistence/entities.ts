import { EntitySchema } from 'typeorm';

/** A category row; `parentId` builds the tree. */
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
