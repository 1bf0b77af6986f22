/**
 * The SQL behind `products(filter, sort, first, after)` and `Category.products`: one WHERE for
 * every filter, one ORDER BY per sort with the product id as the last key, and keyset pagination
 * (`(keys…, id) < (cursor…)`) that walks the sort's index instead of an OFFSET. Exported on its own
 * so that the benchmark EXPLAINs exactly the SQL the service runs.
 */
import type { CursorPosition, KeyKind } from '../domain/cursor';
import type { ProductFilter, ProductSort } from '../domain/types';
import { buildExactTsQuery } from '../domain/search-query';
import { PRODUCT_COLUMNS } from './mappers';

/** Text-search configuration of the generated `search_vector` column and of the queries. */
export const TS_CONFIG = 'english';
/**
 * ts_rank weights for {D, C, B, A}: a match in the name (A) counts 2.5 times one in the
 * description (B). Relevance adds half the rank of the words as typed (no prefix, no correction),
 * so exact words come before prefix and corrected matches. (A trigram word_similarity boost on the
 * name ranked about as well but cost 4 times as much on a search matching 2,400 of 100,000
 * products; see docs/notes/catalog.md.)
 */
const RANK_WEIGHTS = '{0.1, 0.2, 0.4, 1.0}';

/** A validated products query: the filter, the tsquery text after spelling correction, the sort asked for. */
export interface ProductQuerySpec {
  readonly filter: ProductFilter;
  /** Text for `to_tsquery('english', …)`, null without a search. */
  readonly tsquery: string | null;
  readonly sort: ProductSort;
}

/** A statement and its parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: unknown[];
}

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

interface SortKey {
  /** The ORDER BY expression. */
  readonly expr: (p: Params) => string;
  /** Exact text of the key for the cursor. */
  readonly text: (p: Params) => string;
  /** Turns a cursor value's placeholder back into a comparable value. */
  readonly parse: (placeholder: string) => string;
  readonly kind: KeyKind;
}

interface SortPlan {
  readonly keys: readonly SortKey[];
  readonly direction: 'ASC' | 'DESC';
}

const price: SortKey = { expr: () => 'p.price', text: () => 'p.price::text', parse: (ph) => `${ph}::numeric`, kind: 'decimal' };
// Microseconds since the epoch: exact in a bigint, and exact through interval arithmetic (float8 holds every
// integer below 2^53 µs, i.e. until the year 2255).
const createdAt: SortKey = {
  expr: () => 'p.created_at',
  text: () => '(extract(epoch FROM p.created_at) * 1000000)::bigint::text',
  parse: (ph) => `('epoch'::timestamptz + ${ph}::bigint * interval '1 microsecond')`,
  kind: 'int',
};
const ratingAvg: SortKey = { expr: () => 'p.rating_avg', text: () => 'p.rating_avg::text', parse: (ph) => `${ph}::numeric`, kind: 'decimal' };
const reviewCount: SortKey = { expr: () => 'p.review_count', text: () => 'p.review_count::text', parse: (ph) => `${ph}::int`, kind: 'int' };

function rankExpression(spec: ProductQuerySpec, p: Params): string {
  const query = `to_tsquery('${TS_CONFIG}', ${p.add(spec.tsquery)})`;
  const exact = `to_tsquery('${TS_CONFIG}', ${p.add(buildExactTsQuery(spec.filter.searchWords))})`;
  // Rounded to a numeric so that the cursor carries it exactly (a float4 would not round-trip through text reliably).
  return `round((ts_rank('${RANK_WEIGHTS}', p.search_vector, ${query}) + 0.5 * ts_rank('${RANK_WEIGHTS}', p.search_vector, ${exact}))::numeric, 6)`;
}

/** The rank, computed once per matching row in a subquery (see buildPageQuery). */
const rank: SortKey = { expr: () => 's.rank', text: () => 's.rank::text', parse: (ph) => `${ph}::numeric`, kind: 'decimal' };

/** RELEVANCE without a search is NEWEST (nothing to be relevant to). */
export function effectiveSort(spec: Pick<ProductQuerySpec, 'sort' | 'tsquery'>): ProductSort {
  return spec.sort === 'RELEVANCE' && spec.tsquery === null ? 'NEWEST' : spec.sort;
}

function sortPlan(spec: ProductQuerySpec): SortPlan {
  switch (effectiveSort(spec)) {
    case 'RELEVANCE':
      return { keys: [rank], direction: 'DESC' };
    case 'PRICE_ASC':
      return { keys: [price], direction: 'ASC' };
    case 'PRICE_DESC':
      return { keys: [price], direction: 'DESC' };
    case 'RATING_DESC':
      // Equal averages: more reviews first (4.5 from 40 reviews before 4.5 from 2).
      return { keys: [ratingAvg, reviewCount], direction: 'DESC' };
    case 'NEWEST':
      return { keys: [createdAt], direction: 'DESC' };
  }
}

/** The kinds of a sort's cursor keys (to validate a cursor before it reaches SQL). */
export function sortKeyKinds(spec: ProductQuerySpec): KeyKind[] {
  return sortPlan(spec).keys.map((k) => k.kind);
}

/** The cursor keys of Category.products (always newest first). */
export const CATEGORY_PAGE_KEY_KINDS: readonly KeyKind[] = [createdAt.kind];

/** `(keys…, id) < / > (cursor…)`: the rows strictly after the cursor in the sort order. */
function keysetCondition(plan: SortPlan, after: CursorPosition, p: Params, alias = 'p'): string {
  const left = [...plan.keys.map((k) => k.expr(p)), `${alias}.id`].join(', ');
  const right = [...plan.keys.map((k, i) => k.parse(p.add(after.keys[i]))), `${p.add(after.id)}::uuid`].join(', ');
  return `(${left}) ${plan.direction === 'DESC' ? '<' : '>'} (${right})`;
}

function orderBy(plan: SortPlan, p: Params, alias = 'p'): string {
  return [...plan.keys.map((k) => `${k.expr(p)} ${plan.direction}`), `${alias}.id ${plan.direction}`].join(', ');
}

/** Every filter as SQL conditions on `p` (live products only). */
function filterConditions(spec: ProductQuerySpec, p: Params): string[] {
  const f = spec.filter;
  const where = ['p.deleted_at IS NULL'];
  if (spec.tsquery !== null) where.push(`p.search_vector @@ to_tsquery('${TS_CONFIG}', ${p.add(spec.tsquery)})`);
  if (f.categorySlug !== null) {
    where.push(`p.category_id IN (
      WITH RECURSIVE subtree(id) AS (
        SELECT id FROM category WHERE slug = ${p.add(f.categorySlug)}
        UNION ALL SELECT c.id FROM category c JOIN subtree s ON c.parent_id = s.id
      ) SELECT id FROM subtree)`);
  }
  if (f.minPrice !== null) where.push(`p.price >= ${p.add(f.minPrice)}::numeric`);
  if (f.maxPrice !== null) where.push(`p.price <= ${p.add(f.maxPrice)}::numeric`);
  if (f.minRating !== null) where.push(`p.rating_avg >= ${p.add(String(f.minRating))}::numeric`);
  if (f.inStock !== null) {
    where.push(`${f.inStock ? '' : 'NOT '}EXISTS (SELECT 1 FROM product_availability a WHERE a.product_id = p.id AND a.available > 0)`);
  }
  return where;
}

/** One page (`limit` rows, ask one more than the page to learn hasNextPage) with the cursor keys as k0, k1… */
export function buildPageQuery(spec: ProductQuerySpec, after: CursorPosition | null, limit: number): Statement {
  const p = new Params();
  const plan = sortPlan(spec);
  const where = filterConditions(spec, p);
  if (effectiveSort(spec) === 'RELEVANCE') {
    // Rank every match once (OFFSET 0 keeps Postgres from inlining the rank into the sort and the
    // keyset), keep the page's ids, and only then read their columns: wide rows are read 21 times,
    // not once per match.
    const ranked = `SELECT p.id, ${rankExpression(spec, p)} AS rank FROM product p WHERE ${where.join('\n        AND ')} OFFSET 0`;
    const pageIds = `SELECT s.id, s.rank FROM (${ranked}) s
      ${after ? `WHERE ${keysetCondition(plan, after, p, 's')}` : ''}
      ORDER BY ${orderBy(plan, p, 's')}
      LIMIT ${p.add(limit)}`;
    const sql = `SELECT ${PRODUCT_COLUMNS}, r.rank::text AS k0
    FROM (${pageIds}) r JOIN product p ON p.id = r.id
    ORDER BY r.rank DESC, r.id DESC`;
    return { sql, params: p.values };
  }
  if (after) where.push(keysetCondition(plan, after, p));
  const keys = plan.keys.map((k, i) => `${k.text(p)} AS k${i}`).join(', ');
  const sql = `SELECT ${PRODUCT_COLUMNS}, ${keys}
    FROM product p
    WHERE ${where.join('\n      AND ')}
    ORDER BY ${orderBy(plan, p)}
    LIMIT ${p.add(limit)}`;
  return { sql, params: p.values };
}

/** The number of products matching the filter (for totalCount; run only when a client asks for it). */
export function buildCountQuery(spec: ProductQuerySpec): Statement {
  const p = new Params();
  const sql = `SELECT count(*)::int AS n FROM product p WHERE ${filterConditions(spec, p).join(' AND ')}`;
  return { sql, params: p.values };
}

/** The live products of each category's subtree, newest first, one page per category in one statement. */
export function buildCategoryPagesQuery(rootIds: readonly string[], after: CursorPosition | null, limit: number): Statement {
  const p = new Params();
  const plan: SortPlan = { keys: [createdAt], direction: 'DESC' };
  const roots = p.add(rootIds);
  const keyset = after ? `AND ${keysetCondition(plan, after, p)}` : '';
  const sql = `WITH RECURSIVE tree(root, id) AS (
      SELECT r, r FROM unnest(${roots}::uuid[]) AS r
      UNION ALL SELECT t.root, c.id FROM tree t JOIN category c ON c.parent_id = t.id
    )
    SELECT roots.root AS root_id, x.* FROM unnest(${roots}::uuid[]) AS roots(root)
    CROSS JOIN LATERAL (
      SELECT ${PRODUCT_COLUMNS}, ${createdAt.text(p)} AS k0
      FROM product p
      WHERE p.deleted_at IS NULL AND p.category_id IN (SELECT t.id FROM tree t WHERE t.root = roots.root) ${keyset}
      ORDER BY ${orderBy(plan, p)}
      LIMIT ${p.add(limit)}
    ) x`;
  return { sql, params: p.values };
}

/** The number of live products in each category's subtree. */
export function buildCategoryCountsQuery(rootIds: readonly string[]): Statement {
  const sql = `WITH RECURSIVE tree(root, id) AS (
      SELECT r, r FROM unnest($1::uuid[]) AS r
      UNION ALL SELECT t.root, c.id FROM tree t JOIN category c ON c.parent_id = t.id
    )
    SELECT t.root AS root_id, count(p.id)::int AS n
    FROM tree t LEFT JOIN product p ON p.category_id = t.id AND p.deleted_at IS NULL
    GROUP BY t.root`;
  return { sql, params: [rootIds] };
}

/**
 * Lower bounds of the price ranges of `facets.priceRanges`: a product of price x is in the last
 * range whose bound is ≤ x (the SQL function `facet_bucket`, migration 1700000500000, holds the
 * same list). Ranges without products are left out.
 */
export const PRICE_FACET_BOUNDS: readonly string[] = ['0', '25', '50', '100', '250', '500', '1000', '2500'];
/** The upper bound of the last price range: the largest price the catalog stores (numeric(12, 2)). */
export const MAX_PRICE = '9999999999.99';

/**
 * Sums facet cells `m(category_id, bucket, rating_floor, in_stock, n)` into the facets: per
 * category (the product's own: the counts add up to totalCount) with the category rows, per price
 * range (they add up too), rated at least 1..5 stars, in stock.
 */
function facetsFromCells(cells: string): string {
  return `WITH m AS MATERIALIZED (${cells})
    SELECT
      (SELECT coalesce(sum(n), 0)::int FROM m) AS total,
      (SELECT coalesce(json_agg(json_build_object('n', c.n, 'category', to_jsonb(k)) ORDER BY c.n DESC, c.category_id), '[]')
         FROM (SELECT category_id, sum(n)::int AS n FROM m GROUP BY category_id) c JOIN category k ON k.id = c.category_id) AS categories,
      (SELECT coalesce(json_agg(json_build_object('bucket', b.bucket, 'n', b.n) ORDER BY b.bucket), '[]')
         FROM (SELECT bucket, sum(n)::int AS n FROM m GROUP BY bucket) b) AS prices,
      (SELECT json_build_array(
          coalesce(sum(n) FILTER (WHERE rating_floor >= 1), 0), coalesce(sum(n) FILTER (WHERE rating_floor >= 2), 0),
          coalesce(sum(n) FILTER (WHERE rating_floor >= 3), 0), coalesce(sum(n) FILTER (WHERE rating_floor >= 4), 0),
          coalesce(sum(n) FILTER (WHERE rating_floor >= 5), 0)) FROM m) AS ratings,
      (SELECT coalesce(sum(n) FILTER (WHERE in_stock), 0)::int FROM m) AS in_stock`;
}

/**
 * Whether the trigger-kept `facet_cell` table answers a filter exactly: no search, a minimum
 * price that is a range bound, no maximum price, whole-star minimum ratings (floor(avg) >= r is
 * avg >= r for an integer r). Other filters scan the matching products.
 */
export function facetCellsAnswer(spec: ProductQuerySpec): boolean {
  const f = spec.filter;
  return (
    spec.tsquery === null &&
    f.maxPrice === null &&
    (f.minPrice === null || PRICE_FACET_BOUNDS.some((b) => Number(b) === Number(f.minPrice))) &&
    (f.minRating === null || Number.isInteger(f.minRating))
  );
}

/**
 * Facet counts over the whole filtered result, in one statement: from `facet_cell` when it
 * answers the filter (a few hundred rows whatever the catalogue's size), else from the matching
 * products, grouped once into the same cells.
 */
export function buildFacetsQuery(spec: ProductQuerySpec): Statement {
  const p = new Params();
  const f = spec.filter;
  if (facetCellsAnswer(spec)) {
    const where = ['f.n > 0'];
    if (f.categorySlug !== null) {
      where.push(`f.category_id IN (
        WITH RECURSIVE subtree(id) AS (
          SELECT id FROM category WHERE slug = ${p.add(f.categorySlug)}
          UNION ALL SELECT c.id FROM category c JOIN subtree s ON c.parent_id = s.id
        ) SELECT id FROM subtree)`);
    }
    if (f.minPrice !== null) where.push(`f.bucket >= facet_bucket(${p.add(f.minPrice)}::numeric)`);
    if (f.minRating !== null) where.push(`f.rating_floor >= ${p.add(f.minRating)}::int`);
    if (f.inStock !== null) where.push(`f.in_stock = ${p.add(f.inStock)}::boolean`);
    return { sql: facetsFromCells(`SELECT f.category_id, f.bucket, f.rating_floor, f.in_stock, f.n FROM facet_cell f WHERE ${where.join(' AND ')}`), params: p.values };
  }
  const where = filterConditions(spec, p);
  // The stock of each matching row by its primary key (a scalar subquery): an EXISTS here is
  // planned as a hash of every stock row (85,000 read for 2,445 matches: 235 ms instead of 10).
  const cells = `SELECT p.category_id, facet_bucket(p.price) AS bucket, floor(p.rating_avg)::int AS rating_floor,
      coalesce((SELECT a.available > 0 FROM product_availability a WHERE a.product_id = p.id), false) AS in_stock, count(*)::int AS n
    FROM product p WHERE ${where.join(' AND ')} GROUP BY 1, 2, 3, 4`;
  return { sql: facetsFromCells(cells), params: p.values };
}
