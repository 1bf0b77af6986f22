import { CategoryCreated, ProductCreated, ProductDeleted, ProductUpdated, ReviewAdded } from '@shop/events';
import type { ServiceDeps } from '@shop/platform';
import { badUserInput, conflict, notFound } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import { decodeCursor, encodeCursor, queryFingerprint } from './domain/cursor';
import { validateComment, validateRating } from './domain/rating';
import type { CreateProductInput, NewProduct, UpdateProductInput } from './domain/product-rules';
import { MAX_CATEGORY_NAME_LENGTH, validateFilter, validateFirst, validateNewProduct, validateProductChanges, validateText } from './domain/product-rules';
import { buildTsQuery, correctableWords, pickAlternatives } from './domain/search-query';
import { firstFreeSlug, slugify } from './domain/slug';
import type { Category, Product, ProductFilterInput, ProductSort, Review } from './domain/types';
import type { CatalogLoaders } from './loaders';
import { searchDuration, searchResults } from './metrics';
import type { CatalogRepository, Positioned } from './persistence/catalog.repository';
import type { DiscoveryRepository, Facets } from './persistence/discovery.repository';
import { isUuid } from './persistence/catalog.repository';
import type { ProductQuerySpec } from './persistence/product-query';
import { CATEGORY_PAGE_KEY_KINDS, effectiveSort, sortKeyKinds } from './persistence/product-query';

/** Largest `first` of any catalog connection. */
export const MAX_PAGE_SIZE = 100;
/** Largest `similar(first:)`. */
export const MAX_SIMILAR = 20;

/** A Relay-style connection; `totalCount` is a thunk, so the count query runs only when a client selects it. */
export interface Connection<T> {
  readonly edges: ReadonlyArray<{ readonly cursor: string; readonly node: T }>;
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
  readonly totalCount: () => Promise<number> | number;
  /** Facet counts over the whole filtered result (ProductConnection only): a thunk, run only when selected. */
  readonly facets?: () => Promise<Facets>;
}

export interface ProductsArgs {
  readonly filter?: ProductFilterInput | null;
  readonly sort?: ProductSort | null;
  readonly first?: number | null;
  readonly after?: string | null;
}

export interface PageArgs {
  readonly first?: number | null;
  readonly after?: string | null;
}

function connection<T>(rows: ReadonlyArray<Positioned<T>>, first: number, fingerprint: string, totalCount: () => Promise<number> | number): Connection<T> {
  const page = rows.slice(0, first);
  const edges = page.map((r) => ({ cursor: encodeCursor(fingerprint, r.position), node: r.item }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
}

/**
 * totalCount and facets of one query, both lazy: when a client selects both, the count is the
 * facets' total (one statement instead of two). Sibling fields' resolvers all run before the next
 * turn of the event loop, so the count waits one turn to learn whether the facets were asked for.
 */
function countAndFacets(count: () => Promise<number>, facets: () => Promise<Facets>): { totalCount: () => Promise<number>; facets: () => Promise<Facets> } {
  let facetsPromise: Promise<Facets> | undefined;
  const facetsOnce = () => (facetsPromise ??= facets());
  const totalCount = once(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return facetsPromise ? (await facetsPromise).total : count();
  });
  return { totalCount, facets: facetsOnce };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/** Postgres unique violation on one of the slug columns (a concurrent creation took the slug first). */
function isSlugRace(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e.code ?? e.driverError?.code;
  const constraint = e.constraint ?? e.driverError?.constraint;
  return code === '23505' && (constraint === 'product_slug_key' || constraint === 'category_slug_key');
}

function isDuplicateCategoryName(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  return (e.code ?? e.driverError?.code) === '23505' && (e.constraint ?? e.driverError?.constraint) === 'category_name_per_parent';
}

/**
 * What the catalog can do: list and search products, manage categories and products (each change
 * and its event in one transaction), take reviews. Built per request around its DataLoaders.
 */
export class CatalogService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: CatalogRepository,
    private readonly loaders: CatalogLoaders,
    private readonly discovery: DiscoveryRepository,
  ) {}

  // ------------------------------------------------------------------ reading

  /** `products(filter, sort, first, after)`: every filter and the sort at once, keyset-paginated. */
  async products(args: ProductsArgs): Promise<Connection<Product>> {
    const filter = validateFilter(args.filter);
    const first = validateFirst('first', args.first ?? 20, MAX_PAGE_SIZE);
    const kind = filter.searchWords.length > 0 ? 'search' : 'browse';
    // The tsquery text is known only after spelling correction; the sort plan needs only whether there is one.
    const shape: ProductQuerySpec = { filter, sort: args.sort ?? 'RELEVANCE', tsquery: kind === 'search' ? '' : null };
    const sort = effectiveSort(shape);
    const fingerprint = queryFingerprint({ filter, sort });
    const after = decodeCursor('after', args.after, fingerprint, sortKeyKinds(shape));
    const end = searchDuration.startTimer({ kind, sort });
    let tsquery: string | null = null;
    if (kind === 'search') {
      const candidates = await this.repo.spellingCandidates(correctableWords(filter.searchWords));
      tsquery = buildTsQuery(filter.searchWords, pickAlternatives(candidates));
    }
    const spec: ProductQuerySpec = { ...shape, tsquery };
    const rows = await this.repo.pageProducts(spec, after, first + 1);
    end();
    searchResults.observe({ kind }, Math.min(rows.length, first));
    for (const r of rows) this.loaders.product.prime(r.item.id, r.item);
    const { totalCount, facets } = countAndFacets(() => this.repo.countProducts(spec), () => this.discovery.facets(spec));
    return { ...connection(rows, first, fingerprint, totalCount), facets };
  }

  /** A live product, or null (unknown or deleted). */
  async product(id: string): Promise<Product | null> {
    const p = await this.loaders.product.load(id);
    return p && !p.deletedAt ? p : null;
  }

  /** A category by slug, or null. */
  async categoryBySlug(slug: string): Promise<Category | null> {
    return this.repo.findCategoryBySlug(slug.trim());
  }

  async categories(): Promise<Category[]> {
    const all = await this.repo.allCategories();
    for (const c of all) this.loaders.category.prime(c.id, c);
    return all;
  }

  /** `Category.products`: the live products of the category and its subcategories, newest first. */
  async categoryProducts(category: Category, args: PageArgs): Promise<Connection<Product>> {
    const first = validateFirst('first', args.first ?? 20, MAX_PAGE_SIZE);
    // Not bound to the category: keys are global (creation time, id), so one cursor can page a
    // category listed among others (`categories { products(after:) }`) without failing the rest.
    const fingerprint = queryFingerprint('category-products');
    const after = decodeCursor('after', args.after, fingerprint, CATEGORY_PAGE_KEY_KINDS);
    const rows = await this.loaders.categoryPage.load({ parentId: category.id, limit: first + 1, after });
    for (const r of rows) this.loaders.product.prime(r.item.id, r.item);
    const facets = once(() => this.discovery.facets({ filter: validateFilter({ categorySlug: category.slug }), tsquery: null, sort: 'NEWEST' }));
    return { ...connection(rows, first, fingerprint, () => this.loaders.categoryCount.load(category.id)), facets };
  }

  /** `Product.reviews`: newest first; totalCount is the product's review count (no query). */
  async reviews(product: Product, args: PageArgs): Promise<Connection<Review>> {
    const first = validateFirst('first', args.first ?? 20, MAX_PAGE_SIZE);
    const fingerprint = queryFingerprint('reviews'); // global keys, like categoryProducts
    const after = decodeCursor('after', args.after, fingerprint, ['int']);
    const rows = await this.loaders.reviewPage.load({ parentId: product.id, limit: first + 1, after });
    return connection(rows, first, fingerprint, () => product.reviewCount);
  }

  /** `Product.similar`: never the product itself (see CatalogRepository.similarTo for the ranking). */
  async similar(product: Product, first: number | null | undefined): Promise<Product[]> {
    const n = validateFirst('first', first ?? 5, MAX_SIMILAR);
    if (n === 0) return [];
    const items = await this.loaders.similar.load({ parentId: product.id, limit: n, after: null });
    for (const p of items) this.loaders.product.prime(p.id, p);
    return items;
  }

  // ------------------------------------------------------------------ admin

  async createCategory(input: { name: string; parentId?: string | null }): Promise<Category> {
    const name = validateText('input.name', input.name, MAX_CATEGORY_NAME_LENGTH);
    const parentId = input.parentId ?? null;
    return this.retryingSlugRaces(() =>
      this.deps.transaction(async (tx) => {
        const repo = this.repo.in(tx);
        let parent: Category | null = null;
        if (parentId !== null) {
          parent = (await repo.findCategoriesByIds([parentId]))[0] ?? null;
          if (!parent) throw badUserInput('input.parentId', `Category ${parentId} does not exist.`);
        }
        // "Accessories" under Phones becomes phones-accessories when "accessories" is taken, before any number.
        const base = slugify(name, 'category');
        const taken = await repo.takenSlugs('category', base);
        const prefixed = parent ? `${parent.slug}-${base}` : base;
        const slug = !taken.has(base) ? base : firstFreeSlug(prefixed, await repo.takenSlugs('category', prefixed));
        let category: Category;
        try {
          category = await repo.insertCategory({ name, slug, parentId: parent?.id ?? null });
        } catch (error) {
          if (isDuplicateCategoryName(error)) throw conflict(`A category named "${name}" already exists here.`, { field: 'input.name' });
          throw error;
        }
        await this.deps.outbox.add(tx, CategoryCreated, category.id, { categoryId: category.id, name: category.name, slug: category.slug, parentId: category.parentId });
        return category;
      }),
    );
  }

  async createProduct(input: CreateProductInput): Promise<Product> {
    const product = validateNewProduct(input);
    return this.retryingSlugRaces(() => this.deps.transaction((tx) => this.insertProduct(tx, product)));
  }

  /**
   * Inserts a validated product with its starting availability, its search words and its
   * `catalog.product-created.v1` event, in the caller's transaction (the seed uses it too).
   */
  async insertProduct(tx: EntityManager, input: NewProduct, options: { createdHoursAgo?: number } = {}): Promise<Product> {
    const repo = this.repo.in(tx);
    const [category] = isUuid(input.categoryId) ? await repo.findCategoriesByIds([input.categoryId]) : [null];
    if (!category) throw badUserInput('input.categoryId', `Category ${input.categoryId} does not exist.`);
    const base = slugify(input.name, 'product');
    const slug = firstFreeSlug(base, await repo.takenSlugs('product', base));
    const product = await repo.insertProduct({ ...input, slug, ...(options.createdHoursAgo !== undefined ? { createdHoursAgo: options.createdHoursAgo } : {}) });
    // Until inventory's first stock event arrives, the product is as available as its initial stock.
    await repo.openAvailability(product.id, input.initialStock);
    await repo.addSearchTerms(`${product.name} ${product.description}`);
    await this.discovery.in(tx).invalidateSimilar([product.categoryId]);
    await this.deps.outbox.add(tx, ProductCreated, product.id, {
      productId: product.id,
      name: product.name,
      slug: product.slug,
      price: product.price,
      categoryId: product.categoryId,
      initialStock: input.initialStock,
      lowStockThreshold: input.lowStockThreshold,
    });
    return product;
  }

  /**
   * Changes the fields given. The slug stays as it was (links keep working). Publishes
   * `catalog.product-updated.v1` when the name, price or category changed.
   */
  async updateProduct(id: string, input: UpdateProductInput): Promise<Product> {
    const changes = validateProductChanges(input);
    return this.deps.transaction(async (tx) => {
      const repo = this.repo.in(tx);
      const current = await repo.lockLiveProduct(id);
      if (!current) throw notFound('Product', id);
      if (changes.categoryId !== undefined && changes.categoryId !== current.categoryId) {
        const [category] = isUuid(changes.categoryId) ? await repo.findCategoriesByIds([changes.categoryId]) : [null];
        if (!category) throw badUserInput('input.categoryId', `Category ${changes.categoryId} does not exist.`);
      }
      const next = {
        name: changes.name ?? current.name,
        description: changes.description ?? current.description,
        price: changes.price ?? current.price.amount,
        categoryId: changes.categoryId ?? current.categoryId,
        imageUrls: changes.imageUrls ?? current.imageUrls,
      };
      const unchanged =
        next.name === current.name &&
        next.description === current.description &&
        next.price === current.price.amount &&
        next.categoryId === current.categoryId &&
        JSON.stringify(next.imageUrls) === JSON.stringify(current.imageUrls);
      if (unchanged) return current;
      const updated = await repo.updateProduct(id, next);
      if (next.name !== current.name || next.description !== current.description) await repo.addSearchTerms(`${updated.name} ${updated.description}`);
      if (next.name !== current.name || next.price !== current.price.amount || next.categoryId !== current.categoryId) {
        await this.discovery.in(tx).invalidateSimilar([current.categoryId, next.categoryId]);
        await this.deps.outbox.add(tx, ProductUpdated, id, {
          productId: id,
          name: updated.name,
          slug: updated.slug,
          price: updated.price,
          categoryId: updated.categoryId,
        });
      }
      this.loaders.product.clear(id).prime(id, updated);
      return updated;
    });
  }

  /**
   * Soft-deletes: the product leaves listings and search, but still resolves by id (past orders
   * show it). Deleting it again answers true with no second event (safe to retry).
   */
  async deleteProduct(id: string): Promise<boolean> {
    return this.deps.transaction(async (tx) => {
      const repo = this.repo.in(tx);
      const current = await repo.lockProduct(id);
      if (!current) throw notFound('Product', id);
      if (current.deletedAt) return true;
      await repo.softDeleteProduct(id);
      await this.discovery.in(tx).invalidateSimilar([current.categoryId]);
      await this.deps.outbox.add(tx, ProductDeleted, id, { productId: id });
      this.loaders.product.clear(id);
      return true;
    });
  }

  // ------------------------------------------------------------------ reviews

  /**
   * One review per user and product (CONFLICT on a second), rating 1..5. The product's totals are
   * updated in the same transaction by an atomic increment, which also locks the product row:
   * concurrent reviews queue on it and the totals always equal the reviews.
   */
  async addReview(authorId: string, args: { productId: string; rating: number; comment?: string | null }): Promise<Review> {
    const rating = validateRating(args.rating);
    const comment = validateComment(args.comment);
    return this.deps.transaction(async (tx) => {
      const repo = this.repo.in(tx);
      if (!(await repo.addRating(args.productId, rating))) throw notFound('Product', args.productId);
      const review = await repo.insertReview({ productId: args.productId, authorId, rating, comment });
      if (!review) throw conflict('You have already reviewed this product.', { field: 'productId' });
      // The product's rating and review count changed: caches (the gateway's) outdate it.
      await this.deps.outbox.add(tx, ReviewAdded, args.productId, { productId: args.productId, reviewId: review.id, rating });
      this.loaders.product.clear(args.productId);
      return review;
    });
  }

  /** Retries a creation whose slug a concurrent creation took between our check and our insert. */
  private async retryingSlugRaces<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (error) {
        if (i >= attempts || !isSlugRace(error)) throw error;
      }
    }
  }
}
