import { badUserInput } from '@shop/platform';
import { compareAmounts, parseAmount, parseCurrency } from './money';
import { searchWords } from './search-query';
import type { ProductFilter, ProductFilterInput } from './types';

/** Longest product name, in characters. */
export const MAX_NAME_LENGTH = 200;
/** Longest product description, in characters. */
export const MAX_DESCRIPTION_LENGTH = 10_000;
/** Longest category name, in characters. */
export const MAX_CATEGORY_NAME_LENGTH = 100;
/** Most image URLs per product. */
export const MAX_IMAGES = 20;
export const MAX_IMAGE_URL_LENGTH = 2048;
/** Largest initial stock or low-stock threshold accepted. */
export const MAX_STOCK = 1_000_000_000;
/** Longest search text, in characters. */
export const MAX_SEARCH_LENGTH = 200;

export interface CreateProductInput {
  readonly name: string;
  readonly description: string;
  readonly price: unknown;
  readonly currencyCode?: string | null;
  readonly categoryId: string;
  readonly imageUrls?: readonly string[] | null;
  readonly initialStock?: number | null;
  readonly lowStockThreshold?: number | null;
}

/** A validated new product (the category's existence is checked by the service). */
export interface NewProduct {
  readonly name: string;
  readonly description: string;
  readonly price: string;
  readonly currencyCode: string;
  readonly categoryId: string;
  readonly imageUrls: readonly string[];
  readonly initialStock: number;
  readonly lowStockThreshold: number;
}

export interface UpdateProductInput {
  readonly name?: string | null;
  readonly description?: string | null;
  readonly price?: unknown;
  readonly categoryId?: string | null;
  readonly imageUrls?: readonly string[] | null;
}

/** A validated change: only the fields present are changed. */
export interface ProductChanges {
  readonly name?: string;
  readonly description?: string;
  readonly price?: string;
  readonly categoryId?: string;
  readonly imageUrls?: readonly string[];
}

/** A name or description: trimmed, not empty (names), at most `max` characters, no control characters. */
export function validateText(field: string, value: unknown, max: number, { allowEmpty = false } = {}): string {
  if (typeof value !== 'string') throw badUserInput(field, `${field} must be a string.`);
  const text = value.trim();
  if (!allowEmpty && text === '') throw badUserInput(field, `${field} must not be empty.`);
  if ([...text].length > max) throw badUserInput(field, `${field} must be at most ${max} characters.`);
  // Newlines and tabs are fine in descriptions; other control characters are never intended.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) throw badUserInput(field, `${field} contains control characters.`);
  return text;
}

export function validateImageUrls(field: string, urls: readonly string[] | null | undefined): string[] {
  const list = urls ?? [];
  if (list.length > MAX_IMAGES) throw badUserInput(field, `${field} has at most ${MAX_IMAGES} URLs.`);
  return list.map((raw, i) => {
    const url = raw.trim();
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || url.length > MAX_IMAGE_URL_LENGTH) {
      throw badUserInput(`${field}.${i}`, `${field}[${i}] must be an http(s) URL of at most ${MAX_IMAGE_URL_LENGTH} characters.`);
    }
    return url;
  });
}

function validateCount(field: string, value: number | null | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > MAX_STOCK) throw badUserInput(field, `${field} must be an integer from 0 to ${MAX_STOCK}.`);
  return n;
}

/** Validates `createProduct(input:)`; errors name the field (`input.price`, `input.name`…). */
export function validateNewProduct(input: CreateProductInput): NewProduct {
  return {
    name: validateText('input.name', input.name, MAX_NAME_LENGTH),
    description: validateText('input.description', input.description, MAX_DESCRIPTION_LENGTH, { allowEmpty: true }),
    price: parseAmount('input.price', input.price),
    currencyCode: parseCurrency('input.currencyCode', input.currencyCode),
    categoryId: input.categoryId,
    imageUrls: validateImageUrls('input.imageUrls', input.imageUrls),
    initialStock: validateCount('input.initialStock', input.initialStock, 0),
    lowStockThreshold: validateCount('input.lowStockThreshold', input.lowStockThreshold, 5),
  };
}

/** Validates `updateProduct(input:)`: absent fields stay as they are; an explicit null is refused. */
export function validateProductChanges(input: UpdateProductInput): ProductChanges {
  const present = (key: keyof UpdateProductInput): boolean => {
    if (!(key in input) || input[key] === undefined) return false;
    if (input[key] === null) throw badUserInput(`input.${key}`, `input.${key} cannot be null; leave it out to keep the current value.`);
    return true;
  };
  return {
    ...(present('name') ? { name: validateText('input.name', input.name, MAX_NAME_LENGTH) } : {}),
    ...(present('description') ? { description: validateText('input.description', input.description, MAX_DESCRIPTION_LENGTH, { allowEmpty: true }) } : {}),
    ...(present('price') ? { price: parseAmount('input.price', input.price) } : {}),
    ...(present('categoryId') ? { categoryId: input.categoryId! } : {}),
    ...(present('imageUrls') ? { imageUrls: validateImageUrls('input.imageUrls', input.imageUrls) } : {}),
  };
}

/** Validates `products(filter:)`; errors name `filter.<field>`. An empty search is no search. */
export function validateFilter(input: ProductFilterInput | null | undefined): ProductFilter {
  const f = input ?? {};
  const search = f.search ?? '';
  if ([...search].length > MAX_SEARCH_LENGTH) throw badUserInput('filter.search', `filter.search must be at most ${MAX_SEARCH_LENGTH} characters.`);
  const minPrice = f.minPrice === undefined || f.minPrice === null ? null : parseAmount('filter.minPrice', f.minPrice);
  const maxPrice = f.maxPrice === undefined || f.maxPrice === null ? null : parseAmount('filter.maxPrice', f.maxPrice);
  if (minPrice !== null && maxPrice !== null && compareAmounts(minPrice, maxPrice) > 0) {
    throw badUserInput('filter.maxPrice', 'filter.maxPrice must not be below filter.minPrice.');
  }
  const minRating = f.minRating ?? null;
  if (minRating !== null && (!Number.isFinite(minRating) || minRating < 0 || minRating > 5)) {
    throw badUserInput('filter.minRating', 'filter.minRating must be between 0 and 5.');
  }
  const slug = f.categorySlug?.trim() || null;
  return {
    searchWords: searchWords(search),
    categorySlug: slug,
    minPrice,
    maxPrice,
    minRating,
    inStock: f.inStock ?? null,
  };
}

/** Validates a `first` argument: 0..max, else BAD_USER_INPUT on `field`. */
export function validateFirst(field: string, first: number, max: number): number {
  if (!Number.isInteger(first) || first < 0 || first > max) throw badUserInput(field, `${field} must be between 0 and ${max}.`);
  return first;
}
