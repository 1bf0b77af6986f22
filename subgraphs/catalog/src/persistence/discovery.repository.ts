/**
 * The SQL of discovery (issue 21): suggestions as you type, facet counts, bought together,
 * recommendations, and the read models fed by order events. Every read is one statement for a
 * whole batch (DataLoader keys), every write runs in the caller's transaction.
 */
import type { Candidate } from '../domain/search-query';
import type { Category, Product } from '../domain/types';
import type { Queryable } from './catalog.repository';
import { isUuid } from './catalog.repository';
import { CATEGORY_COLUMNS, PRODUCT_COLUMNS, toCategory, toProduct } from './mappers';
import type { ProductQuerySpec } from './product-query';
import { buildFacetsQuery, MAX_PRICE, PRICE_FACET_BOUNDS } from './product-query';

type Raw = Record<string, unknown>;

/** Products looked at per suggestion request (the most popular matches), before ranking by relevance. */
const SUGGESTION_CANDIDATES = 60;

/**
 * Suggestions ($1: tsquery text on the 'simple' name words, $2: the prefix as typed, lower case,
 * $3: how many). Candidates are the most popular matches (product_popular or the GIN index,
 * whichever the planner finds cheaper), then ranked: the name starting with what was typed, name
 * similarity, then popularity.
 */
export const SUGGESTIONS_SQL = `SELECT ${PRODUCT_COLUMNS}, c.score FROM (
    SELECT p.id,
      (lower(p.name) LIKE $2 || '%')::int
      + 0.6 * word_similarity($2, lower(p.name))
      + 0.15 * ln(1 + p.popularity) AS score
    FROM (
      SELECT p.id, p.name, p.popularity FROM product p
      WHERE p.deleted_at IS NULL AND p.name_words @@ to_tsquery('simple', $1)
      ORDER BY p.popularity DESC, p.id LIMIT ${SUGGESTION_CANDIDATES}
    ) p
  ) c JOIN product p ON p.id = c.id
  ORDER BY c.score DESC, p.name, p.id
  LIMIT $3`;

/**
 * Spelling corrections of typed prefixes ($1: the words no vocabulary word starts with): vocabulary
 * words with the same first letter whose start is within a Levenshtein distance of 1 (2 from six
 * letters) of the word ("hedph" -> headphones, "kettel" -> kettle), the nearest first.
 * Candidates of whole words by trigram similarity come from the catalog's SPELLING_SQL.
 */
export const PREFIX_SPELLING_SQL = `SELECT w.word, t.term, t.dist FROM unnest($1::text[]) AS w(word)
  CROSS JOIN LATERAL (
    SELECT s.term, least(
        levenshtein(w.word, left(s.term, length(w.word))),
        levenshtein(w.word, left(s.term, length(w.word) + 1)),
        levenshtein(w.word, left(s.term, length(w.word) - 1))) AS dist
    FROM search_term s
    WHERE s.term >= left(w.word, 1) COLLATE "C" AND s.term < (left(w.word, 1) || chr(1114111)) COLLATE "C"
    ORDER BY dist, length(s.term), s.term LIMIT 3
  ) t
  WHERE t.dist <= CASE WHEN length(w.word) >= 6 THEN 2 ELSE 1 END
    AND NOT EXISTS (
      SELECT 1 FROM search_term e WHERE e.term >= w.word COLLATE "C" AND e.term < (w.word || chr(1114111)) COLLATE "C"
    )`;

/** Categories whose name has a word starting with the prefix or close to it ($1: tsquery text, $2: prefix, $3: how many). */
export const CATEGORY_SUGGESTIONS_SQL = `SELECT ${CATEGORY_COLUMNS},
    (lower(c.name) LIKE $2 || '%')::int + word_similarity($2, lower(c.name)) AS score
  FROM category c
  WHERE to_tsvector('simple', c.name) @@ to_tsquery('simple', $1)
  ORDER BY score DESC, c.name, c.id
  LIMIT $3`;

/** Bought together with each product ($1 ids, $2 how many each): most shared confirmed orders first, live products only. */
export const BOUGHT_TOGETHER_SQL = `SELECT s.id AS source_id, x.* FROM unnest($1::uuid[]) AS s(id)
  CROSS JOIN LATERAL (
    SELECT ${PRODUCT_COLUMNS} FROM bought_together b JOIN product p ON p.id = b.other_id AND p.deleted_at IS NULL
    WHERE b.product_id = s.id AND b.other_id <> s.id
    ORDER BY b.orders DESC, b.other_id LIMIT $2
  ) x`;

/**
 * Recommendations for one customer ($1 user id, $2 how many): products bought together with what
 * they bought or rated 4+ (weight 2 per shared order), what customers who bought the same
 * products also bought (weight: products in common), and the most popular products of the
 * categories they bought from (0.5); never what they bought or reviewed; popular products fill
 * the rest (a new customer gets only those).
 */
export const RECOMMENDATIONS_SQL = `WITH mine AS (
    SELECT product_id FROM customer_purchase WHERE user_id = $1
    UNION SELECT product_id FROM review WHERE author_id = $1 AND rating >= 4
  ),
  excluded AS (SELECT product_id FROM customer_purchase WHERE user_id = $1 UNION SELECT product_id FROM review WHERE author_id = $1),
  peers AS (
    SELECT cp.user_id, count(*) AS overlap FROM customer_purchase cp
    WHERE cp.product_id IN (SELECT product_id FROM mine) AND cp.user_id <> $1
    GROUP BY cp.user_id ORDER BY overlap DESC, cp.user_id LIMIT 100
  ),
  scored AS (
    SELECT id, sum(s) AS s FROM (
      SELECT b.other_id AS id, 2.0 * b.orders AS s FROM bought_together b WHERE b.product_id IN (SELECT product_id FROM mine)
      UNION ALL
      SELECT cp.product_id, peers.overlap::numeric FROM customer_purchase cp JOIN peers USING (user_id)
      UNION ALL
      SELECT x.id, 0.5 FROM (SELECT DISTINCT p.category_id FROM product p WHERE p.id IN (SELECT product_id FROM mine)) mc
        CROSS JOIN LATERAL (SELECT p.id FROM product p WHERE p.deleted_at IS NULL AND p.category_id = mc.category_id ORDER BY p.popularity DESC, p.id LIMIT 20) x
      UNION ALL
      SELECT x.id, 0 FROM (SELECT p.id FROM product p WHERE p.deleted_at IS NULL ORDER BY p.popularity DESC, p.id LIMIT $2 + (SELECT count(*) FROM excluded)) x
    ) t GROUP BY id
  )
  SELECT ${PRODUCT_COLUMNS} FROM scored JOIN product p ON p.id = scored.id AND p.deleted_at IS NULL
  WHERE p.id NOT IN (SELECT product_id FROM excluded)
  ORDER BY scored.s DESC, p.popularity DESC, p.id
  LIMIT $2`;

export interface Facets {
  readonly total: number;
  /** With the category rows (the resolver primes its loader with them: no lookup per facet). */
  readonly categories: ReadonlyArray<{ readonly category: Category; readonly count: number }>;
  readonly priceRanges: ReadonlyArray<{ readonly min: string; readonly max: string; readonly count: number }>;
  readonly ratings: ReadonlyArray<{ readonly minRating: number; readonly count: number }>;
  readonly inStock: number;
}

/** A line of a placed order, as orders.order-placed.v1 carries it. */
export interface PlacedLine {
  readonly productId: string;
  readonly quantity: number;
}

export class DiscoveryRepository {
  constructor(private readonly db: Queryable) {}

  in(tx: Queryable): DiscoveryRepository {
    return new DiscoveryRepository(tx);
  }

  // ------------------------------------------------------------------ reads

  async suggestProducts(tsquery: string, typed: string, limit: number): Promise<Array<{ product: Product; score: number }>> {
    const rows = (await this.db.query(SUGGESTIONS_SQL, [tsquery, typed, limit])) as Raw[];
    return rows.map((r) => ({ product: toProduct(r), score: Number(r['score']) }));
  }

  /** Corrections of typed prefixes (see PREFIX_SPELLING_SQL), as candidates: similarity 1 - distance / length. */
  async prefixSpellingCandidates(words: readonly string[]): Promise<Candidate[]> {
    if (words.length === 0) return [];
    const rows = (await this.db.query(PREFIX_SPELLING_SQL, [words])) as Raw[];
    return rows.map((r) => ({ word: r['word'] as string, term: r['term'] as string, similarity: 1 - Number(r['dist']) / Math.max(1, [...(r['word'] as string)].length) }));
  }

  async suggestCategories(tsquery: string, typed: string, limit: number): Promise<Array<{ category: Category; score: number }>> {
    const rows = (await this.db.query(CATEGORY_SUGGESTIONS_SQL, [tsquery, typed, limit])) as Raw[];
    return rows.map((r) => ({ category: toCategory(r), score: Number(r['score']) }));
  }

  async facets(spec: ProductQuerySpec): Promise<Facets> {
    const statement = buildFacetsQuery(spec);
    const [row] = (await this.db.query(statement.sql, statement.params)) as Raw[];
    const categories = (row!['categories'] as Array<{ n: number; category: Raw }>).map((c) => ({
      category: toCategory({ ...c.category, created_at: new Date(c.category['created_at'] as string) }),
      count: c.n,
    }));
    const priceRanges = (row!['prices'] as Array<{ bucket: number; n: number }>).map((b) => ({
      min: PRICE_FACET_BOUNDS[b.bucket - 1]!,
      max: PRICE_FACET_BOUNDS[b.bucket] ?? MAX_PRICE,
      count: b.n,
    }));
    const ratings = (row!['ratings'] as number[]).map((n, i) => ({ minRating: i + 1, count: n }));
    return { total: Number(row!['total']), categories, priceRanges, ratings, inStock: Number(row!['in_stock']) };
  }

  async boughtTogether(productIds: readonly string[], limit: number): Promise<Map<string, Product[]>> {
    const valid = productIds.filter(isUuid);
    const result = new Map<string, Product[]>(valid.map((id) => [id, []]));
    if (valid.length === 0) return result;
    for (const r of (await this.db.query(BOUGHT_TOGETHER_SQL, [valid, limit])) as Raw[]) result.get(r['source_id'] as string)?.push(toProduct(r));
    return result;
  }

  async recommendations(userId: string, limit: number): Promise<Product[]> {
    return ((await this.db.query(RECOMMENDATIONS_SQL, [userId, limit])) as Raw[]).map(toProduct);
  }

  /**
   * Cached similar products of each product (live ones only, in cached order; the cache holds the
   * best {@link SIMILAR_CACHED} of each); products without a cache entry are absent from the map.
   */
  async cachedSimilar(productIds: readonly string[], limit: number): Promise<Map<string, Product[]>> {
    const valid = productIds.filter(isUuid);
    const result = new Map<string, Product[]>();
    if (valid.length === 0) return result;
    const rows = (await this.db.query(
      `SELECT s.product_id AS source_id, x.* FROM similar_cache s
       LEFT JOIN LATERAL (
         SELECT ${PRODUCT_COLUMNS} FROM unnest(s.similar_ids) WITH ORDINALITY AS o(id, n)
         JOIN product p ON p.id = o.id AND p.deleted_at IS NULL
         ORDER BY o.n LIMIT $2
       ) x ON true
       WHERE s.product_id = ANY($1::uuid[])`,
      [valid, limit],
    )) as Raw[];
    for (const r of rows) {
      const source = r['source_id'] as string;
      if (!result.has(source)) result.set(source, []);
      if (r['id'] !== null) result.get(source)!.push(toProduct(r));
    }
    return result;
  }

  // ------------------------------------------------------------------ writes (read models; in the caller's transaction)

  /** Stores the similar products computed for these products (ids in rank order; the category is read from the product). */
  async cacheSimilar(entries: ReadonlyMap<string, readonly string[]>): Promise<void> {
    if (entries.size === 0) return;
    await this.db.query(
      `INSERT INTO similar_cache (product_id, category_id, similar_ids)
       SELECT p.id, p.category_id, ARRAY(SELECT jsonb_array_elements_text(e.ids)::uuid)
       FROM jsonb_to_recordset($1::jsonb) AS e(product_id uuid, ids jsonb) JOIN product p ON p.id = e.product_id
       ON CONFLICT (product_id) DO UPDATE SET category_id = excluded.category_id, similar_ids = excluded.similar_ids, computed_at = now()`,
      [JSON.stringify([...entries].map(([productId, ids]) => ({ product_id: productId, ids })))],
    );
  }

  /**
   * Drops the cached similar products of every product whose family (the categories whose lists
   * a product of `categoryIds` can appear in: same category, siblings, the parent's subtree) holds one
   * of these categories: a created, changed or deleted product changes their lists.
   */
  async invalidateSimilar(categoryIds: readonly string[]): Promise<void> {
    const valid = categoryIds.filter(isUuid);
    if (valid.length === 0) return;
    await this.db.query(
      `WITH RECURSIVE roots AS (
          SELECT DISTINCT coalesce(c.parent_id, c.id) AS id FROM category c WHERE c.id = ANY($1::uuid[])
        ), family(id) AS (
          SELECT id FROM roots UNION SELECT k.id FROM category k JOIN family f ON k.parent_id = f.id
        )
       DELETE FROM similar_cache WHERE category_id IN (SELECT id FROM family)`,
      [valid],
    );
  }

  /** Keeps a placed order's lines until it is confirmed (or rejected). Idempotent. */
  async holdOrderLines(orderId: string, userId: string | null, lines: readonly PlacedLine[], placedAt: string): Promise<void> {
    const valid = lines.filter((l) => isUuid(l.productId));
    if (valid.length === 0) return;
    await this.db.query(
      `INSERT INTO order_line_pending (order_id, product_id, user_id, quantity, placed_at)
       SELECT $1, l.product_id, $2, sum(l.quantity), $4::timestamptz FROM jsonb_to_recordset($3::jsonb) AS l(product_id uuid, quantity int)
       GROUP BY l.product_id
       ON CONFLICT (order_id, product_id) DO NOTHING`,
      [orderId, userId, JSON.stringify(valid.map((l) => ({ product_id: l.productId, quantity: l.quantity }))), placedAt],
    );
  }

  /**
   * A confirmed order: every pair of its products counts one more shared order, each product its
   * units sold, the customer their purchases; then its held lines go. Returns the ids of its
   * products (none when the placement was never seen).
   */
  async confirmOrder(orderId: string): Promise<string[]> {
    const lines = (await this.db.query('DELETE FROM order_line_pending WHERE order_id = $1 RETURNING product_id, user_id, quantity, placed_at', [orderId])) as unknown;
    const rows = (Array.isArray(lines) && Array.isArray(lines[0]) ? lines[0] : lines) as Raw[];
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r['product_id'] as string);
    const quantities = rows.map((r) => Number(r['quantity']));
    await this.db.query(
      `INSERT INTO bought_together AS b (product_id, other_id, orders)
       SELECT a.id, o.id, 1 FROM unnest($1::uuid[]) a(id), unnest($1::uuid[]) o(id) WHERE a.id <> o.id
       ON CONFLICT (product_id, other_id) DO UPDATE SET orders = b.orders + 1`,
      [ids],
    );
    await this.db.query('UPDATE product p SET units_sold = p.units_sold + l.q FROM unnest($1::uuid[], $2::int[]) AS l(id, q) WHERE p.id = l.id', [ids, quantities]);
    const userId = rows[0]!['user_id'] as string | null;
    if (userId) {
      await this.db.query(
        `INSERT INTO customer_purchase AS c (user_id, product_id, quantity, last_bought_at)
         SELECT $1, l.id, l.q, $4::timestamptz FROM unnest($2::uuid[], $3::int[]) AS l(id, q)
         ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = c.quantity + excluded.quantity, last_bought_at = greatest(c.last_bought_at, excluded.last_bought_at)`,
        [userId, ids, quantities, rows[0]!['placed_at']],
      );
    }
    return [...new Set(ids)];
  }

  /** A rejected order never counts: its held lines go. */
  async dropOrderLines(orderId: string): Promise<void> {
    await this.db.query('DELETE FROM order_line_pending WHERE order_id = $1', [orderId]);
  }
}

/** How many similar products the cache keeps per product (the largest `similar(first:)`). */
export const SIMILAR_CACHED = 20;
