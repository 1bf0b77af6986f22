import type { CursorPosition } from '../domain/cursor';
import type { Candidate } from '../domain/search-query';
import type { Category, Product, Review } from '../domain/types';
import { CATEGORY_COLUMNS, PRODUCT_COLUMNS, REVIEW_COLUMNS, toCategory, toProduct, toReview } from './mappers';
import type { ProductQuerySpec, Statement } from './product-query';
import { buildCategoryCountsQuery, buildCategoryPagesQuery, buildCountQuery, buildPageQuery, TS_CONFIG } from './product-query';

/**
 * Nearest vocabulary words ($1: the search words) by trigram similarity (`%`: pg_trgm's threshold,
 * 0.3 by default; GIN index), for the words no vocabulary word starts with (likely typos).
 */
export const SPELLING_SQL = `SELECT w.word, t.term, t.sim
        FROM unnest($1::text[]) AS w(word)
        CROSS JOIN LATERAL (
          SELECT s.term, similarity(s.term, w.word) AS sim FROM search_term s
          WHERE s.term % w.word ORDER BY sim DESC, s.term LIMIT 5
        ) t
        WHERE NOT EXISTS (
          SELECT 1 FROM search_term e
          WHERE e.term >= w.word COLLATE "C" AND e.term < (w.word || chr(1114111)) COLLATE "C"
        )`;

/** The score of a similar-product candidate `p` for the product `s` (words: the OR query of s's name words). */
const SIMILARITY_SCORE = `0.30 * similarity(p.name, s.name)
      + 0.25 * least(1, ts_rank('{0.1, 0.2, 0.4, 1.0}', p.search_vector, words.q) * 3)
      + 0.30 * (p.category_id = s.category_id)::int
      + 0.15 * greatest(0, 1 - abs(ln((p.price + 1) / (s.price + 1))) / ln(4))`;

/**
 * Similar products ($1: product ids, $2: how many each); see CatalogRepository.similarTo.
 * Each candidate set is read in index order and capped, so the cost does not grow with the
 * catalog; candidates found twice are scored once (DISTINCT ON).
 */
export const SIMILAR_SQL = `SELECT s.id AS source_id, x.*
  FROM product s
  JOIN category sc ON sc.id = s.category_id
  CROSS JOIN LATERAL websearch_to_tsquery('${TS_CONFIG}', regexp_replace(s.name, '[^[:alnum:]]+', ' or ', 'g')) AS words(q)
  CROSS JOIN LATERAL (
    SELECT * FROM (
      SELECT DISTINCT ON (c.id) c.* FROM (
        -- the nearest prices in the same category, above and below (product_category_price) …
        (SELECT ${PRODUCT_COLUMNS}, ${SIMILARITY_SCORE} AS score FROM product p
          WHERE p.deleted_at IS NULL AND p.category_id = s.category_id AND p.id <> s.id AND p.price >= s.price
          ORDER BY p.price, p.id LIMIT 30)
        UNION ALL
        (SELECT ${PRODUCT_COLUMNS}, ${SIMILARITY_SCORE} AS score FROM product p
          WHERE p.deleted_at IS NULL AND p.category_id = s.category_id AND p.id <> s.id AND p.price < s.price
          ORDER BY p.price DESC, p.id DESC LIMIT 30)
        UNION ALL
        -- … and the most similar names of each category of the family (the parent's subtree: same
        -- and sibling categories; a top-level category's own subtree), by trigram distance through
        -- the (category_id, name) GiST index: 30 from the same category, 8 from each other one.
        (SELECT n.* FROM (
            WITH RECURSIVE family(id) AS (
              SELECT coalesce(sc.parent_id, sc.id)
              UNION ALL SELECT k.id FROM category k JOIN family f ON k.parent_id = f.id
            ) SELECT id FROM family
          ) f
          CROSS JOIN LATERAL (
            SELECT ${PRODUCT_COLUMNS}, ${SIMILARITY_SCORE} AS score FROM product p
            WHERE p.deleted_at IS NULL AND p.category_id = f.id AND p.id <> s.id
            ORDER BY p.name <-> s.name
            LIMIT CASE WHEN f.id = s.category_id THEN 30 ELSE 8 END
          ) n)
      ) c
    ) d
    ORDER BY d.score DESC, d.id
    LIMIT $2
  ) x
  WHERE s.id = ANY($1::uuid[])
  ORDER BY s.id, x.score DESC, x.id`;

/** Anything that runs SQL: the DataSource, or a transaction's EntityManager. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<any>;
}

type Raw = Record<string, unknown>;

/** A product with the exact sort keys that make its cursor. */
export interface Positioned<T> {
  readonly item: T;
  readonly position: CursorPosition;
}

/** A new product as stored (validated, slug chosen). */
export interface ProductInsert {
  readonly name: string;
  readonly slug: string;
  readonly description: string;
  readonly price: string;
  readonly currencyCode: string;
  readonly categoryId: string;
  readonly imageUrls: readonly string[];
  /** Backdates the product (demo data: gives "newest" a meaningful order). Default now. */
  readonly createdHoursAgo?: number;
}

/**
 * Every query of the catalog, each single-purpose. Lookups by many ids answer in the order asked
 * (null where unknown): exactly what a DataLoader wants. Methods that write take the transaction.
 */
export class CatalogRepository {
  constructor(private readonly db: Queryable) {}

  /** The same queries inside a transaction. */
  in(tx: Queryable): CatalogRepository {
    return new CatalogRepository(tx);
  }

  private async rows(statement: Statement): Promise<Raw[]> {
    const result = (await this.db.query(statement.sql, statement.params)) as unknown;
    // TypeORM answers UPDATE/DELETE … RETURNING with [rows, affectedCount].
    if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as Raw[];
    return result as Raw[];
  }

  // ------------------------------------------------------------------ lookups

  /** Products by id, deleted ones included (past orders still show them). */
  async findProductsByIds(ids: readonly string[]): Promise<Array<Product | null>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.rows({ sql: `SELECT ${PRODUCT_COLUMNS} FROM product p WHERE p.id = ANY($1::uuid[])`, params: [valid] }) : [];
    const byId = new Map(rows.map((r) => [r['id'] as string, toProduct(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async findCategoriesByIds(ids: readonly string[]): Promise<Array<Category | null>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.rows({ sql: `SELECT ${CATEGORY_COLUMNS} FROM category c WHERE c.id = ANY($1::uuid[])`, params: [valid] }) : [];
    const byId = new Map(rows.map((r) => [r['id'] as string, toCategory(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** What a product's picture shows (deleted products too: past orders show them), by slug; null when unknown. */
  async productPicture(slug: string): Promise<{ name: string; categoryName: string } | null> {
    const [row] = await this.rows({ sql: 'SELECT p.name, c.name AS category_name FROM product p JOIN category c ON c.id = p.category_id WHERE p.slug = $1', params: [slug] });
    return row ? { name: row['name'] as string, categoryName: row['category_name'] as string } : null;
  }

  async findCategoryBySlug(slug: string): Promise<Category | null> {
    const [row] = await this.rows({ sql: `SELECT ${CATEGORY_COLUMNS} FROM category c WHERE c.slug = $1`, params: [slug] });
    return row ? toCategory(row) : null;
  }

  /** The children of each category, by name. */
  async findChildrenOf(parentIds: readonly string[]): Promise<Category[][]> {
    const valid = parentIds.filter(isUuid);
    const rows = valid.length
      ? await this.rows({ sql: `SELECT ${CATEGORY_COLUMNS} FROM category c WHERE c.parent_id = ANY($1::uuid[]) ORDER BY c.name, c.id`, params: [valid] })
      : [];
    const byParent = new Map<string, Category[]>();
    for (const r of rows) {
      const c = toCategory(r);
      byParent.set(c.parentId!, [...(byParent.get(c.parentId!) ?? []), c]);
    }
    return parentIds.map((id) => byParent.get(id) ?? []);
  }

  /** Every category, parents before children, siblings by name. */
  async allCategories(): Promise<Category[]> {
    const rows = await this.rows({
      sql: `WITH RECURSIVE tree AS (
          SELECT ${CATEGORY_COLUMNS}, ARRAY[lower(c.name), c.id::text] AS path FROM category c WHERE c.parent_id IS NULL
          UNION ALL SELECT ${CATEGORY_COLUMNS}, t.path || ARRAY[lower(c.name), c.id::text] FROM category c JOIN tree t ON c.parent_id = t.id
        ) SELECT * FROM tree ORDER BY path`,
      params: [],
    });
    return rows.map(toCategory);
  }

  // ------------------------------------------------------------------ search and listings

  /**
   * For each search word with no vocabulary word starting with it (likely a typo), its nearest
   * vocabulary words by trigram similarity (`%`, pg_trgm's threshold 0.3, GIN index).
   */
  async spellingCandidates(words: readonly string[]): Promise<Candidate[]> {
    if (words.length === 0) return [];
    const rows = await this.rows({ sql: SPELLING_SQL, params: [words] });
    return rows.map((r) => ({ word: r['word'] as string, term: r['term'] as string, similarity: Number(r['sim']) }));
  }

  /** A page of products for a query, with each one's cursor keys. */
  async pageProducts(spec: ProductQuerySpec, after: CursorPosition | null, limit: number): Promise<Array<Positioned<Product>>> {
    const rows = await this.rows(buildPageQuery(spec, after, limit));
    return rows.map((r) => ({ item: toProduct(r), position: { keys: keysOf(r), id: r['id'] as string } }));
  }

  async countProducts(spec: ProductQuerySpec): Promise<number> {
    const [row] = await this.rows(buildCountQuery(spec));
    return Number(row?.['n'] ?? 0);
  }

  /** One page of live products per category subtree (newest first), for a batch of categories. */
  async categoryPages(rootIds: readonly string[], after: CursorPosition | null, limit: number): Promise<Map<string, Array<Positioned<Product>>>> {
    const valid = rootIds.filter(isUuid);
    const pages = new Map<string, Array<Positioned<Product>>>(valid.map((id) => [id, []]));
    if (valid.length === 0) return pages;
    for (const r of await this.rows(buildCategoryPagesQuery(valid, after, limit))) {
      pages.get(r['root_id'] as string)?.push({ item: toProduct(r), position: { keys: keysOf(r), id: r['id'] as string } });
    }
    return pages;
  }

  async categoryCounts(rootIds: readonly string[]): Promise<Map<string, number>> {
    const valid = rootIds.filter(isUuid);
    if (valid.length === 0) return new Map();
    const rows = await this.rows(buildCategoryCountsQuery(valid));
    return new Map(rows.map((r) => [r['root_id'] as string, Number(r['n'])]));
  }

  /** One page of reviews per product (newest first), for a batch of products. */
  async reviewPages(productIds: readonly string[], after: CursorPosition | null, limit: number): Promise<Map<string, Array<Positioned<Review>>>> {
    const valid = productIds.filter(isUuid);
    const pages = new Map<string, Array<Positioned<Review>>>(valid.map((id) => [id, []]));
    if (valid.length === 0) return pages;
    const params: unknown[] = [valid, limit];
    const keyset = after
      ? `AND (r.created_at, r.id) < ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid)`
      : '';
    if (after) params.push(after.keys[0], after.id);
    const rows = await this.rows({
      sql: `SELECT x.* FROM unnest($1::uuid[]) AS ids(product_id)
        CROSS JOIN LATERAL (
          SELECT ${REVIEW_COLUMNS}, (extract(epoch FROM r.created_at) * 1000000)::bigint::text AS k0
          FROM review r WHERE r.product_id = ids.product_id ${keyset}
          ORDER BY r.created_at DESC, r.id DESC LIMIT $2
        ) x`,
      params,
    });
    for (const r of rows) pages.get(r['product_id'] as string)?.push({ item: toReview(r), position: { keys: keysOf(r), id: r['id'] as string } });
    return pages;
  }

  /**
   * Similar products for a batch of products: live products of the same family (the parent's
   * subtree: same and sibling categories; a top-level category's own subtree), never the product
   * itself, ranked by name similarity (trigrams, 30 %), words of the name found in the candidate's
   * name or description (text search, 25 %), same category (30 %) and price proximity (15 %, zero
   * beyond a factor of 4). Only a bounded set of candidates is scored, each read in index order: the
   * 60 nearest prices in the same category, and the most similar names of each category of the
   * family (30 from the same one, 8 from each sibling).
   */
  async similarTo(productIds: readonly string[], limit: number): Promise<Map<string, Product[]>> {
    const valid = productIds.filter(isUuid);
    const result = new Map<string, Product[]>(valid.map((id) => [id, []]));
    if (valid.length === 0) return result;
    const rows = await this.rows({
      sql: SIMILAR_SQL,
      params: [valid, limit],
    });
    for (const r of rows) result.get(r['source_id'] as string)?.push(toProduct(r));
    return result;
  }

  // ------------------------------------------------------------------ writes (inside a transaction)

  /** Which of these slugs are taken, in `table`. */
  async takenSlugs(table: 'product' | 'category', base: string): Promise<Set<string>> {
    // The slug columns are unique btrees; the range is a prefix scan of `base` and `base-…`.
    const rows = await this.rows({
      sql: `SELECT slug FROM ${table} WHERE slug = $1 OR (slug > $1 || '-' AND slug < $1 || '.')`,
      params: [base],
    });
    return new Set(rows.map((r) => r['slug'] as string));
  }

  async insertCategory(input: { name: string; slug: string; parentId: string | null }): Promise<Category> {
    const [row] = await this.rows({
      sql: `INSERT INTO category AS c (name, slug, parent_id) VALUES ($1, $2, $3) RETURNING ${CATEGORY_COLUMNS}`,
      params: [input.name, input.slug, input.parentId],
    });
    return toCategory(row!);
  }

  async insertProduct(input: ProductInsert): Promise<Product> {
    const [row] = await this.rows({
      sql: `INSERT INTO product AS p (name, slug, description, price, currency_code, category_id, image_urls, created_at, updated_at)
        VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, now() - make_interval(hours => $8), now() - make_interval(hours => $8))
        RETURNING ${PRODUCT_COLUMNS}`,
      params: [input.name, input.slug, input.description, input.price, input.currencyCode, input.categoryId, input.imageUrls, input.createdHoursAgo ?? 0],
    });
    return toProduct(row!);
  }

  /** Locks a live product for a change (FOR UPDATE): concurrent changes of it wait and then see this one. */
  async lockLiveProduct(id: string): Promise<Product | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.rows({ sql: `SELECT ${PRODUCT_COLUMNS} FROM product p WHERE p.id = $1 AND p.deleted_at IS NULL FOR UPDATE`, params: [id] });
    return row ? toProduct(row) : null;
  }

  /** Locks a product, deleted or not (FOR UPDATE). */
  async lockProduct(id: string): Promise<Product | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.rows({ sql: `SELECT ${PRODUCT_COLUMNS} FROM product p WHERE p.id = $1 FOR UPDATE`, params: [id] });
    return row ? toProduct(row) : null;
  }

  async updateProduct(id: string, next: { name: string; description: string; price: string; categoryId: string; imageUrls: readonly string[] }): Promise<Product> {
    const [row] = await this.rows({
      sql: `UPDATE product AS p SET name = $2, description = $3, price = $4::numeric, category_id = $5, image_urls = $6, updated_at = now()
        WHERE p.id = $1 RETURNING ${PRODUCT_COLUMNS}`,
      params: [id, next.name, next.description, next.price, next.categoryId, next.imageUrls],
    });
    return toProduct(row!);
  }

  async softDeleteProduct(id: string): Promise<void> {
    await this.db.query('UPDATE product SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL', [id]);
  }

  /** Rebuilds the vocabulary from every product (bulk loads; the same rules as addSearchTerms). */
  async rebuildSearchTerms(): Promise<void> {
    await this.db.query(
      `INSERT INTO search_term (term)
       SELECT DISTINCT w FROM product, regexp_split_to_table(lower(name || ' ' || description), '[^[:alnum:]]+') AS w
       WHERE length(w) BETWEEN 3 AND 40 AND w !~ '^[0-9]+$'
       ON CONFLICT DO NOTHING`,
    );
  }

  /** Adds the words of a text to the search vocabulary (lower case, 3 to 40 characters, not only digits: model numbers are not misspelled). */
  async addSearchTerms(text: string): Promise<void> {
    await this.db.query(
      `INSERT INTO search_term (term)
       SELECT DISTINCT w FROM regexp_split_to_table(lower($1), '[^[:alnum:]]+') AS w
       WHERE length(w) BETWEEN 3 AND 40 AND w !~ '^[0-9]+$'
       ON CONFLICT DO NOTHING`,
      [text],
    );
  }

  /**
   * Adds a review's rating to its product's totals, atomically (the UPDATE locks the row, so
   * concurrent reviews add up instead of overwriting). Returns false when the product is not live.
   */
  async addRating(productId: string, rating: number): Promise<boolean> {
    if (!isUuid(productId)) return false;
    const result = (await this.db.query(
      'UPDATE product SET rating_sum = rating_sum + $2, review_count = review_count + 1 WHERE id = $1 AND deleted_at IS NULL',
      [productId, rating],
    )) as unknown;
    return affectedRows(result) > 0;
  }

  /** Inserts a review; null when this author already reviewed this product. */
  async insertReview(input: { productId: string; authorId: string; rating: number; comment: string | null }): Promise<Review | null> {
    const [row] = await this.rows({
      sql: `INSERT INTO review AS r (product_id, author_id, rating, comment) VALUES ($1, $2, $3, $4)
        ON CONFLICT ON CONSTRAINT review_one_per_author DO NOTHING RETURNING ${REVIEW_COLUMNS}`,
      params: [input.productId, input.authorId, input.rating, input.comment],
    });
    return row ? toReview(row) : null;
  }

  /** The availability a new product starts with (version 0: inventory's first stock event, version 1, replaces it). */
  async openAvailability(productId: string, available: number): Promise<void> {
    await this.db.query('INSERT INTO product_availability (product_id, available, version) VALUES ($1, $2, 0) ON CONFLICT (product_id) DO NOTHING', [
      productId,
      available,
    ]);
  }

  /**
   * Applies a stock level from inventory unless a newer one is already there: null when not
   * applied, else whether the product was in stock before (null for a product with no level yet).
   */
  async applyStockLevel(productId: string, available: number, version: number): Promise<{ readonly wasInStock: boolean | null } | null> {
    const rows = (await this.db.query(
      `WITH previous AS (SELECT available FROM product_availability WHERE product_id = $1)
       INSERT INTO product_availability AS a (product_id, available, version, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (product_id) DO UPDATE SET available = excluded.available, version = excluded.version, updated_at = now()
       WHERE a.version < excluded.version
       RETURNING (SELECT available > 0 FROM previous) AS was_in_stock`,
      [productId, available, version],
    )) as Array<{ was_in_stock: boolean | null }>;
    const [row] = rows;
    return row ? { wasInStock: row.was_in_stock } : null;
  }
}

/** TypeORM answers an UPDATE or DELETE with `[rows, affectedCount]`. */
function affectedRows(result: unknown): number {
  return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
}

function keysOf(row: Raw): string[] {
  const keys: string[] = [];
  for (let i = 0; `k${i}` in row; i++) keys.push(row[`k${i}`] as string);
  return keys;
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
